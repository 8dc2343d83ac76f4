"""A canary's health check: after an update, run the admin's script with the packages it
installed as arguments (as cq's completion script was run), and report its verdict to the
farm per instance, known by the MD5 of the file Portage installed."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from binfarm.errors import InvalidInput

__all__ = ["CheckResult", "newly_installed", "run_check"]

_CHECK_TIMEOUT_S = 3600.0
_OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    output: str

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed"


def newly_installed(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """The binaries an update installed: new packages, and the same ones from new files."""
    return {cpv: md5 for cpv, md5 in after.items() if before.get(cpv) != md5}


def run_check(script: Path, cpvs: list[str]) -> CheckResult:
    """`SCRIPT CPV...`: exit status 0 is a pass; the tail of its output is the evidence."""
    try:
        done = subprocess.run([str(script), *cpvs], capture_output=True, text=True,
                              timeout=_CHECK_TIMEOUT_S, check=False)
    except OSError as exc:
        raise InvalidInput(f"cannot run the health check {script}: {exc.strerror}") from exc
    except subprocess.TimeoutExpired:
        return CheckResult(False, f"{script} did not finish in {_CHECK_TIMEOUT_S:.0f} s")
    output = (done.stdout + done.stderr)[-_OUTPUT_TAIL:]
    return CheckResult(done.returncode == 0,
                       output or f"{script} exited with status {done.returncode}")
