"""configure(): one log line per event, with fields; called once, by the CLI."""

from __future__ import annotations

import logging

__all__ = ["configure"]


def configure(*, debug: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # One line per HTTP request would drown the farm's own events.
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)
