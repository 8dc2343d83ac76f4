#!/usr/bin/env python3
"""The fleet planner beside `emerge -pe @world`, on a generated repository.

    .venv/bin/python bench/plan.py [--versions 20000] [--world 500] [--profiles 10]
                                   [--system 40]

A repository of --versions package versions (dependency chains through earlier
packages, IUSE, slots and := subslots), an @system of --system atoms, and --profiles
profiles differing in USE and CFLAGS, all with the same --world. The planner resolves
@system's closure first, as the stand-in stage3 every plan starts from. Printed: the
planner's wall time for every profile with --jobs 1 and --jobs 2, beside the summed time
of `emerge -pe @world` run for each profile, one after the other. Targets: --jobs 1 at
most 1.1x, --jobs 2 at most 0.65x.
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

from binfarm.farm import Farm
from binfarm.gentoo.configroot import node_env
from binfarm.planner.plan import summarize
from binfarm.planner.run import plan_fleet
from binfarm.profiles.archive import pack_tree
from binfarm.profiles.model import MakeProfileRef
from binfarm.settings import Settings

TARGETS = {1: 1.1, 2: 0.65}
_USE = ["nls", "ssl", "gtk", "qt5", "debug", "doc", "ipv6", "zstd", "lto", "caps"]


def make_conf(i: int) -> str:
    use = " ".join(flag if (i >> n) & 1 else f"-{flag}" for n, flag in enumerate(_USE[:4]))
    march = ("x86-64-v2", "x86-64-v3")[i % 2]
    return (f'USE="{use}"\nCFLAGS="-O{1 + i % 3} -pipe -march={march}"\n'
            'CXXFLAGS="${CFLAGS}"\nACCEPT_LICENSE="*"\n')


def tree(base: Path, i: int, repo: Path) -> Path:
    root = base / f"tree-{i}"
    (root / "make.conf").mkdir(parents=True)
    (root / "make.conf" / "01bench").write_text(make_conf(i))
    (root / "repos.conf").mkdir()
    (root / "repos.conf" / "bench.conf").write_text(
        f"[DEFAULT]\nmain-repo = {REPO_NAME}\n\n[{REPO_NAME}]\nlocation = {repo}\n")
    return root


def emerge_pe(farm: Farm, name: str, world: list[str]) -> float:
    """`emerge -pe @world` for one profile, in a node of its own with that world file."""
    profile = farm.profiles.get(name)
    node = farm.profiles.query_node(profile, farm.node_layer())
    world_file = node / "var" / "lib" / "portage" / "world"
    world_file.parent.mkdir(parents=True, exist_ok=True)
    world_file.write_text("\n".join(world) + "\n")
    started = time.perf_counter()
    done = subprocess.run(["emerge", "-pe", "--color=n", "--quiet", "@world"],
                          env=node_env(node), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"emerge -pe failed for {name}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--world", type=int, default=500)
    parser.add_argument("--profiles", type=int, default=10)
    parser.add_argument("--system", type=int, default=40, help="atoms in @system")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="binfarm-bench-plan-") as tmp:
        base = Path(tmp)
        repo = generate_repo(base / "repo", args.versions, world_size=args.world,
                             system_size=args.system)
        farm = Farm(Settings(data_dir=base / "var"))
        farm.repositories.add(REPO_NAME, repo.location)
        names = [f"profile{i}" for i in range(args.profiles)]
        for i, name in enumerate(names):
            farm.add_profile(name, pack_tree(tree(base, i, repo.location)),
                             MakeProfileRef(REPO_NAME, "base"), cpu="x86-64-v3")
            farm.profiles.set_world(name, repo.world)
        print(f"{len(repo.cpvs)} package versions, a world of {len(repo.world)}, "
              f"{len(names)} profiles")
        emerge_s = sum(emerge_pe(farm, name, repo.world) for name in names)
        print(f"emerge -pe @world, each profile in turn: {emerge_s:8.1f} s")
        worst = 0.0
        for jobs, target in TARGETS.items():
            started = time.perf_counter()
            plan = plan_fleet(farm, names, jobs=jobs)
            elapsed = time.perf_counter() - started
            ratio = elapsed / emerge_s
            worst = max(worst, ratio / target)
            summary = summarize(plan)
            print(f"binfarm plan --jobs {jobs}:                {elapsed:8.1f} s = {ratio:.2f}x "
                  f"(target <= {target}x: {'ok' if ratio <= target else 'MISSED'}); "
                  f"{summary['distinct_builds']} distinct builds of "
                  f"{sum(p['packages'] for p in summary['profiles'].values())} "
                  f"(profile, package) pairs")
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
