"""The pure parts of rollout: durations, the rule's wording, the fold of events."""

from __future__ import annotations

import pytest

from binfarm.errors import InvalidInput
from binfarm.rollout.channels import Action, Channel, Event, fold
from binfarm.rollout.service import Rule, matches, parse_duration, show_duration


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800),
                                               ("24h", 86400), ("7d", 604800), ("2w", 1209600)])
def test_durations_read_as_an_admin_writes_them(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1.5h", "-1h", "24 hours", "h"])
def test_a_bad_duration_says_what_is_expected(text: str) -> None:
    with pytest.raises(InvalidInput, match="say 90s, 30m, 24h, 7d or 2w"):
        parse_duration(text)


def test_the_rule_says_what_promotes() -> None:
    assert Rule().describe() == "promoted as it lands"
    assert show_duration(86400) == "1d" and show_duration(90) == "90s"
    assert Rule(86400, 2).describe() == ("promoted after 1d in testing and once 2 testing "
                                         "hosts passed its health check")
    assert Rule(tests=True).describe() == "promoted once its test suite passed (FEATURES=test)"


def _event(n: int, instance: int, action: Action) -> Event:
    return Event(n, "web", instance, action, "admin", "", float(n))


def test_channels_are_the_fold_of_events() -> None:
    membership = fold([_event(1, 10, Action.PROMOTE), _event(2, 11, Action.PROMOTE),
                       _event(3, 11, Action.ROLLBACK), _event(4, 12, Action.WITHDRAW)])
    assert membership.holds(Channel.STABLE, 10) and membership.holds(Channel.TESTING, 10)
    assert not membership.holds(Channel.STABLE, 11) and not membership.holds(Channel.TESTING, 11)
    assert not membership.holds(Channel.TESTING, 12)
    assert membership.holds(Channel.TESTING, 13) and not membership.holds(Channel.STABLE, 13)


def test_an_atom_names_a_package_or_one_version() -> None:
    assert matches("app-misc/tool", "app-misc/tool-1.0-r1")
    assert matches("app-misc/tool-1.0-r1", "app-misc/tool-1.0-r1")
    assert not matches("app-misc/to", "app-misc/tool-1.0")
