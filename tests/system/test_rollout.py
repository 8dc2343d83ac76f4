"""Channels with stock emerge: a canary host installs a new instance from testing while a
stable host keeps the old one; promoted, the stable host upgrades; rolled back, it goes
back; a withdrawn instance leaves testing at once. Two instances of one package version and
USE come from one rebuild with other LDFLAGS (a new key, the same variant)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import ClientPrefix, FarmProcess, WebhookReceiver, wait_until

CPV = "app-misc/fastcalc-1.0"
PROFILE = "host-web1"


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[FarmProcess]:
    # Webhooks to loopback allowed: a withdrawal's notice goes to a receiver of the test.
    served = FarmProcess(tmp_path / "var", "--example",
                         env={"BINFARM_QUEUE__WEBHOOK_ALLOW": '["127.0.0.0/8"]'})
    yield served
    served.stop()


def _build(farm: FarmProcess, *env: str) -> None:
    done = farm.cli("request", "app-misc/fastcalc", "--profile", PROFILE, "--wait", *env)
    assert done.returncode == 0, done.stdout + done.stderr


def _md5s(farm: FarmProcess, channel: str) -> list[str]:
    """The MD5 of each fastcalc instance the channel's index lists."""
    suffix = "" if channel == "stable" else f"/{channel}"
    text = httpx.get(f"{farm.url}/binhost/{PROFILE}{suffix}/Packages", headers=farm.auth).text
    return [block.split("MD5: ", 1)[1].split("\n", 1)[0] for block in text.split("\n\n")
            if f"CPV: {CPV}\n" in block]


def _installed_md5(host: ClientPrefix) -> str:
    return (host.root / "var/db/pkg" / CPV / "BINPKGMD5").read_text().strip()


def _update(host: ClientPrefix) -> None:
    done = host.emerge("--getbinpkgonly", "-uDN", "@world")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _host(tmp_path: Path, farm: FarmProcess, name: str, *extra: str) -> ClientPrefix:
    """A laptop-like machine registered by the admin: the first gets a profile of its own
    (host-web1: its configuration is not quite the laptop's), the next ones, configured
    alike, join it. They share one profile, and its channels."""
    host = ClientPrefix(tmp_path / name, "laptop", "http://127.0.0.1:9/not-registered-yet")
    host.set_world("app-misc/fastcalc")
    done = host.binfarm("client", "register", "--server", farm.url, "--token", farm.token,
                        "--name", name, "--profile", "laptop", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "as profile host-web1" in done.stdout, done.stdout
    return host


def test_testing_then_stable_then_rollback_with_stock_emerge(
    farm: FarmProcess, tmp_path: Path,
) -> None:
    canary = _host(tmp_path, farm, "web1", "--channel", "testing")
    assert f"/binhost/{PROFILE}/testing" in (canary.root / "etc/portage/binrepos.conf").read_text()
    stable = _host(tmp_path, farm, "web2")
    ruled = farm.cli("profile", "rollout", PROFILE, "--soak", "1d")
    assert ruled.returncode == 0 and "promoted after 1d in testing" in ruled.stdout

    _build(farm)
    [old] = _md5s(farm, "testing")
    assert _md5s(farm, "stable") == []  # soaking: stable does not list it yet
    promoted = farm.cli("promote", PROFILE, "app-misc/fastcalc")
    assert promoted.returncode == 0 and "promoted app-misc/fastcalc-1.0" in promoted.stdout
    assert _md5s(farm, "stable") == [old]
    _update(stable)
    assert _installed_md5(stable) == old

    _build(farm, "--env", "LDFLAGS=-Wl,-O1")
    [new] = _md5s(farm, "testing")
    assert new != old and _md5s(farm, "stable") == [old]
    _update(canary)
    assert _installed_md5(canary) == new
    _update(stable)
    assert _installed_md5(stable) == old  # the fleet never saw the untested one

    assert farm.cli("promote", PROFILE, "app-misc/fastcalc").returncode == 0
    assert _md5s(farm, "stable") == [new]
    _update(stable)
    assert _installed_md5(stable) == new

    rolled = farm.cli("rollback", PROFILE, "app-misc/fastcalc")
    assert rolled.returncode == 0, rolled.stderr
    assert _md5s(farm, "stable") == [old] and _md5s(farm, "testing") == [old]
    _update(stable)
    assert _installed_md5(stable) == old  # stock emerge went back (--rebuilt-binaries)

    again = farm.cli("rollback", PROFILE, "app-misc/fastcalc")
    assert again.returncode == 1 and "nothing to roll back to" in again.stderr
    history = farm.cli("history", PROFILE, "app-misc/fastcalc")
    assert history.returncode == 0
    actions = [line.split("│")[2].strip() for line in history.stdout.splitlines()
               if "│" in line and CPV in line]
    assert actions == ["promote", "promote", "rollback"], history.stdout


def test_a_host_moved_to_testing_follows_and_a_withdrawn_instance_leaves_testing(
    farm: FarmProcess, tmp_path: Path,
) -> None:
    host = _host(tmp_path, farm, "web1")
    assert farm.cli("profile", "rollout", PROFILE, "--soak", "1d").returncode == 0
    _build(farm)
    [instance] = _md5s(farm, "testing")
    moved = farm.cli("host", "channel", "web1", "testing")
    assert moved.returncode == 0, moved.stderr
    assert f"installs from {PROFILE}'s testing channel" in moved.stdout
    updated = host.binfarm("client", "update", "--binary-only")
    assert updated.returncode == 0, updated.stdout[-3000:] + updated.stderr[-3000:]
    assert f"/binhost/{PROFILE}/testing" in (host.root / "etc/portage/binrepos.conf").read_text()
    assert _installed_md5(host) == instance

    withdrawn = farm.cli("withdraw", PROFILE, "app-misc/fastcalc", "--reason", "segfaults")
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert _md5s(farm, "testing") == [] and _md5s(farm, "stable") == []
    refused = farm.cli("promote", PROFILE, "app-misc/fastcalc")
    assert refused.returncode == 1 and "lists nothing matching" in refused.stderr
    history = farm.cli("history", PROFILE)
    assert "withdraw" in history.stdout and "segfaults" in history.stdout
    # Asked for again, it is neither "already built" nor built again to the same bytes.
    again = farm.cli("request", "app-misc/fastcalc", "--profile", PROFILE, "--wait")
    assert again.returncode == 1, again.stdout + again.stderr
    said = " ".join(again.stderr.split())
    assert "withdrawn from host-web1's channels by admin: segfaults" in said
    assert "change its USE or flags" in said


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_passing_canary_promotes_and_a_failing_check_withdraws(
    farm: FarmProcess, tmp_path: Path,
) -> None:
    canary = _host(tmp_path, farm, "web1", "--channel", "testing")
    stable = _host(tmp_path, farm, "web2")
    ruled = farm.cli("profile", "rollout", PROFILE, "--canaries", "1")
    assert ruled.returncode == 0 and "once 1 testing host passed" in ruled.stdout
    _build(farm)
    [first] = _md5s(farm, "testing")
    assert _md5s(farm, "stable") == []
    good = _script(tmp_path / "good.sh", 'echo "fastcalc answers: $*"')
    checked = canary.binfarm("client", "update", "--binary-only", "--check", str(good))
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert "health check passed" in checked.stdout
    assert _md5s(farm, "stable") == [first]  # the canary's pass promoted it
    _update(stable)
    assert _installed_md5(stable) == first
    reported = stable.binfarm("client", "report", CPV, "--good")
    assert reported.returncode == 0 and f"reported {CPV}" in reported.stdout

    receiver = WebhookReceiver()
    try:
        _build(farm, "--env", "LDFLAGS=-Wl,-O1", "--webhook", receiver.url,
               "--requester", "ci-bot")
        [second] = _md5s(farm, "testing")
        _check_fails_and_withdraws(farm, canary, stable, tmp_path, first, second)
        withdrawn = wait_until(
            lambda: [n for n in receiver.notices if n.get("event") == "withdrawn"], 30,
            "the requester told of the withdrawal")
    finally:
        receiver.close()
    [notice] = withdrawn
    assert (notice["requester"], notice["cpv"], notice["by"]) == ("ci-bot", CPV, "host web1")
    assert "health check failed on web1" in notice["reason"]


def _check_fails_and_withdraws(farm: FarmProcess, canary: ClientPrefix, stable: ClientPrefix,
                               tmp_path: Path, first: str, second: str) -> None:
    bad = _script(tmp_path / "bad.sh", 'echo "fastcalc: 2+2=5"; exit 1')
    failed = canary.binfarm("client", "update", "--binary-only", "--check", str(bad))
    assert "health check failed" in failed.stdout, failed.stdout + failed.stderr
    assert _installed_md5(canary) == second
    assert _md5s(farm, "testing") == [first] and _md5s(farm, "stable") == [first]
    _update(stable)
    assert _installed_md5(stable) == first  # stable never saw the failing one
    history = farm.cli("history", PROFILE, "app-misc/fastcalc")
    assert "health check failed on web1: fastcalc: 2+2=5" in " ".join(history.stdout.split())
