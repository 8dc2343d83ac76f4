#!/usr/bin/env python3
"""An image of the example world from the farm's binaries, beside the same world with a
toolchain.

    .venv/bin/python bench/images.py [--runs 3]

On a fresh `binfarm serve --example`: `binfarm image build laptop --world sys-libs/hostlibc`
once with nothing built (the farm builds first), then --runs times each of `--out DIR`,
`--tar FILE` and `--tar FILE --strip docs,headers --no-pkgdb`, medians. Beside them: plain
`emerge --buildpkg` compiling the same world in a fresh prefix (what a machine with a
toolchain spends), and the size of a root that has a toolchain (the tests' debootstrap
stand-in for a stage3, with gcc) plus the world's files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from bench.overhead import plain_emerge
from binfarm.images.pack import tree_bytes
from tests.builders import FarmProcess, stand_in_root

WORLD = ["app-misc/hello", "app-misc/tool", "app-misc/fastcalc"]
BASE = ["sys-libs/hostlibc"]
KINDS = {"directory": ("--out",), "tar": ("--tar",),
         "slim tar": ("--tar", "--strip", "docs,headers", "--no-pkgdb")}


def build(farm: FarmProcess, out: Path, option: str, *extra: str) -> tuple[float, dict]:
    started = time.perf_counter()
    done = farm.cli("image", "build", "laptop", "--world", *BASE, option, str(out), *extra,
                    timeout_s=1800)
    taken = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
    return taken, json.loads(out.with_name(out.name + ".manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="binfarm-bench-images-"))
    try:
        farm = FarmProcess(base / "farm" / "a-deep-data-directory" / "var", "--example",
                           startup_s=300)
        try:
            first, manifest = build(farm, base / "first", "--out")
            print(f"first image, {len(manifest['built_for_it'])} builds first: {first:.1f} s",
                  flush=True)
            results: dict[str, list[tuple[float, int]]] = {k: [] for k in KINDS}
            for run in range(args.runs):
                for kind, (option, *extra) in KINDS.items():
                    out = base / f"{kind.replace(' ', '-')}-{run}"
                    taken, manifest = build(farm, out, option, *extra)
                    size = manifest.get("tar_bytes") or manifest["bytes"]
                    results[kind].append((taken, size))
                print(f"run {run + 1}: " + ", ".join(
                    f"{k} {v[-1][0]:.1f} s" for k, v in results.items()), flush=True)
        finally:
            farm.stop()
        compiled = plain_emerge(base / "plain", WORLD)
        with_toolchain = tree_bytes(stand_in_root())
        packages = len(manifest["packages"])
        print(f"\nthe example world for laptop ({packages} packages), medians of {args.runs}:")
        for kind, values in results.items():
            taken = statistics.median(t for t, _ in values)
            size = statistics.median(s for _, s in values)
            print(f"  image {kind:<10} {taken:6.1f} s  {size / 1e6:7.2f} MB")
        world = results["directory"][0][1]
        print(f"  compiling the world with plain emerge --buildpkg: {compiled:.1f} s")
        print(f"  a root with a toolchain (debootstrap stand-in for a stage3, with gcc) and "
              f"the world: {(with_toolchain + world) / 1e6:.1f} MB")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
