"""The shipped example repository is what its generator makes, byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from binfarm.examples import EXAMPLE_DIR

GENERATOR = Path(__file__).parents[2] / "scripts" / "generate-example"


def _generated_files(base: Path) -> dict[str, bytes]:
    files = [*base.glob("distfiles/*"), *base.glob("repo/*/*/Manifest"),
             *base.glob("repo/metadata/md5-cache/*/*")]
    return {str(p.relative_to(base)): p.read_bytes() for p in files}


def test_distfiles_manifests_and_cache_are_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "example"
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], check=True,
                   capture_output=True, timeout=300)
    shipped = _generated_files(EXAMPLE_DIR)
    assert len([k for k in shipped if k.startswith("distfiles/")]) >= 6
    assert _generated_files(out) == shipped
