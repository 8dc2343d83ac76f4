"""Webhooks (F9): only to allowed destinations, within a deadline however slow the
receiver, a bounded number of attempts, and one slow receiver delays no other notice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from binfarm.db.tables import notices
from binfarm.errors import InvalidInput
from binfarm.farm import Farm
from binfarm.queue.service import Requester
from binfarm.server.webhooks import NoticeDispatcher
from binfarm.settings import QueueSettings, Settings
from tests.builders import WebhookReceiver


def _farm(tmp_path: Path, **queue: object) -> Farm:
    farm = Farm(Settings(data_dir=tmp_path / "var", queue=QueueSettings(**queue)))
    farm.register_example()
    return farm


def _ended_build_notice(farm: Farm, url: str, key: str) -> int:
    """A build asked for with webhook `url`, cancelled: its notice is due at once."""
    build = farm.queue.request(profile="laptop", atom="app-misc/hello", cpv="app-misc/hello-1.0",
                               key=key, required_isa=frozenset(), env={}, priority=0,
                               requester=Requester("tester", None, url))
    farm.queue.cancel(build.id)
    return build.id


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:5432/x", "http://[::1]:80/x", "http://169.254.169.254/latest/meta-data",
    "http://10.1.2.3/x", "http://localhost/x", "http://[::ffff:127.0.0.1]/x",
])
def test_a_webhook_to_an_inside_address_is_refused_unless_allowed(tmp_path: Path,
                                                                   url: str) -> None:
    farm = _farm(tmp_path)
    with pytest.raises(InvalidInput, match="does not post to"):
        farm.destinations.check_url(url)
    assert _farm(tmp_path / "allowing", webhook_allow=["127.0.0.0/8", "::1/128", "10.0.0.0/8",
                                                       "169.254.0.0/16"]) \
        .destinations.check_url(url) == url


@pytest.mark.parametrize("url", ["http://[", "ftp://example.org/x", "http:///x"])
def test_a_webhook_that_is_no_http_url_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidInput, match="not"):
        _farm(tmp_path).destinations.check_url(url)


@pytest.fixture
def drip() -> Iterator[str]:
    """A receiver that accepts and then answers one byte every half second, forever."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=_drip, args=(conn, stop), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/slow"
    stop.set()
    server.close()


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            if stop.wait(0.5):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return


def test_a_slow_receiver_meets_the_deadline_and_delays_no_other(tmp_path: Path,
                                                                drip: str) -> None:
    farm = _farm(tmp_path, webhook_allow=["127.0.0.0/8"], notice_deadline_s=2.0,
                 notice_timeout_s=5.0)
    receiver = WebhookReceiver()
    try:
        _ended_build_notice(farm, drip, "k-slow")
        fast = _ended_build_notice(farm, receiver.url, "k-fast")
        dispatcher = NoticeDispatcher(farm)
        started = time.monotonic()
        delivered = dispatcher.deliver_due(wait=True)
        took = time.monotonic() - started
        assert delivered == 1 and [n["build"] for n in receiver.notices] == [fast]
        assert took < 4.5, took  # the deadline (2 s) ended the drip, not its 10,000 bytes
        with farm.engine.connect() as conn:
            rows = {r.url: r for r in conn.execute(notices.select())}
        assert "deadline" in rows[drip].last_error and rows[drip].attempts == 1
    finally:
        receiver.close()


def test_a_notice_is_given_up_after_its_attempts_and_rebinding_gains_nothing(
        tmp_path: Path) -> None:
    farm = _farm(tmp_path, notice_max_attempts=2, notice_retry_max_s=0.01)
    receiver = WebhookReceiver()
    try:
        # Allowed when asked for (say a name then resolved elsewhere); delivered to a
        # loopback socket the farm does not allow: refused on connect, nothing sent.
        _ended_build_notice(farm, receiver.url, "k-rebind")
        dispatcher = NoticeDispatcher(farm)
        for _ in range(4):
            dispatcher.deliver_due(wait=True)
            time.sleep(0.05)
        assert receiver.notices == []
        with farm.engine.connect() as conn:
            [row] = conn.execute(notices.select()).all()
        assert row.attempts == 2 and row.given_up_at is not None
        assert "does not post to" in row.last_error
    finally:
        receiver.close()
