"""CLI output never lets server data become Rich markup or terminal escapes (F19)."""

from __future__ import annotations

from rich.console import Console

from binfarm.api.models import BuildOut
from binfarm.cli.render import builds_table, markup_safe


def test_a_requester_name_with_markup_and_escapes_is_shown_as_text() -> None:
    hostile = "[reverse]admin[/reverse]\x1b[31mRED\x1b[0m"
    build = BuildOut(id=1, profile="laptop", atom="hello", cpv="app-misc/hello-1.0", key=None,
                     state="queued", worker=None, requested_at=0.0, started_at=None,
                     finished_at=None, error=None, log_bytes=0, requester=hostile)
    console = Console(record=True, width=200, force_terminal=True)
    console.print(builds_table([build]))
    text = console.export_text()
    assert "[reverse]admin[/reverse]" in text and "\x1b[31m" not in text
    assert "\x1b" not in markup_safe(hostile) and "\\[reverse]" in markup_safe(hostile)
