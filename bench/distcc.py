#!/usr/bin/env python3
"""A C project built by the farm with and without distcc hosts, side by side.

    .venv/bin/python bench/distcc.py [--units 120] [--hosts 2] [--slots 3]

The project is the example's app-misc/units with UNITS C files of 40 functions each (its
gen.sh writes them) and one link, in a repository and profile of its own. Each mode gets a
fresh farm (`binfarm serve`, no embedded worker) and one `binfarm worker` process: first
alone (its build compiles everything here), then with HOSTS distccd hosts in network
namespaces (`--jobs SLOTS`, added with `binfarm distcc add --slots SLOTS`). Printed: wall
time, the worker's CPU seconds (the worker and everything it ran: emerge, make,
preprocessing, local compiles; not the hosts' compiles) and the share of compile units
that ran on the hosts, from the build's log and counted again from distccd's own logs. On
one machine the hosts share its cores, so wall time is reported, not targeted; the
worker's CPU is the figure that moves to a real farm.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from binfarm.examples import example_paths
from tests.builders import FarmProcess, WorkerProcess, repo_profile_tree, small_repo, wait_until
from tests.distcc_hosts import DistccHosts

EBUILD = """KEYWORDS="amd64"
DESCRIPTION="The example's generated C project, with more units"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
src_compile() {
	emake UNITS="${UNITS}" CC="${CHOST}-gcc" CFLAGS="${CFLAGS}"
}
src_install() {
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" install
}
"""


def run(base: Path, units: int, hosts: DistccHosts | None, slots: int) -> dict[str, float]:
    repo = small_repo(base, "dccbench", {"app-misc/units-1.0": f"UNITS={units}\n{EBUILD}"})
    # The example's own distfile (gen.sh writes UNITS units): its Manifest entry too.
    shutil.copy(example_paths()["repo"] / "app-misc/units/Manifest", repo / "app-misc/units")
    tree = repo_profile_tree(base / "tree", repo, "dccbench")
    farm = FarmProcess(base / "var", "--workers", "0")
    worker = None
    try:
        for args in (("repo", "add", "dccbench", str(repo), "--distfiles",
                      str(example_paths()["distfiles"])),
                     ("profile", "add", "bench", str(tree))):
            done = farm.cli(*args)
            assert done.returncode == 0, done.stdout + done.stderr
        for host in hosts.hosts if hosts else ():
            done = farm.cli("distcc", "add", host.address, "--slots", str(slots))
            assert done.returncode == 0 and " up " in done.stdout, done.stdout + done.stderr
        before_hosts = sum(h.compiled() for h in hosts.hosts) if hosts else 0
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker = WorkerProcess(farm.url, farm.token, "bench", base / "worker")
        started = time.monotonic()
        asked = httpx.post(f"{farm.url}/api/v1/builds", headers=farm.auth, timeout=120,
                           json={"profile": "bench", "atoms": ["app-misc/units"]})
        build_id = asked.json()[0]["id"]

        def ended() -> dict[str, object] | None:
            b = httpx.get(f"{farm.url}/api/v1/builds/{build_id}", headers=farm.auth,
                          timeout=30).json()
            return b if b["state"] in ("succeeded", "failed") else None

        build = wait_until(ended, 1800, "the benchmark build", poll_s=0.2)
        wall = time.monotonic() - started
        worker.stop()  # reaped here: its CPU (and its children's) joins ours
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker = None
        log = httpx.get(f"{farm.url}/api/v1/builds/{build_id}/log", headers=farm.auth,
                        timeout=30).text
        assert build["state"] == "succeeded", log[-3000:]
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime +
                                                            cpu_before.ru_stime)
        summary = re.search(r"distcc: (\d+) of (\d+) compile units ran remotely", log)
        remote, total = (int(summary[1]), int(summary[2])) if summary else (0, units + 2)
        counted = (sum(h.compiled() for h in hosts.hosts) - before_hosts) if hosts else 0
        return {"wall": wall, "cpu": cpu, "remote": remote, "total": total,
                "counted": counted}
    finally:
        if worker is not None:
            worker.stop()
        farm.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=120)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--slots", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="binfarm-bench-distcc-") as tmp:
        local = run(Path(tmp) / "local", args.units, None, args.slots)
        hosts = DistccHosts(args.hosts)
        try:
            for host in hosts.hosts:
                host.start(jobs=args.slots)
            farm = run(Path(tmp) / "distcc", args.units, hosts, args.slots)
        finally:
            hosts.close()
    print(f"app-misc/units with UNITS={args.units}: generated C units + main.c, one link; "
          f"{args.hosts} distccd hosts in network namespaces, {args.slots} slots each")
    print(f"{'':32} {'wall s':>8} {'worker CPU s':>13} {'units remote':>14}")
    print(f"{'farm, worker compiles alone':32} {local['wall']:8.1f} {local['cpu']:13.1f} "
          f"{'0 %':>14}")
    share = farm["remote"] / farm["total"] if farm["total"] else 0.0
    print(f"{'farm, distcc hosts':32} {farm['wall']:8.1f} {farm['cpu']:13.1f} "
          f"{share:13.0%} ")
    print(f"distcc: {farm['remote']} of {farm['total']} units remote (build log); distccd "
          f"logs count {farm['counted']:.0f} compiles")
    print(f"worker CPU with distcc / alone: {farm['cpu'] / local['cpu']:.2f}x "
          f"(target <= 0.2x); remote share target >= 90 %")


if __name__ == "__main__":
    main()
