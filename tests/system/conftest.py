"""One example farm for the system tests, dumped when a test using it fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.builders import FarmProcess


@pytest.fixture(scope="session")
def example_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmProcess]:
    # A deep data dir: client prefixes must not be longer than build prefixes (relocation).
    data_dir = tmp_path_factory.mktemp("farm") / "a-deep-data-directory" / "var"
    farm = FarmProcess(data_dir, "--example")
    yield farm
    farm.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    farm = getattr(item, "funcargs", {}).get("example_farm")
    if report.failed and call.when == "call" and farm is not None:
        report.sections.append(("binfarm", farm.dump()))
