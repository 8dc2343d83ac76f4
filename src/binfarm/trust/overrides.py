"""The environment a build request may override, each variable with its value grammar.

As `cq -E` did: what shapes the binary or the run, and nothing that runs code. Every
variable here either changes the build key (USE, the flag variables, CPU_FLAGS_X86, the
output FEATURES, and ACCEPT_KEYWORDS/ACCEPT_LICENSE through the version they pick) or
cannot change the output (MAKEOPTS as -jN/-lN, FEATURES=test), so two requests join one
build exactly when their keys are equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from binfarm.errors import InvalidInput
from binfarm.trust.grammar import (
    FLAG_VARIABLES,
    check_features,
    check_flags,
    check_makeopts,
    check_tokens,
)

__all__ = ["ALLOWED_ENV", "check_env"]

_CHECKS: Final[dict[str, Callable[[str], str]]] = {
    **{name: (lambda value, name=name: check_flags(name, value)) for name in FLAG_VARIABLES},
    **{name: (lambda value, name=name: check_tokens(name, value))
       for name in ("USE", "CPU_FLAGS_X86", "ACCEPT_KEYWORDS", "ACCEPT_LICENSE")},
    "MAKEOPTS": check_makeopts,
    "FEATURES": check_features,
}
ALLOWED_ENV: Final = frozenset(_CHECKS)
_VALUE: Final = re.compile(r"[^\x00-\x1f\x7f]{0,4096}")


def check_env(env: Mapping[str, str]) -> dict[str, str]:
    """The overrides, if every name is allowed and every value fits its grammar."""
    refused = sorted(set(env) - ALLOWED_ENV)
    if refused:
        raise InvalidInput(f"cannot override {', '.join(refused)}: a build takes only "
                           f"{', '.join(sorted(ALLOWED_ENV))}")
    for name, value in env.items():
        if not _VALUE.fullmatch(value):
            raise InvalidInput(f"{name}: a value is one printable line of at most 4096 bytes")
        _CHECKS[name](value)
    return dict(sorted(env.items()))
