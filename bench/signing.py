#!/usr/bin/env python3
"""What signing costs the farm: per MB of package, and per upload of the example packages.

    .venv/bin/python bench/signing.py [--mb 64] [--runs 5]

Builds real packages with emerge (the example's hello and wordcount, and a package of
--mb MB of random bytes), then times, as the farm runs them (one Portage helper call
each): reading an upload (`describe_binpkg`, what the farm did before it signed) against
reading and signing it in the same call; and signing the big package alone. Beside them:
Portage's own `gpkg-sign` on the same file, and `sha256sum` of it. Medians of --runs (5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from binfarm.examples import EXAMPLE_REPO_NAME, example_paths
from binfarm.gentoo.configroot import (
    NodeLayer,
    link_toolchain,
    node_env,
    write_bare_node,
    write_node,
)
from binfarm.gentoo.emerge import PrefixTarget, build_packages
from binfarm.gentoo.pool import PortageHelper
from binfarm.gentoo.protocol import SigningRequest
from binfarm.profiles.archive import find_make_profile
from binfarm.signing.gnupg import GnuPG

BIG_EBUILD = """EAPI=8
DESCRIPTION="Random bytes, to time signing by size"
HOMEPAGE="https://example.invalid/binfarm"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
S="${{WORKDIR}}"
src_install() {{
	dodir /usr/share/bigfile
	head -c {mb}M /dev/urandom > "${{ED}}/usr/share/bigfile/data" || die
}}
"""


def median_s(runs: int, action: object) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(base: Path, mb: int) -> tuple[Path, dict[str, Path]]:
    repo = base / "repo"
    shutil.copytree(example_paths()["repo"], repo)
    (repo / "app-misc" / "bigfile").mkdir()
    (repo / "app-misc" / "bigfile" / "bigfile-1.0.ebuild").write_text(BIG_EBUILD.format(mb=mb))
    distdir = base / "distfiles"
    shutil.copytree(example_paths()["distfiles"], distdir)
    tree = example_paths()["profiles"] / "laptop"
    node = base / "node"
    write_node(node, tree, find_make_profile(tree),
               NodeLayer(distdir=distdir, repositories={EXAMPLE_REPO_NAME: repo}))
    link_toolchain(node, "x86_64-pc-linux-gnu")
    with open(base / "build.log", "wb") as log:
        result = build_packages(PrefixTarget(node), ["app-misc/hello", "app-misc/wordcount",
                                                     "app-misc/bigfile"], log, timeout_s=1800)
    if not result.ok:
        sys.exit((base / "build.log").read_text()[-3000:])
    return node, {p.name.split("-1.0")[0]: p for p in result.packages}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-signing-"))
    try:
        node, packages = build(base, args.mb)
        home = GnuPG(base / "gnupg")
        home.create_home(0o700)
        key = home.generate("bench <bench@example.invalid>")
        helper = PortageHelper(600)
        out = base / "signed.gpkg.tar"
        request = SigningRequest(home=str(home.home), key=key, out=str(out),
                                 lock=str(base / "lock"))
        print(f"{'package':<12} {'MB':>7} {'read':>9} {'read+sign':>10} {'added':>8}")
        for name in ("hello", "libgreet", "wordcount", "bigfile"):
            path = packages[name]
            read = median_s(args.runs, lambda p=path: helper.describe_binpkg(node, p))
            signed = median_s(args.runs,
                              lambda p=path: helper.describe_binpkg(node, p, request))
            print(f"{name:<12} {path.stat().st_size / 1e6:>7.2f} {read * 1e3:>7.0f} ms "
                  f"{signed * 1e3:>7.0f} ms {(signed - read) * 1e3:>5.0f} ms")
        big = packages["bigfile"]
        size_mb = big.stat().st_size / 1e6
        bare = write_bare_node(base / "bare")
        ours = median_s(args.runs, lambda: helper.sign_binpkg(bare, big, request))
        tiny = median_s(args.runs, lambda: helper.sign_binpkg(bare, packages["hello"], request))
        copy = base / "gpkg-sign.gpkg.tar"
        conf = bare / "etc" / "portage" / "make.conf"
        conf.write_text(f'BINPKG_GPG_SIGNING_GPG_HOME="{home.home}"\n'
                        f'BINPKG_GPG_SIGNING_KEY="{key}"\n'
                        f'BINPKG_GPG_VERIFY_GPG_HOME="{home.home}"\n'
                        'GPG_VERIFY_USER_DROP=""\nGPG_VERIFY_GROUP_DROP=""\n'
                        'BINPKG_GPG_SIGNING_BASE_COMMAND="/usr/bin/gpg --sign --armor '
                        '[PORTAGE_CONFIG]"\n')

        def gpkg_sign() -> None:
            shutil.copyfile(big, copy)
            subprocess.run([str(Path(sys.executable).parent / "gpkg-sign"), str(copy)],
                           env={**node_env(bare), "PATH": os.environ["PATH"]}, check=True,
                           capture_output=True)

        theirs = median_s(args.runs, gpkg_sign)
        digest = median_s(args.runs, lambda: subprocess.run(["sha256sum", str(big)],
                                                            check=True, capture_output=True))
        per_mb = (ours - tiny) / max(size_mb - packages["hello"].stat().st_size / 1e6, 1e-9)
        print(f"\nsigning {size_mb:.1f} MB (check its Manifest, sign, verify as a client): "
              f"{ours:.2f} s, {per_mb * 1e3:.1f} ms/MB beyond a tiny package's {tiny:.2f} s")
        print(f"  beside: Portage's gpkg-sign {theirs:.2f} s; sha256sum {digest:.2f} s")
        home.stop_agent()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
