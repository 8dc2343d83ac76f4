"""The machine's binrepos.conf entry for its farm binhost, with credentials Portage sends.

Portage passes `user:password@` in a sync-uri to its fetcher as HTTP Basic auth; the
password is the host's client token. Only the `[binfarm]` section is ever rewritten.
Signatures are verified (Portage's own default since 3.0.78). An https farm whose CA the
system does not know gets its own fetch commands: with one, Portage fetches the index
with it too (not with its Python fetcher, which knows only the system's CAs).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from binfarm.gentoo.configroot import wget_commands

__all__ = ["write_binrepos"]

_SECTION = re.compile(r"^\[binfarm\]\n(?:(?!\[).*\n?)*", re.MULTILINE)


def write_binrepos(config_dir: Path, uri: str, ca_file: Path | None = None) -> Path:
    """Write (or rewrite) the [binfarm] entry; a file binrepos.conf keeps its other entries."""
    section = f"[binfarm]\npriority = 10\nsync-uri = {uri}\nverify-signature = true\n"
    section += "".join(f"{name.lower()} = {command}\n"
                       for name, command in wget_commands(ca_file).items())
    target = config_dir / "binrepos.conf"
    if target.is_file():
        text = _SECTION.sub("", target.read_text()).rstrip("\n")
        content = f"{text}\n\n{section}" if text else section
    else:
        target.mkdir(parents=True, exist_ok=True)
        target = target / "binfarm.conf"
        content = section
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds a token
    os.fchmod(fd, 0o600)  # a binrepos.conf that was there keeps its mode otherwise
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return target
