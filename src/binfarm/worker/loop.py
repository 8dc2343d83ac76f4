"""Worker: lease a build, prepare its root, run emerge, ship the log, upload, finish.

The log is sent in chunks while emerge runs, so `binfarm log` and `--wait` follow it
live. A server that cannot be reached is waited for; a build whose lease was lost
(Conflict) is dropped without uploading.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from binfarm.api.client import FarmClient
from binfarm.api.models import BuildOut
from binfarm.errors import BinfarmError, Conflict, Unavailable
from binfarm.gentoo.emerge import build_packages
from binfarm.gentoo.pool import PortageHelper
from binfarm.settings import WorkerSettings
from binfarm.worker.buildroot import BuildRoots

__all__ = ["Worker"]

log = logging.getLogger(__name__)

_CHUNK_BYTES = 512 * 1024


class Worker:
    def __init__(self, settings: WorkerSettings, client: FarmClient, work_dir: Path, *,
                 distdir: Path, helper: PortageHelper, build_timeout_s: float) -> None:
        self.settings = settings
        self.client = client
        self.work_dir = work_dir
        self.build_timeout_s = build_timeout_s
        self.roots = BuildRoots(client, helper, work_dir, distdir)
        (work_dir / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        return self.settings.name

    def run(self, stop: threading.Event) -> None:
        """Lease and run builds until `stop` is set; a running build is then killed."""
        log.info("worker started worker=%s server=%s", self.name, self.client.base_url)
        while not stop.is_set():
            try:
                build = self.client.lease(self.name)
            except Unavailable as exc:
                log.warning("cannot lease worker=%s: %s", self.name, exc)
                stop.wait(self.settings.poll_interval_s * 5)
                continue
            if build is None:
                stop.wait(self.settings.poll_interval_s)
                continue
            self.run_build(build, stop)

    def run_build(self, build: BuildOut, stop: threading.Event) -> None:
        log.info("build leased build_id=%s profile=%s cpv=%s worker=%s", build.id,
                 build.profile, build.cpv, self.name)
        log_path = self.work_dir / "logs" / f"{build.id}.log"
        shipper = _LogShipper(self.client, build.id, self.name, log_path,
                              self.settings.log_flush_s)
        try:
            ok, error = self._build(build, log_path, shipper, stop)
        except Conflict as exc:
            log.warning("lease lost build_id=%s: %s", build.id, exc)
            return
        except BinfarmError as exc:
            ok, error = False, str(exc)
        finally:
            shipper.stop()
        if stop.is_set() and not ok:
            return  # shutting down: the server puts the build back when it restarts
        try:
            self.client.finish(build.id, self.name, ok=ok, error=error)
        except BinfarmError as exc:
            log.warning("cannot finish build_id=%s: %s", build.id, exc)

    def _build(self, build: BuildOut, log_path: Path, shipper: _LogShipper,
               stop: threading.Event) -> tuple[bool, str | None]:
        with open(log_path, "wb") as log_file:
            log_file.write(f">>> binfarm: build {build.id} of {build.cpv} for profile "
                           f"{build.profile} on worker {self.name}\n".encode())
            log_file.flush()
            shipper.start()
            try:
                node = self.roots.prepare(build.profile)
            except BinfarmError as exc:
                log_file.write(f"!!! binfarm: {exc}\n".encode())
                raise
            result = build_packages(node, [f"={build.cpv}"], log_file,
                                    timeout_s=self.build_timeout_s, cancel=stop)
        if result.timed_out:
            return False, f"emerge took longer than {self.build_timeout_s:.0f} s"
        if not result.ok:
            return False, f"emerge exited with status {result.returncode}"
        for package in result.packages:
            self.client.upload_package(build.id, self.name, package)
        return True, None


class _LogShipper:
    """Sends what was appended to a log file, every `interval_s` and once more at stop."""

    def __init__(self, client: FarmClient, build_id: int, worker: str, path: Path,
                 interval_s: float) -> None:
        self.client, self.build_id, self.worker = client, build_id, worker
        self.path, self.interval_s = path, interval_s
        self.offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"log-{build_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._send()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._send()

    def _send(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                while chunk := handle.read(_CHUNK_BYTES):
                    self.client.append_log(self.build_id, self.worker, chunk)
                    self.offset += len(chunk)
        except (OSError, BinfarmError) as exc:
            log.warning("log not sent build_id=%s: %s", self.build_id, exc)
