"""Where the shipped example lives: an ebuild repository, its distfiles, two profiles.

`binfarm serve --example` and the tests use it. `scripts/generate-example` regenerates
its distfiles, Manifests and md5-cache from `example/sources` with real Portage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["EXAMPLE_CPUS", "EXAMPLE_DIR", "EXAMPLE_PROFILES", "EXAMPLE_REPO_NAME",
           "example_paths"]

EXAMPLE_DIR: Final = Path(__file__).parent / "example"
EXAMPLE_REPO_NAME: Final = "binfarm-example"
EXAMPLE_PROFILES: Final = ("desktop", "laptop")
# The CPUs of the example's machines: the laptop cannot run the desktop's AVX2 code.
EXAMPLE_CPUS: Final = {"desktop": "x86-64-v3", "laptop": "x86-64-v2"}


def example_paths() -> dict[str, Path]:
    """The example's repository, distfiles, sources, profiles and world files."""
    return {name: EXAMPLE_DIR / name
            for name in ("repo", "distfiles", "sources", "profiles", "worlds")}
