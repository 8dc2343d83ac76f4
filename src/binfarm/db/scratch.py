"""Throwaway databases for tests and benchmarks: a SQLite file, or a fresh PostgreSQL one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import psycopg

__all__ = ["PG_ADMIN_URL", "scratch_database"]

PG_ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(kind: str, directory: Path,
                     admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """The URL of an empty database of `kind` ("sqlite" in `directory`, or "postgresql",
    created through `admin_url` and dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'scratch-{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    name = f"binfarm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{admin_url.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
