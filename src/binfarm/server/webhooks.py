"""Deliver build notices to requesters' webhooks: at least once, even across restarts.

Notices wait in the database (queue/service.py puts them there when a build ends); this
loop POSTs each due one as JSON and marks it delivered on a 2xx answer, or schedules the
next attempt with a growing backoff, up to a number of attempts. A notice interrupted by
a restart is sent again. Who may set a webhook: the admin, and a client token for its
own profile's requests; either way only to destinations the farm allows.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from binfarm.farm import Farm

__all__ = ["NoticeDispatcher"]

log = logging.getLogger(__name__)

_TICK_S = 0.5
_IN_FLIGHT = 8  # deliveries at once: a slow receiver holds one of them, never the loop


class NoticeDispatcher:
    """Delivers due notices, each in a thread of its own (at most `_IN_FLIGHT`), each
    within `notice_deadline_s` however slowly its receiver answers, only to addresses
    `Destinations` allows (checked on the socket actually connected), at most
    `notice_max_attempts` times."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        settings = farm.settings.queue
        self.destinations = farm.destinations
        # No kept-alive connections: every delivery connects, so every peer is checked.
        self._http = httpx.Client(timeout=settings.notice_timeout_s, follow_redirects=False,
                                  limits=httpx.Limits(max_keepalive_connections=0))
        self._pool = ThreadPoolExecutor(_IN_FLIGHT, thread_name_prefix="notice")
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(_TICK_S):
            try:
                self.deliver_due()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("notice delivery round failed")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def deliver_due(self, *, wait: bool = False) -> int:
        """Start a delivery of every due notice not already under way; with `wait`, wait
        for them and return how many were acknowledged."""
        started = []
        for notice in self.farm.queue.due_notices():
            with self._lock:
                if notice.id in self._in_flight or len(self._in_flight) >= _IN_FLIGHT:
                    continue
                self._in_flight.add(notice.id)
            started.append(self._pool.submit(self._deliver, notice))
        return sum(f.result() for f in started) if wait else 0

    def _deliver(self, notice: Any) -> bool:
        try:
            ok, error = self._post(notice.url, notice.payload)
            if ok:
                self.farm.queue.notice_delivered(notice.id)
                return True
            again = self.farm.queue.notice_failed(notice.id, notice.attempts, error)
            log.warning("notice not delivered notice=%s url=%s attempt=%s%s: %s", notice.id,
                        redact_url(notice.url), notice.attempts + 1,
                        "" if again else " (given up)", error.replace(notice.url, "URL"))
            return False
        finally:
            with self._lock:
                self._in_flight.discard(notice.id)

    def _post(self, url: str, payload: Any) -> tuple[bool, str]:
        sockets: list[socket.socket] = []

        def trace(event: str, info: dict[str, Any]) -> None:
            if event != "connection.connect_tcp.complete" or info.get("return_value") is None:
                return
            sock = info["return_value"].get_extra_info("socket")
            sockets.append(sock)
            peer = sock.getpeername()[0]
            if not self.destinations.address_ok(peer):
                raise _Refused(f"the webhook's host is {peer}, which this farm does not "
                               "post to (BINFARM_QUEUE__WEBHOOK_ALLOW)")

        def cut() -> None:  # the deadline: end a receiver that answers byte by byte
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self.farm.settings.queue.notice_deadline_s, cut)
        timer.start()
        try:
            response = self._http.post(url, json=payload, extensions={"trace": trace})
            return response.is_success, f"HTTP {response.status_code}"
        except _Refused as exc:
            return False, str(exc)
        except httpx.HTTPError as exc:
            late = "past the delivery deadline: " if not timer.is_alive() else ""
            return False, f"{late}{type(exc).__name__}: {exc}"
        finally:
            timer.cancel()


class _Refused(Exception):
    pass


def redact_url(url: str) -> str:
    """A webhook URL fit for a log: its credentials and query (API keys) left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:  # a port out of range: the URL never left, leave it out too
        port = None
    if port:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
