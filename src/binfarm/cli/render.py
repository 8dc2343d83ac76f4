"""Rich rendering of profiles, builds and logs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from rich import table as rich_table
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.text import Text

from binfarm.api.models import (
    BuildOut,
    ExplainOut,
    InstanceDetail,
    PlanOut,
    ProfileOut,
    RootOut,
    WorkerOut,
)
from binfarm.units import size_text

__all__ = [
    "STATE_STYLES",
    "Table",
    "console",
    "log_tail",
    "markup_safe",
    "plain",
    "print_builds",
    "print_explanations",
    "print_instance",
    "print_plan",
    "print_profile",
    "print_profiles",
    "print_root",
    "print_roots",
    "queue_view",
    "when",
    "workers_table",
]

console = Console()

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> Text:
    """Server data (a requester's name, an error) as text: never Rich markup, and with no
    control character that would reach the terminal (escape sequences)."""
    return Text(_CONTROL.sub("?", text))


def markup_safe(text: str) -> str:
    """`text` for an f-string that is printed with markup: escaped, control characters gone."""
    return escape(_CONTROL.sub("?", text))


class Table(rich_table.Table):
    """A table whose string cells are shown as plain text (see `plain`)."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: object) -> None:
        super().add_row(*(plain(c) if isinstance(c, str) else c for c in renderables),
                        **kwargs)  # type: ignore[arg-type]

STATE_STYLES = {"queued": "yellow", "running": "cyan", "succeeded": "green",
                "failed": "bold red", "cancelled": "dim"}


def print_profiles(profiles: Iterable[ProfileOut]) -> None:
    table = Table("profile", "CHOST", "CFLAGS", "make.profile", "build root")
    for p in profiles:
        table.add_row(p.name, p.chost, p.cflags, p.make_profile or "(in the tree)",
                      p.build_root)
    console.print(table)


def print_profile(p: ProfileOut) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [("profile", p.name), ("make.profile", p.make_profile or "(in the tree)"),
            ("CHOST", p.chost), ("ARCH", p.arch), ("CFLAGS", p.cflags),
            ("CXXFLAGS", p.cxxflags), ("LDFLAGS", p.ldflags), ("USE", " ".join(p.use)),
            ("CPU_FLAGS_X86", " ".join(p.cpu_flags_x86)),
            ("CPU", f"{p.cpu}{' (exact CFLAGS only)' if p.exact_flags else ''}"),
            ("CPU features", " ".join(p.cpu_features)),
            ("@world", " ".join(p.world) or "(empty)"),
            ("build root", p.build_root if p.root is None
             else f"chroot, from {p.root.source} ({p.root.digest[:12]})")]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if p.warning:
        console.print(f"[bold yellow]warning:[/] builds for {p.name} will wait: "
                      f"{markup_safe(p.warning)}")


def print_roots(roots: Iterable[RootOut]) -> None:
    table = Table("profile", "source", "archive", "size", "generation", "worker copies")
    for r in roots:
        copies = ", ".join(f"{c.worker} {size_text(c.disk_bytes)}" for c in r.copies)
        table.add_row(r.profile, r.source, r.digest[:12], size_text(r.size), str(r.generation),
                      copies or "(none yet)")
    console.print(table)


def print_root(r: RootOut) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in (("profile", r.profile), ("build root", "chroot"), ("source", r.source),
                       ("archive", f"sha256 {r.digest}, {size_text(r.size)} on the server"),
                       ("generation", str(r.generation)),
                       ("updated", when(r.updated_at))):
        table.add_row(key, value)
    console.print(table)
    copies = Table("worker", "disk use", "@system layers", "generation", "archive",
                   "reported")
    for c in r.copies:
        current = "current" if c.digest == r.digest else f"old ({c.digest[:12]})"
        copies.add_row(c.worker, size_text(c.disk_bytes), str(c.layers), str(c.generation),
                       current, when(c.reported_at))
    console.print(copies if r.copies else "no worker has unpacked it yet")


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


# The order a build goes through its phases (gentoo/timeline.py PHASES), with their names.
_PHASE_NAMES = {
    "queue": "waiting for a worker", "dependencies": "waiting for its dependencies' builds",
    "prepare": "preparing the build root", "fetch": "fetching (before an offline build)",
    "resolve": "emerge's resolution", "install_deps": "installing dependencies (binaries)",
    "compile_deps": "compiling dependencies", "compile": "compiling (the ebuild phases)",
    "upload": "uploading", "indexing": "checking, signing, storing (server)",
}


def timings_table(build: BuildOut) -> Table:
    total = sum(build.timings.values())
    table = Table("phase", "seconds", "share", title=f"build {build.id}: {build.cpv} "
                  f"({build.state}), {total:.1f} s in all", title_justify="left")
    for phase, name in _PHASE_NAMES.items():
        if phase in build.timings:
            seconds = build.timings[phase]
            table.add_row(name, f"{seconds:.2f}", f"{seconds / total:.0%}" if total else "-")
    return table


def builds_table(builds: Iterable[BuildOut]) -> Table:
    table = Table("id", "package", "profile", "state", "worker (or why it waits)", "prio",
                  "asked by", "took")
    for b in builds:
        style = STATE_STYLES.get(b.state, "")
        end = b.finished_at or (time.time() if b.started_at else None)
        took = f"{end - b.started_at:.0f} s" if end and b.started_at else ""
        asked = f"{b.requester or ''}{f' +{b.requesters - 1}' if b.requesters > 1 else ''}"
        who = Text(b.waiting, style="yellow" if b.stuck else "dim") if b.waiting \
            else b.worker or ""
        table.add_row(str(b.id), b.cpv, b.profile, Text(b.state, style=style), who,
                      str(b.priority), asked, took)
    return table


def print_builds(builds: Iterable[BuildOut]) -> None:
    console.print(builds_table(builds))


def workers_table(workers: Iterable[WorkerOut]) -> Table:
    table = Table("worker", "arch", "slots", "roots", "running", "last seen", "state")
    now = time.time()
    for w in workers:
        state = (Text(f"benched: {w.bench_reason}" if w.bench_reason else "benched",
                      style="bold red") if w.benched else
                 f"{w.consecutive_failures} failures in a row" if w.consecutive_failures
                 else Text("ok", style="green"))
        table.add_row(w.name, w.arch, str(w.slots), "prefix, chroot" if w.chroot else "prefix",
                      " ".join(map(str, w.running)) or "-",
                      f"{now - w.last_seen_at:.0f} s ago", state)
    return table


def queue_view(active: list[BuildOut], workers: list[WorkerOut]) -> Group:
    return Group(builds_table(active), workers_table(workers))


def print_explanations(explanations: Iterable[ExplainOut]) -> None:
    for e in explanations:
        console.print(f"[bold]{e.profile}[/] (CPU {markup_safe(e.cpu)}): {e.cpv} key "
                      f"[cyan]{e.key[:16]}[/]")
        if not e.instances:
            console.print("  no binary of it is stored: a request builds one")
        for v in e.instances:
            i = v.instance
            label = f"  {i.sha256[:12]} built for {i.profile}, BUILD_ID {i.build_id}"
            if v.same_key:
                verdict = "[green]same key: this is the profile's binary[/]"
            elif v.in_index:
                verdict = "[yellow]listed (Portage picks by USE), but not the same key[/]"
            else:
                verdict = "[red]not listed[/]"
            console.print(f"{markup_safe(label)}: {verdict}")
            for reason in (*v.why_not_in_index, *v.differences):
                console.print(f"    - {markup_safe(reason)}", highlight=False)


def print_instance(i: InstanceDetail) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    inputs = i.key_inputs
    rows = [("instance", i.sha256), ("package", i.cpv), ("BUILD_ID", str(i.build_id)),
            ("built for", i.profile), ("PATH", i.path), ("key", i.key),
            ("CHOST", inputs["chost"]), ("USE", " ".join(inputs["use"]) or "(none)"),
            ("CFLAGS", inputs["cflags"]), ("CXXFLAGS", inputs["cxxflags"]),
            ("FFLAGS", inputs["fflags"]), ("LDFLAGS", inputs["ldflags"]),
            ("FEATURES", " ".join(inputs["features"])),
            ("ebuild", inputs["ebuild_sha256"]),
            ("eclasses", " ".join(f"{n}:{h[:12]}" for n, h in inputs["eclasses"])),
            (":= deps", " ".join(inputs["slot_deps"]) or "(none)"),
            ("needs CPU", " ".join(i.required_isa))]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def print_plan(plan: PlanOut) -> None:
    table = Table("profile", "packages", "stored", "to build")
    for name, numbers in plan.profiles.items():
        table.add_row(name, str(numbers.packages), str(numbers.stored), str(numbers.to_build))
    console.print(table)
    console.print(f"distinct builds the fleet needs: [bold]{plan.distinct_builds}[/], "
                  f"stored: {plan.stored}, to build: [bold]{plan.to_build}[/], "
                  f"sharing ratio: {plan.sharing_ratio:.2f}")
    names = list(plan.matrix)
    matrix = Table("shared builds", *names)
    for a in names:
        matrix.add_row(a, *(str(plan.matrix[a][b]) for b in names))
    console.print(matrix)
    for split in plan.splits:
        console.print(f"  {split}", highlight=False)
    if plan.enqueued:
        console.print(f"queued {len(plan.enqueued)} builds in dependency order")


def log_tail(text: str, lines: int = 30) -> str:
    """What to show of a failed build's log: the lines leading to Portage's first ERROR
    (the compiler's complaint comes before Portage's long banner), else the last lines."""
    all_lines = text.rstrip("\n").splitlines()
    for i, line in enumerate(all_lines):
        if line.startswith(" * ERROR: "):
            return "\n".join(all_lines[max(0, i - lines + 2) : i + 2])
    return "\n".join(all_lines[-lines:])
