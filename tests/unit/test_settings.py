"""One environment for every command: the CLI's BINFARM_SERVER/BINFARM_TOKEN never break
`serve`'s settings, and a bad setting is one line naming it (issue 11, item 6)."""

from __future__ import annotations

import pytest

from binfarm.errors import InvalidInput
from binfarm.settings import load_settings


def test_the_clis_variables_do_not_break_the_farms_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINFARM_SERVER", "http://farm.example:7979")
    monkeypatch.setenv("BINFARM_TOKEN", "bf_secret")
    monkeypatch.setenv("BINFARM_SERVER__BINHOST_AUTH", "required")
    settings = load_settings()
    assert settings.server.binhost_auth == "required"
    assert settings.server.listen == "127.0.0.1:7979"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("BINFARM_WORKERS", "many", "workers:"),
    ("BINFARM_QUEUE__LEASE_TTL_S", "soon", "queue.lease_ttl_s:"),
    ("BINFARM_QUEUE", '{"lease_ttl_s": "soon"}', "queue.lease_ttl_s:"),
])
def test_a_bad_setting_names_itself(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                    says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match=says):
        load_settings()
