"""The promotion rule on SQLite and PostgreSQL: soak time and canaries, evaluated when a
channel is read, each promotion an event; a failed check withdraws."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine

from binfarm.rollout.channels import Action, Channel
from binfarm.rollout.service import Rollout, Rule, Verdict
from binfarm.rollout.views import ChannelViews
from binfarm.store.blobs import BlobStore
from binfarm.store.catalog import Catalog
from tests.integration.conftest import Clock
from tests.integration.store.test_catalog import INPUTS, V2, add_instance

HOUR = 3600


def test_soak_then_canaries_promote_and_a_failed_check_withdraws(
    catalog: Catalog, engine: Engine, clock: Clock, tmp_path: Path,
) -> None:
    blobs = BlobStore(tmp_path / "store")
    rollout = Rollout(engine, clock)
    views = ChannelViews(catalog, rollout, lambda _name: V2)
    rollout.set_rule("laptop", Rule(soak_s=HOUR, canaries=1))
    old = add_instance(catalog, blobs, b"first build", INPUTS)
    new = add_instance(catalog, blobs, b"second build", replace(INPUTS, ldflags="-Wl,-O1"))

    assert [i.id for i in views.listed("laptop", Channel.TESTING)] == [new.id]
    assert views.listed("laptop", Channel.STABLE) == []
    [waiting] = views.pending("laptop")
    assert (waiting.instance.id, waiting.waits_for) == (
        new.id, ("soak: 1h more", "canaries: 0 of 1 testing hosts passed"))
    clock.now += HOUR
    assert views.listed("laptop", Channel.STABLE) == []  # soaked, but no canary yet
    rollout.report("laptop", "web1", Channel.TESTING, old, Verdict.PASSED, "ok")
    rollout.report("laptop", "web2", Channel.STABLE, new, Verdict.PASSED, "ok")  # not a canary
    assert [i.id for i in views.listed("laptop", Channel.STABLE)] == [old.id]
    rollout.report("laptop", "web1", Channel.TESTING, new, Verdict.FAILED, "boom\nsegfault")
    assert [i.id for i in views.listed("laptop", Channel.TESTING)] == [old.id]

    events = [(e.instance, e.action, e.actor) for e in rollout.history("laptop")]
    assert events == [(old.id, Action.PROMOTE, "rule"),
                      (new.id, Action.WITHDRAW, "host web1")]
    assert rollout.history("laptop")[0].reason == (
        "promoted after 1h in testing and once 1 testing host passed its health check: "
        "1h in testing; health check passed on web1")  # the evidence
    assert rollout.history("laptop")[1].reason == "health check failed on web1: segfault"
    assert rollout.rule("laptop").describe() == ("promoted after 1h in testing and once 1 "
                                                 "testing host passed its health check")
