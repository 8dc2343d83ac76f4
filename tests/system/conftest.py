"""One example farm for the system tests, dumped when a test using it fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import FarmProcess, WorkerProcess


@pytest.fixture(scope="session")
def example_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    # A deep data dir: client prefixes must not be longer than build prefixes (relocation).
    data_dir = tmp_path_factory.mktemp("farm") / "a-deep-data-directory" / "var"
    farm = FarmProcess(data_dir, "--example")
    yield farm
    farm.stop()


class Fleet:
    """Farms and workers a test started; stopped at its end, their logs shown on failure."""

    def __init__(self) -> None:
        self.farms: list[FarmProcess] = []
        self.workers: list[WorkerProcess] = []

    def farm(self, data_dir: Path, *args: str, **kwargs: Any) -> FarmProcess:
        farm = FarmProcess(data_dir, *args, **kwargs)
        self.farms.append(farm)
        return farm

    def worker(self, *args: Any, **kwargs: Any) -> WorkerProcess:
        worker = WorkerProcess(*args, **kwargs)
        self.workers.append(worker)
        return worker

    def dump(self) -> str:
        logs = [w.log_path for w in self.workers] + [f.log_path for f in self.farms]
        return "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in logs
                         if log.exists())


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    fleet = Fleet()
    yield fleet
    for worker in fleet.workers:
        worker.stop()
    for farm in fleet.farms:
        if farm.proc.poll() is None:
            farm.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not (report.failed and call.when == "call"):
        return
    funcargs = getattr(item, "funcargs", {})
    if (farm := funcargs.get("example_farm")) is not None:
        report.sections.append(("binfarm", farm.dump()))
    if (fleet := funcargs.get("fleet")) is not None:
        report.sections.append(("binfarm fleet", fleet.dump()))
