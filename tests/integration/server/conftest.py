"""A real Farm behind the real ASGI app, driven in-process, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from binfarm.farm import Farm
from binfarm.server.app import create_app
from binfarm.settings import ServerSettings, Settings
from binfarm.worker.machine import local_cpu_features
from tests.integration.conftest import Clock


@dataclass
class Served:
    farm: Farm
    http: TestClient
    token: str
    clock: Clock

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    clock = Clock(1_800_000_000.0)
    settings = Settings(data_dir=tmp_path_factory.mktemp("api") / "var",
                        server=ServerSettings(max_package_bytes=4 << 20))
    farm = Farm(settings, clock=clock)
    token = farm.ensure_admin_token().read_text().strip()
    farm.register_example()
    with TestClient(create_app(farm), raise_server_exceptions=False) as http:
        yield Served(farm, http, token, clock)
    farm.close()


def lease(served: Served, worker: str) -> dict | None:
    """Register `worker` (with this machine's CPU) and lease the next build for it."""
    served.http.post("/api/v1/worker/register", headers=served.auth,
                     json={"name": worker, "arch": "x86_64",
                           "cpu_features": sorted(local_cpu_features())})
    response = served.http.post("/api/v1/worker/lease", json={"worker": worker},
                                headers=served.auth)
    return response.json() if response.status_code == 200 else None


def upload(served: Served, build_id: int, worker: str, path: Path,
           filename: str | None = None) -> tuple[int, dict]:
    response = served.http.post(
        f"/api/v1/builds/{build_id}/packages", content=path.read_bytes(), headers=served.auth,
        params={"worker": worker, "filename": filename or path.name},
    )
    return response.status_code, response.json()
