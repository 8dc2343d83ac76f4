"""Worker: register, lease builds, run them with emerge, report back; one thread per slot.

While emerge runs, a heartbeat keeps the lease and the log is sent in chunks. A lease the
server says is gone (lost or cancelled) stops emerge at once. When the server cannot be
reached, uploads and the outcome are retried with backoff for up to `outage_s`, so a
server restart loses no finished work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from binfarm.api.client import FarmClient
from binfarm.api.models import BuildOut
from binfarm.distcc.probe import local_compiler
from binfarm.errors import BinfarmError, Conflict, Unavailable
from binfarm.gentoo.emerge import build_packages, failure_of
from binfarm.keys.cpv import cp_of
from binfarm.settings import WorkerSettings
from binfarm.worker.buildroot import BinhostCredentials, BuildRoots
from binfarm.worker.distcc import DistccBuild, start_distcc
from binfarm.worker.machine import can_enter_roots, local_arch, local_cpu_features

__all__ = ["Worker"]

log = logging.getLogger(__name__)

_CHUNK_BYTES = 512 * 1024
_RETRY_MAX_S = 30.0
_DISTCC_REPORT_S = 1.0  # how fresh `binfarm distcc top` is
T = TypeVar("T")


class Worker:
    def __init__(self, settings: WorkerSettings, client: FarmClient, work_dir: Path, *,
                 distdir: Path, build_timeout_s: float, ca_file: Path | None = None) -> None:
        """`ca_file`: the CA an https farm is checked against, by Portage in build roots."""
        self.settings = settings
        self.client = client
        self.work_dir = work_dir
        self.distdir = distdir
        self.build_timeout_s = build_timeout_s
        self.ca_file = ca_file
        # The running builds that compile on distcc hosts: their heartbeats say what.
        self._distcc: dict[int, DistccBuild] = {}

    @property
    def name(self) -> str:
        return self.settings.name

    def run(self, stop: threading.Event) -> None:
        """Register, then run `slots` builds at a time until `stop` is set."""
        chroot = can_enter_roots()
        self._persist(lambda: self.client.register_worker(
            self.name, local_arch(), sorted(local_cpu_features()), self.settings.slots,
            chroot=chroot, compiler=local_compiler()), stop)
        log.info("worker started worker=%s slots=%s chroot=%s server=%s", self.name,
                 self.settings.slots, chroot, self.client.base_url)
        credentials = BinhostCredentials(self.client, self.name)
        slots = [threading.Thread(target=self._slot, args=(i, credentials, stop),
                                  name=f"{self.name}-{i}")
                 for i in range(self.settings.slots)]
        for thread in slots:
            thread.start()
        for thread in slots:
            thread.join()

    def _slot(self, index: int, credentials: BinhostCredentials,
              stop: threading.Event) -> None:
        work_dir = self.work_dir / f"slot-{index}" if self.settings.slots > 1 else self.work_dir
        (work_dir / "logs").mkdir(parents=True, exist_ok=True)
        roots = BuildRoots(self.client, work_dir, self.distdir, worker=self.name,
                           chroots=self.work_dir / "chroots", timeout_s=self.build_timeout_s,
                           credentials=credentials, ca_file=self.ca_file)
        while not stop.is_set():
            try:
                build = self.client.lease(self.name, wait_s=self.settings.lease_wait_s)
            except BinfarmError as exc:
                log.warning("cannot lease worker=%s: %s", self.name, exc)
                stop.wait(self.settings.poll_interval_s * 5)
                continue
            if build is not None:
                self.run_build(build, roots, work_dir, stop)

    def run_build(self, build: BuildOut, roots: BuildRoots, work_dir: Path,
                  stop: threading.Event) -> None:
        log.info("build leased build_id=%s profile=%s cpv=%s worker=%s", build.id,
                 build.profile, build.cpv, self.name)
        log_path = work_dir / "logs" / f"{build.id}.log"
        lost = threading.Event()
        shipper = _LogShipper(self.client, build.id, self.name, log_path,
                              self.settings.log_flush_s)
        beat = threading.Thread(target=self._heartbeat, args=(build.id, lost, stop),
                                name=f"heartbeat-{build.id}", daemon=True)
        beat.start()
        timings: dict[str, float] = {}
        try:
            ok, error = self._build(build, roots, log_path, shipper, lost, stop, timings)
        except Conflict as exc:
            log.warning("lease lost build_id=%s: %s", build.id, exc)
            return
        except BinfarmError as exc:
            ok, error = False, str(exc)
        finally:
            lost.set()
            beat.join()
            shipper.stop()
        if stop.is_set() and not ok:
            return  # shutting down: the lease lapses and the build is retried
        try:
            self._persist(lambda: self.client.finish(build.id, self.name, ok=ok, error=error,
                                                     timings=timings), stop)
        except BinfarmError as exc:
            log.warning("cannot finish build_id=%s: %s", build.id, exc)

    def _build(self, build: BuildOut, roots: BuildRoots, log_path: Path,
               shipper: _LogShipper, lost: threading.Event, stop: threading.Event,
               timings: dict[str, float]) -> tuple[bool, str | None]:
        """Run the build; `timings` gets where its time went on this side (prepare, the
        emerge phases, upload)."""
        cancel = lambda: lost.is_set() or stop.is_set()  # noqa: E731
        with open(log_path, "wb") as log_file:
            log_file.write(f">>> binfarm: build {build.id} of {build.cpv} for profile "
                           f"{build.profile} on worker {self.name}\n".encode())
            log_file.flush()
            shipper.start()
            if build.repositories:
                pins = ", ".join(f"{n} at {loc}" for n, loc in build.repositories.items())
                log_file.write(f">>> binfarm: repositories pinned by the plan: {pins}\n"
                               .encode())
            try:
                started = time.monotonic()
                with roots.prepare(build.profile, log_file, pinned=build.repositories,
                                   cancel=cancel) as target:
                    timings["prepare"] = round(time.monotonic() - started, 3)
                    env = dict(build.env)
                    distcc = None
                    if self.settings.distcc:
                        distcc = start_distcc(self.client, self.name, build.id, target,
                                              roots.chosts[build.profile], log_file,
                                              want=self.settings.distcc_slots)
                    if distcc is not None:
                        target = distcc.target
                        features = f"{env.get('FEATURES', '')} {distcc.env['FEATURES']}"
                        env.update(distcc.env, FEATURES=features.strip())
                        self._distcc[build.id] = distcc
                    try:
                        # A test run (USE=test, FEATURES=test) packages nothing.
                        result = build_packages(target, [f"={build.cpv}"], log_file, env=env,
                                                timeout_s=self.build_timeout_s, cancel=cancel,
                                                binary_deps_except=[cp_of(build.cpv)],
                                                packages=build.tests_instance is None)
                    finally:
                        if distcc is not None:
                            self._distcc.pop(build.id, None)
                            distcc.finish(log_file)
                    timings.update(result.timings)
                    if result.ok and not lost.is_set():
                        started = time.monotonic()
                        # Inside the `with`: a chroot build's PKGDIR goes when it ends.
                        for package in result.packages:
                            self._persist(lambda p=package: self.client.upload_package(
                                build.id, self.name, p), stop)
                        timings["upload"] = round(time.monotonic() - started, 3)
            except BinfarmError as exc:
                log_file.write(f"!!! binfarm: {exc}\n".encode())
                raise
        if lost.is_set():
            raise Conflict(f"build {build.id} was taken back while it ran")
        if result.timed_out:
            return False, f"emerge took longer than {self.build_timeout_s:.0f} s"
        if not result.ok:
            died = failure_of(log_path)
            return False, f"emerge exited with status {result.returncode}" + \
                (f": {died}" if died else "")
        return True, None

    def _heartbeat(self, build_id: int, lost: threading.Event, stop: threading.Event) -> None:
        last = time.monotonic()
        # A build on distcc slots reports what it compiles more often than it must beat.
        while not lost.wait(min(self.settings.heartbeat_s, _DISTCC_REPORT_S)):
            if stop.is_set():
                return
            distcc = self._distcc.get(build_id)
            if distcc is None and time.monotonic() - last < self.settings.heartbeat_s:
                continue
            last = time.monotonic()
            try:
                self.client.heartbeat(build_id, self.name,
                                      distcc.tasks() if distcc is not None else None)
            except Conflict:
                log.warning("build taken back build_id=%s: stopping emerge", build_id)
                lost.set()
            except BinfarmError as exc:
                log.warning("heartbeat failed build_id=%s: %s", build_id, exc)

    def _persist(self, call: Callable[[], T], stop: threading.Event) -> T:
        """`call`, retried while the server cannot be reached, for up to `outage_s`."""
        deadline = time.monotonic() + self.settings.outage_s
        delay = 1.0
        while True:
            try:
                return call()
            except Unavailable:
                if time.monotonic() > deadline or stop.is_set():
                    raise
                stop.wait(delay)
                delay = min(delay * 2, _RETRY_MAX_S)


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

