"""Package names from package versions (pure), by PMS 3.2 version syntax."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["cp_of", "pn_of"]

# PMS 3.2 version syntax with an optional -rN, as portage.versions.ver_regexp has it.
_VERSION_RE: Final = re.compile(
    r"^(cvs\.)?\d+(\.\d+)*[a-z]?((_(pre|p|beta|alpha|rc)\d*)*)(-r\d+)?$"
)


def pn_of(pf: str) -> str:
    """PN from PF: the name is what precedes the first tail that is a whole version."""
    parts = pf.split("-")
    for i in range(1, len(parts)):
        if _VERSION_RE.match("-".join(parts[i:])):
            return "-".join(parts[:i])
    return pf


def cp_of(cpv: str) -> str:
    """cat/pn of a cat/pf."""
    category, pf = cpv.split("/", 1)
    return f"{category}/{pn_of(pf)}"
