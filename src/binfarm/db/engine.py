"""Open the database (SQLite in the data dir, or PostgreSQL) and bring its schema up to date.

SQLite gets WAL, a busy timeout and enforced foreign keys, so that the server's threads
and a CLI reading the same file do not trip over each other.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from binfarm.errors import Unavailable

__all__ = ["open_engine"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def open_engine(url: str) -> Engine:
    """An engine for `url` with the schema migrated to the newest revision."""
    try:
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        upgrade(engine)
        if engine.dialect.name == "sqlite" and engine.url.database:
            with contextlib.suppress(OSError):  # webhook URLs and env live there: owner only
                os.chmod(engine.url.database, 0o600)
    except SQLAlchemyError as exc:
        raise Unavailable(f"cannot open the database {_redact(url)}: {exc}") from exc
    return engine


def upgrade(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
