"""Deliver build notices to requesters' webhooks: at least once, even across restarts.

Notices wait in the database (queue/service.py puts them there when a build ends); this
loop POSTs each due one as JSON and marks it delivered on a 2xx answer, or schedules the
next attempt with a growing backoff. A notice interrupted by a restart is sent again.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

import httpx

from binfarm.farm import Farm

__all__ = ["NoticeDispatcher"]

log = logging.getLogger(__name__)

_TICK_S = 0.5


class NoticeDispatcher:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self._http = httpx.Client(timeout=farm.settings.queue.notice_timeout_s,
                                  follow_redirects=False)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(_TICK_S):
            try:
                self.deliver_due()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("notice delivery round failed")
        self._http.close()

    def deliver_due(self) -> int:
        """POST every due notice once; return how many were acknowledged."""
        delivered = 0
        for notice in self.farm.queue.due_notices():
            try:
                response = self._http.post(notice.url, json=notice.payload)
                ok, error = response.is_success, f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            if ok:
                self.farm.queue.notice_delivered(notice.id)
                delivered += 1
            else:
                self.farm.queue.notice_failed(notice.id, notice.attempts, error)
                log.warning("notice not delivered notice=%s url=%s: %s", notice.id,
                            redact_url(notice.url), error.replace(notice.url, "URL"))
        return delivered


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
