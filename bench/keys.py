#!/usr/bin/env python3
"""Build-key computation for every package version of a generated repository, two profiles.

    .venv/bin/python bench/keys.py [--versions 5000]

Prints, per profile: ms per package version for binfarm's key computation (one Portage
helper call for all versions; its start-up is shown apart), and beside it the time
`emerge -pv --nodeps` takes for the same versions on the same repository and profile.
Target: at most 2 ms per package version.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py, which would shadow the standard library's `queue` that threads
# import: keep bench/ on the path, but after the standard library.
_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0]).resolve() == _HERE:
    sys.path.append(sys.path.pop(0))

import argparse
import subprocess
import tempfile
import time

from repogen import REPO_NAME, generate_repo

from binfarm.gentoo.configroot import NodeLayer, node_env, write_node
from binfarm.gentoo.pool import PortageHelper
from binfarm.keys.inputs import compute_key
from binfarm.profiles.model import MakeProfileRef

TARGET_MS = 2.0
PROFILES = {
    "desktop": 'USE="nls ssl gtk"\nCFLAGS="-O2 -pipe -march=x86-64-v3"\n'
               'CXXFLAGS="${CFLAGS}"\nCPU_FLAGS_X86="avx2 sse4_2"\nACCEPT_LICENSE="*"\n',
    "server": 'USE="-nls ssl ipv6 zstd"\nCFLAGS="-O2 -pipe -march=x86-64-v2"\n'
              'CXXFLAGS="${CFLAGS}"\nCPU_FLAGS_X86="sse4_2"\nACCEPT_LICENSE="*"\n',
}


def make_node(base: Path, name: str, make_conf: str, repo: Path) -> Path:
    tree = base / f"tree-{name}"
    (tree / "make.conf").mkdir(parents=True)
    (tree / "make.conf" / "01bench").write_text(make_conf)
    (tree / "repos.conf").mkdir()
    (tree / "repos.conf" / "bench.conf").write_text(
        f"[DEFAULT]\nmain-repo = {REPO_NAME}\n\n[{REPO_NAME}]\nlocation = {repo}\n")
    node = base / f"node-{name}"
    write_node(node, tree, MakeProfileRef(REPO_NAME, "base"),
               NodeLayer(distdir=base / "distfiles", repositories={REPO_NAME: repo}))
    return node


def time_emerge(node: Path, cpvs: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(["emerge", "-pv", "--nodeps", "--oneshot", "--color=n",
                           *(f"={cpv}" for cpv in cpvs)], env=node_env(node),
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"emerge -pv failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed, sum(line.startswith("[ebuild") for line in done.stdout.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=5000)
    args = parser.parse_args()
    helper = PortageHelper(timeout_s=3600)
    with tempfile.TemporaryDirectory(prefix="binfarm-bench-keys-") as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        repo = generate_repo(base / "repo", args.versions)
        n = len(repo.cpvs)
        print(f"generated {n} package versions in {time.perf_counter() - started:.1f} s")
        print(f"{'profile':<9} {'keys: total s':>14} {'start-up s':>11} {'ms/version':>11} "
              f"{'emerge -pv s':>13} {'ms/version':>11} {'distinct keys':>14}  target")
        worst = 0.0
        for name, make_conf in PROFILES.items():
            node = make_node(base, name, make_conf, repo.location)
            t0 = time.perf_counter()
            helper.key_inputs(node, repo.cpvs[:1])
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            inputs = helper.key_inputs(node, repo.cpvs)
            total = time.perf_counter() - t0
            per_ms = (total - startup) / n * 1000
            worst = max(worst, per_ms)
            emerge_s, listed = time_emerge(node, repo.cpvs)
            assert listed == n, f"emerge listed {listed} of {n}"
            distinct = len({compute_key(i) for i in inputs})
            verdict = "ok" if per_ms <= TARGET_MS else "MISSED"
            print(f"{name:<9} {total:>14.2f} {startup:>11.2f} {per_ms:>11.3f} "
                  f"{emerge_s:>13.2f} {emerge_s / n * 1000:>11.3f} {distinct:>14}  "
                  f"<= {TARGET_MS} ms: {verdict}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
