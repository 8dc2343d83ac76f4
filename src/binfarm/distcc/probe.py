"""Probe a distcc host the way a build would use it, and read its stats page.

A probe compiles a small unit through distcc with each compiler name the farm's builds
send, in a DISTCC_DIR of its own (distcc's backoff and slot locks stay private) and with
DISTCC_FALLBACK=0, so an object comes back from the host or not at all. The object's
.comment names the compiler that made it: the host's gcc, to compare with the workers'.
Then it asks the host to run a compiler it has no masquerade link for: a distccd that does
(`--enable-tcp-insecure`) runs any command it is sent, and the farm refuses it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from binfarm.distcc.model import HostAddress
from binfarm.errors import Unavailable

__all__ = ["STATS_PORT", "ProbeResult", "compiler_names", "local_compiler", "probe",
           "read_stats"]

STATS_PORT = 3633
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_COMMENT = re.compile(r"\]\s+GCC: (.*)$", re.M)
_ERROR = re.compile(r"ERROR: (.*)$", re.M)
_SOURCES = {"gcc": ("probe.c", "int binfarm_probe(int x) { return x * 3; }\n"),
            "g++": ("probe.cc", "template <class T> T binfarm_probe(T x) { return x * 3; }\n"
                                "int binfarm_probe_int(int x) { return binfarm_probe(x); }\n")}
_UNLISTED = "binfarm-unlisted-cc"  # no distccd whitelists this name


@dataclass(frozen=True)
class ProbeResult:
    up: bool
    reason: str | None = None
    compiler: str | None = None
    compilers: tuple[str, ...] = ()
    insecure: bool = False
    stats: dict[str, str] | None = field(default=None)


def _run(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              check=False, env={"PATH": _PATH, "LANG": "C"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"cannot run {argv[0]}: {exc}") from exc


def local_compiler(gcc: str = "gcc") -> str | None:
    """This machine's gcc as the objects it writes name it: "(Debian 12.2.0-14) 12.2.0"."""
    if shutil.which(gcc, path=_PATH) is None:
        return None
    first = _run([gcc, "--version"], 30).stdout.partition("\n")[0]
    return first.split(" ", 1)[1].strip() if " " in first else None


def compiler_names() -> tuple[str, ...]:
    """The names builds send to hosts: this machine's own triple, which a Debian or Gentoo
    distccd of the same system has in its masquerade directory."""
    if shutil.which("gcc", path=_PATH) is None:
        return ()
    triple = _run(["gcc", "-dumpmachine"], 30).stdout.strip()
    return tuple(f"{triple}-{tool}" for tool in ("gcc", "g++")
                 if shutil.which(f"{triple}-{tool}", path=_PATH))


def probe(host: HostAddress, names: Sequence[str], *, timeout_s: float) -> ProbeResult:
    """Whether `host` compiles with every one of `names`, and with which gcc."""
    if shutil.which("distcc", path=_PATH) is None:
        raise Unavailable("distcc is not installed on the farm (apt-get install distcc)")
    if not names:
        return ProbeResult(False, "the farm has no gcc to probe with")
    with tempfile.TemporaryDirectory(prefix="binfarm-distcc-probe-") as tmp:
        work = Path(tmp)
        compiler: str | None = None
        for name in names:
            tool = "g++" if name.endswith(("g++", "c++")) else "gcc"
            source, text = _SOURCES[tool]
            (work / source).write_text(text)
            done, log = _compile(work, host, name, source, timeout_s)
            obj = work / f"{source}.o"
            if done.returncode != 0 or not obj.exists():
                return ProbeResult(False, f"{name} did not compile there: {_why(log, done)}")
            comment = _COMMENT.findall(_run(["readelf", "-p", ".comment", str(obj)],
                                            timeout_s).stdout)
            found = comment[0].strip() if comment else "unknown (its objects carry no .comment)"
            if compiler is not None and found != compiler:
                return ProbeResult(False, f"its compilers differ ({compiler}; {found})")
            compiler = found
        insecure = _runs_anything(work, host, timeout_s)
        return ProbeResult(not insecure, "it runs any compiler it is sent "
                           "(--enable-tcp-insecure)" if insecure else None, compiler,
                           tuple(names), insecure)


def _compile(work: Path, host: HostAddress, name: str, source: str, timeout_s: float,
             path: str = _PATH) -> tuple[subprocess.CompletedProcess[str], str]:
    distcc_dir = Path(tempfile.mkdtemp(dir=work, prefix="dir-"))
    log = distcc_dir / "client.log"
    env = {"PATH": path, "LANG": "C", "HOME": str(work), "DISTCC_DIR": str(distcc_dir),
           "DISTCC_HOSTS": f"{host.name}/1", "DISTCC_FALLBACK": "0",
           "DISTCC_LOG": str(log)}
    try:
        done = subprocess.run(["distcc", name, "-c", source, "-o", f"{source}.o"], cwd=work,
                              env=env, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess([], 124, "", f"no answer in {timeout_s:.0f} s")
    return done, log.read_text(errors="replace") if log.exists() else ""


def _why(log: str, done: subprocess.CompletedProcess[str]) -> str:
    errors = _ERROR.findall(log)
    if errors:
        # distcc's first complaint says what went wrong; the rest repeat it.
        return errors[0].strip()[:300]
    return (done.stderr.strip() or f"distcc exited {done.returncode}")[:300]


def _runs_anything(work: Path, host: HostAddress, timeout_s: float) -> bool:
    """Send a compiler name that no masquerade directory holds: a host that answers with a
    result ran it (a whitelisting distccd closes the connection)."""
    bin_dir = work / "unlisted"
    bin_dir.mkdir()
    gcc = shutil.which("gcc", path=_PATH)
    assert gcc is not None  # compiler_names found it
    (bin_dir / _UNLISTED).symlink_to(gcc)
    (work / "unlisted.c").write_text("int binfarm_unlisted;\n")
    done, log = _compile(work, host, _UNLISTED, "unlisted.c", timeout_s,
                         path=f"{bin_dir}:{_PATH}")
    return done.returncode == 0 or re.search(
        rf"compile \S+ on {re.escape(host.name)}\S* failed with exit code", log) is not None


def read_stats(host: HostAddress, timeout_s: float = 3.0) -> dict[str, str] | None:
    """The host's `--stats` page (`dcc_*` counters), or None when it serves none to us."""
    try:
        response = httpx.get(f"http://{host.name.rsplit(':', 1)[0]}:{STATS_PORT}/",
                             timeout=timeout_s)
    except httpx.HTTPError:
        return None
    body = response.text
    if "<distccstats>" not in body:
        return None
    inner = body.split("<distccstats>", 1)[1].split("</distccstats>", 1)[0]
    stats = {}
    for line in inner.splitlines():
        name, _, value = line.strip().partition(" ")
        if name.startswith("dcc_"):
            stats[name] = value.strip()
    return stats
