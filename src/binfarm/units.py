"""Quantities as an admin reads them: shared by the CLI and the dashboard."""

from __future__ import annotations

__all__ = ["size_text"]


def size_text(size: int) -> str:
    """Bytes in B, KiB, MiB or GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
