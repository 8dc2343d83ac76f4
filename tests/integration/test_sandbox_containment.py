"""A chroot build's sandbox, entered for real with bubblewrap (F6, F16): no capability that
escapes, no network once offline, the farm's DISTDIR read-only, copies root-only."""

from __future__ import annotations

import socket
import stat
import subprocess
from pathlib import Path

from binfarm.roots.chroot import ChrootCopy
from binfarm.roots.sandbox import Bind, Overlay, Sandbox

# gcc's CAP_* numbers of what a build keeps: chown 0, dac_override 1, fowner 3, fsetid 4,
# kill 5, setgid 6, setuid 7, setfcap 31.
KEPT_MASK = sum(1 << n for n in (0, 1, 3, 4, 5, 6, 7, 31))
PROBE = """
grep CapEff /proc/self/status
tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '
ln -s /etc/shadow /var/cache/distfiles/host-shadow 2>/dev/null && echo planted
python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)' \
    {port} 2>/dev/null && echo reached
mknod /tmp/sda b 8 0 2>/dev/null && echo mknod
true
"""


def _enter(tmp_path: Path, sandbox: Sandbox, port: int) -> str:
    argv = sandbox.argv(["sh", "-c", PROBE.format(port=port)])
    done = subprocess.run(argv, capture_output=True, text=True, env=sandbox.host_env(),
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_build_has_no_network_no_dangerous_capability_and_cannot_touch_distdir(
        tmp_path: Path) -> None:
    # The host's own / as the root's lower layer: a real root to enter, changed by nothing.
    overlay = Overlay(lower=(Path("/"),), upper=tmp_path / "s/upper", work=tmp_path / "s/work",
                      merged=tmp_path / "s/merged")
    overlay.create()
    distdir = tmp_path / "distfiles"
    distdir.mkdir()
    sandbox = Sandbox(overlay, (Bind(distdir, "/var/cache/distfiles", writable=True),))
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        building = _enter(tmp_path, sandbox.offline(), port)
        assert "planted" not in building and not (distdir / "host-shadow").is_symlink()
        # The fetch step (Portage fetching, no ebuild phase) reaches the farm over the network.
        fetching = _enter(tmp_path, sandbox, port)

    for out in (fetching, building):
        effective = int(out.split()[1], 16)
        assert effective & ~KEPT_MASK == 0, hex(effective)  # no sys_admin, mknod, ...
        assert "mknod" not in out
    assert "reached" in fetching and "reached" not in building
    assert building.splitlines()[1:] == ["lo"]


def test_a_workers_copy_of_a_root_is_root_only(tmp_path: Path) -> None:
    copy = ChrootCopy(tmp_path / "chroots" / "web")
    with copy.locked(exclusive=True):
        pass
    assert stat.S_IMODE(copy.directory.stat().st_mode) == 0o700
