#!/usr/bin/env python3
"""What the farm costs beside plain `emerge --buildpkg`, on the example's small packages.

    .venv/bin/python bench/overhead.py [--runs 3]

Side by side in one run, --runs times each, medians: a fresh `binfarm serve --example`
(its default settings) asked `binfarm request dev-libs/libgreet app-misc/hello app-misc/tool
app-misc/wordcount --profile laptop --wait` (a library, two programs linking it, one
standalone; hello and tool wait for libgreet's build), timed from the request to its end;
and plain `emerge --buildpkg --oneshot` of the same packages from the same profile tree in
a fresh prefix. Printed: both, their ratio, and the farm's breakdown summed over its
builds (where the farm's time went).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from binfarm.examples import EXAMPLE_REPO_NAME, example_paths
from binfarm.gentoo.configroot import NodeLayer, link_toolchain, write_node
from binfarm.gentoo.emerge import PrefixTarget, run_emerge
from binfarm.gentoo.timeline import PHASES
from binfarm.profiles.archive import find_make_profile
from tests.builders import FarmProcess

ATOMS = ["dev-libs/libgreet", "app-misc/hello", "app-misc/tool", "app-misc/wordcount"]
PROFILE = "laptop"


def plain_emerge(base: Path, atoms: list[str] = ATOMS) -> float:
    """Seconds of `emerge --buildpkg --oneshot ATOMS` in a fresh prefix of the profile."""
    tree = example_paths()["profiles"] / PROFILE
    node = base / "node"
    distdir = base / "distfiles"
    shutil.copytree(example_paths()["distfiles"], distdir)
    write_node(node, tree, find_make_profile(tree),
               NodeLayer(distdir=distdir,
                         repositories={EXAMPLE_REPO_NAME: example_paths()["repo"]}))
    link_toolchain(node, "x86_64-pc-linux-gnu")
    with open(base / "emerge.log", "wb") as log:
        started = time.perf_counter()
        result = run_emerge(PrefixTarget(node), ["--buildpkg", "--oneshot", *atoms], log,
                            timeout_s=1800)
        taken = time.perf_counter() - started
    if not result.ok:
        sys.exit((base / "emerge.log").read_text()[-3000:])
    return taken


def farm_request(base: Path, slots: int | None) -> tuple[float, Counter[str]]:
    """Seconds of `binfarm request ... --wait` on a fresh farm, and its summed timings."""
    env = {"BINFARM_WORKER__SLOTS": str(slots)} if slots else {}
    farm = FarmProcess(base / "a-deep-data-directory" / "var", "--example", startup_s=300,
                       env=env)
    try:
        started = time.perf_counter()
        done = farm.cli("request", *ATOMS, "--profile", PROFILE, "--wait", timeout_s=1800)
        taken = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
        summed: Counter[str] = Counter()
        for build in httpx.get(f"{farm.url}/api/v1/builds", headers=farm.auth).json():
            summed.update(build["timings"])
        return taken, summed
    finally:
        farm.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slots", type=int, default=None,
                        help="The embedded worker's slots [default: serve's default].")
    args = parser.parse_args()
    farm_s, plain_s, phases = [], [], Counter[str]()
    for run in range(args.runs):
        base = Path(tempfile.mkdtemp(prefix="binfarm-bench-overhead-"))
        try:
            taken, summed = farm_request(base / "farm", args.slots)
            farm_s.append(taken)
            phases.update(summed)
            plain_s.append(plain_emerge(base / "plain"))
            print(f"run {run + 1}: farm {farm_s[-1]:.1f} s, plain emerge {plain_s[-1]:.1f} s",
                  flush=True)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            subprocess.run(["pkill", "-f", str(base)], check=False)
    farm, plain = statistics.median(farm_s), statistics.median(plain_s)
    print(f"\n{len(ATOMS)} packages for {PROFILE}, medians of {args.runs}: farm {farm:.1f} s, "
          f"plain emerge --buildpkg {plain:.1f} s: {farm / plain:.2f}x")
    print("the farm's time, summed over its builds, per run (waits overlap other builds):")
    for phase in PHASES:
        if phases[phase]:
            print(f"  {phase:<13} {phases[phase] / args.runs:7.2f} s")


if __name__ == "__main__":
    main()
