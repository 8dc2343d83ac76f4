"""The CLI says why a build waits: at once when it is requested, in `binfarm builds`, and
while `--wait` waits (here: a farm whose only worker is not running yet)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.builders import FarmProcess, process_env


def test_request_builds_and_wait_say_that_no_worker_can_take_the_build(tmp_path: Path) -> None:
    farm = FarmProcess(tmp_path / "var", "--example", "--workers", "0")
    try:
        asked = farm.cli("request", "hello", "--profile", "laptop")
        assert asked.returncode == 0, asked.stderr
        assert "warning: build 1 will wait until a worker that can run it registers: no " \
            "worker is registered" in " ".join(asked.stdout.split())
        assert "no worker is registered" in farm.cli("builds").stdout
        try:
            subprocess.run([sys.executable, "-m", "binfarm", "--server", farm.url,
                            "--data-dir", str(farm.data_dir), "request", "hello", "--profile",
                            "laptop", "--wait"], capture_output=True, text=True,
                           env=process_env(), timeout=8)
        except subprocess.TimeoutExpired as waited:
            out = waited.stdout.decode() if isinstance(waited.stdout, bytes) else waited.stdout
            assert "build 1 waits: no worker is registered" in (out or "")
        else:
            raise AssertionError("--wait returned with no worker to build")
    finally:
        farm.stop()
