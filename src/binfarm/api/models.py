"""Bodies that cross the HTTP API, in both directions, and the one error shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "BuildOut",
    "BuildRequestIn",
    "CpuIn",
    "CredentialIn",
    "CredentialOut",
    "DistccActivityOut",
    "DistccAddOut",
    "DistccGrantOut",
    "DistccHostIn",
    "DistccHostOut",
    "DistccLeaseIn",
    "DistccLeaseOut",
    "DistccTask",
    "ErrorBody",
    "ExplainOut",
    "FinishIn",
    "HeartbeatIn",
    "HeartbeatOut",
    "HostOut",
    "HostProfileIn",
    "HostRegisteredOut",
    "InstanceDetail",
    "InstanceOut",
    "InstanceVerdictOut",
    "KeyRetiredOut",
    "LeaseIn",
    "NewTokenOut",
    "PlanIn",
    "PlanOut",
    "PriorityIn",
    "ProfileOut",
    "ReportIn",
    "RepositoryIn",
    "RepositoryOut",
    "RootCopyIn",
    "RootCopyOut",
    "RootOut",
    "SharedFileOut",
    "SigningKeyOut",
    "TokenIn",
    "TokenOut",
    "WorkerIn",
    "WorkerOut",
    "WorldIn",
]

API_PREFIX = "/api/v1"
# A build in one of these states never changes again.
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


class ErrorBody(BaseModel):
    """Every error the API answers: `kind` names the family, `error` says it to a person."""

    ok: bool = False
    kind: str
    error: str
    status: int


class RepositoryOut(BaseModel):
    name: str
    location: str
    distfiles: str | None = None


class RepositoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    location: str = Field(min_length=1, max_length=4096, description="A path on the server.")
    distfiles: str | None = Field(None, max_length=4096)


class RootCopyIn(BaseModel):
    """What a worker says about its unpacked copy of a profile's chroot root."""

    worker: str = Field(min_length=1, max_length=128)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    generation: int = Field(ge=0, le=2**31 - 1)
    layers: int = Field(ge=0, le=100_000)
    disk_bytes: int = Field(ge=0, le=2**62)
    system_state: str | None = Field(None, max_length=64)


class RootCopyOut(RootCopyIn):
    reported_at: float


class RootOut(BaseModel):
    """A profile's chroot build root: the archive it starts from, and the workers' copies."""

    profile: str
    digest: str
    size: int
    source: str
    generation: int
    created_at: float
    updated_at: float
    copies: list[RootCopyOut] = Field(default_factory=list)


class ProfileOut(BaseModel):
    name: str
    make_profile: str | None
    chost: str
    arch: str
    cflags: str
    cxxflags: str
    ldflags: str
    use: list[str]
    cpu_flags_x86: list[str]
    features: list[str]
    cpu: str
    cpu_features: list[str]
    exact_flags: bool
    world: list[str] = Field(default_factory=list)
    flag_overrides: dict[str, str] = Field(default_factory=dict, description="Its flags with "
                                           "-march=native written out for its CPU, which "
                                           "every build root of it reads last.")
    build_root: str = Field("prefix", description="prefix, or chroot (see `root`).")
    root: RootOut | None = None
    warning: str | None = Field(None, description="After a change: why no registered "
                                "worker could build for the profile, if none could.")


class WorldIn(BaseModel):
    atoms: list[Atom] = Field(max_length=100_000)


class PlanIn(BaseModel):
    profiles: list[str] = Field(default_factory=list, description="Default: every profile.")
    jobs: int = Field(1, ge=1, le=32, description="Profiles resolved at once.")
    enqueue: bool = Field(False, description="Queue the missing builds.")


class PlanProfileOut(BaseModel):
    packages: int
    stored: int
    to_build: int


class PlanOut(BaseModel):
    profiles: dict[str, PlanProfileOut]
    distinct_builds: int
    stored: int
    to_build: int
    sharing_ratio: float
    matrix: dict[str, dict[str, int]]
    splits: list[str]
    enqueued: list[int] = Field(default_factory=list)


class CpuIn(BaseModel):
    """A profile's CPU: an x86-64 level, a -march name or a CPU flag list; None: its flags."""

    cpu: str | None = Field(None, max_length=4096)
    exact_flags: bool | None = None


# One atom: no whitespace or control character (an empty one was a 503, F20).
Atom = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[^\s\x00-\x1f\x7f]+$")]


# A build's place in the queue: higher goes first.
Priority = Annotated[int, Field(ge=-100, le=100, description="Higher goes first.")]


class BuildRequestIn(BaseModel):
    profile: str = Field(min_length=1, max_length=64)
    atoms: list[Atom] = Field(min_length=1, max_length=500)
    env: dict[str, str] = Field(default_factory=dict, description="Overrides such as USE.")
    priority: Priority = 0
    requester: str | None = Field(None, min_length=1, max_length=128,
                                  description="Who asks (a host name); default: the token.")
    webhook: str | None = Field(None, max_length=2048, pattern=r"^https?://",
                                description="Where to POST a JSON notice when a build ends.")


class PriorityIn(BaseModel):
    priority: Priority


class WorkerIn(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    arch: str = Field(min_length=1, max_length=64)
    cpu_features: list[str] = Field(default_factory=list, max_length=512)
    slots: int = Field(1, ge=1, le=64)
    chroot: bool = Field(False, description="It can enter chroot roots (has bubblewrap).")
    compiler: str | None = Field(None, max_length=256, description="Its gcc, as objects "
                                 "name it: distcc hosts must run the same.")


class WorkerOut(BaseModel):
    name: str
    arch: str
    slots: int
    cpu_features: list[str]
    last_seen_at: float
    consecutive_failures: int
    benched_until: float | None
    benched: bool
    running: list[int]
    chroot: bool = False
    bench_reason: str | None = None


class HostProfileIn(BaseModel):
    profile: str = Field(min_length=1, max_length=64)


class HostOut(BaseModel):
    name: str
    profile: str
    arch: str
    cpu_features: list[str]
    registered_at: float
    last_report_at: float | None
    last_result: str | None
    installed: list[str]
    out_of_date: list[str] = Field(default_factory=list)
    channel: str = "stable"


class HostRegisteredOut(BaseModel):
    host: HostOut
    token: str = Field(description="The host's client token, shown once.")


class InstalledIn(BaseModel):
    cpv: str = Field(min_length=3, max_length=512)
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")


class ReportIn(BaseModel):
    result: str = Field(pattern=r"^(succeeded|failed)$")
    installed: list[str] = Field(default_factory=list, max_length=20_000)
    binpkgs: list[InstalledIn] = Field(
        default_factory=list, max_length=20_000,
        description="What it installed from binaries, with each file's MD5 (BINPKGMD5): "
        "`binfarm gc` keeps those files.")


class SharedFileOut(BaseModel):
    path: str
    content_b64: str


class HeartbeatOut(BaseModel):
    lease_expires_at: float


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    role: str = Field(pattern=r"^(admin|viewer|worker|client|enroll|binhost)$")
    profile: str | None = Field(None, max_length=64)
    networks: list[str] = Field(default_factory=list, max_length=64)


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    profile: str | None
    networks: list[str]
    created_at: float
    revoked_at: float | None


class NewTokenOut(TokenOut):
    secret: str = Field(description="Shown once: only its SHA-256 is kept.")


class SigningKeyOut(BaseModel):
    fingerprint: str
    algorithm: str
    uid: str
    created: int = Field(description="When the key was made (Unix time, as gpg says).")
    state: str = Field(description="signing (signs new packages), trusted (signed before, "
                       "clients keep it) or retired (clients drop it).")
    added_at: float
    retired_at: float | None


class KeyRetiredOut(BaseModel):
    key: SigningKeyOut
    resigned: int = Field(description="Packages signed again with the signing key.")
    failed: list[str] = Field(description="PATH: reason, for each package that could not "
                              "be signed again; it left the index.")


class InstanceOut(BaseModel):
    sha256: str
    size: int
    cpv: str
    build_id: int | None
    path: str
    profile: str
    key: str
    signer: str | None = None


class InstanceDetail(InstanceOut):
    """An instance with everything its key was made of and what it needs from a CPU."""

    key_inputs: dict[str, Any]
    required_isa: list[str]
    entry: dict[str, str]


class InstanceVerdictOut(BaseModel):
    instance: InstanceOut
    same_key: bool
    in_index: bool
    why_not_in_index: list[str]
    differences: list[str]


class ExplainOut(BaseModel):
    """Why a profile would or would not get a stored binary of a package."""

    profile: str
    cpu: str
    cpv: str
    key: str
    key_inputs: dict[str, Any]
    instances: list[InstanceVerdictOut]


class BuildOut(BaseModel):
    id: int
    profile: str
    atom: str
    cpv: str
    key: str | None
    state: str
    worker: str | None
    requested_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    log_bytes: int
    priority: int = 0
    env: dict[str, str] = Field(default_factory=dict)
    requester: str | None = None
    requesters: int = 0
    attempts: int = 0
    repositories: dict[str, str] = Field(default_factory=dict,
                                         description="Pinned repository locations, if any.")
    waiting: str | None = Field(None, description="Why a queued build is not running.")
    timings: dict[str, float] = Field(default_factory=dict, description="Where a finished "
                                      "build's time went, in seconds per phase: queue, "
                                      "dependencies, prepare, fetch, resolve, install_deps, "
                                      "compile_deps, compile, upload, indexing.")
    stuck: bool = Field(False, description="No registered worker could ever take it: a "
                        "worker that can must register.")
    tests_instance: int | None = Field(
        None, description="A test run (FEATURES=test) of the instance with this id: the "
        "worker packages and uploads nothing.")
    packages: list[InstanceOut] = Field(default_factory=list)


class LeaseIn(BaseModel):
    worker: str = Field(min_length=1, max_length=128)
    wait_s: float = Field(0.0, ge=0, le=60, description="Wait this long for a build.")


class DistccTask(BaseModel):
    """One compile in flight on a distcc host, from a worker's distcc state files."""

    pid: int
    file: str = Field(max_length=256)
    host: str = Field(max_length=256)
    slot: int
    phase: str = Field(max_length=16)


class HeartbeatIn(LeaseIn):
    distcc: list[DistccTask] | None = Field(None, max_length=1024, description="What the "
                                            "build's distcc clients compile now.")


class DistccHostIn(BaseModel):
    host: str = Field(min_length=1, max_length=300, description="HOST[:PORT]")
    slots: int = Field(ge=1, le=256)


class DistccHostOut(BaseModel):
    name: str
    address: str
    port: int
    slots: int
    state: str
    draining: bool
    reason: str | None
    compiler: str | None
    compilers: list[str]
    warning: str | None
    probed_at: float | None
    stats: dict[str, str] | None
    stats_at: float | None
    used: int = Field(0, description="Slots leased to builds now.")
    builds: list[int] = Field(default_factory=list, description="The builds holding them.")


class DistccAddOut(BaseModel):
    host: DistccHostOut
    warnings: list[str]


class DistccLeaseIn(BaseModel):
    worker: str = Field(min_length=1, max_length=128)
    want: int = Field(ge=1, le=1024)


class DistccGrantOut(BaseModel):
    host: str
    address: str
    port: int
    slots: int


class DistccLeaseOut(BaseModel):
    grants: list[DistccGrantOut]
    reason: str | None = Field(None, description="Why no slot was leased.")


class DistccActivityOut(BaseModel):
    build: int
    worker: str
    reported_at: float
    tasks: list[DistccTask]


class CredentialIn(BaseModel):
    worker: str = Field(min_length=1, max_length=128)
    profile: str = Field(min_length=1, max_length=64)


class CredentialOut(BaseModel):
    """A read-only credential for one profile's binhost and the mirror, for a build root."""

    user: str
    secret: str


class FinishIn(BaseModel):
    worker: str = Field(min_length=1, max_length=128)
    ok: bool
    error: str | None = Field(None, max_length=65536)
    timings: dict[Literal["prepare", "fetch", "resolve", "install_deps", "compile_deps",
                          "compile", "upload"],
                  Annotated[float, Field(ge=0, le=10**7)]] = Field(
        default_factory=dict, description="Seconds the worker spent per phase.")


class RolloutRuleIn(BaseModel):
    soak: str = Field("0", max_length=32, description="Time in testing before promotion to "
                      "stable: 90s, 30m, 24h, 7d, 2w; 0 promotes as builds land.")
    canaries: int = Field(0, ge=0, le=1000, description="Testing hosts whose health check "
                          "must pass first.")
    tests: bool = Field(False, description="A test run (FEATURES=test) of each instance must "
                        "pass first.")


class PendingOut(BaseModel):
    instance: InstanceOut
    waits_for: list[str] = Field(description="What the rule still waits for; empty: it is "
                                 "promoted at the next look.")


class RolloutRuleOut(BaseModel):
    profile: str
    soak_s: int
    canaries: int
    tests: bool = False
    describe: str
    pending: list[PendingOut] = Field(default_factory=list, description="Testing's instances "
                                      "not yet in stable, and what each waits for.")


class CanaryReportIn(BaseModel):
    installed: list[InstalledIn] = Field(min_length=1, max_length=5000)
    verdict: str = Field(pattern=r"^(passed|failed)$")
    output: str = Field("", max_length=20_000)


class InstanceRefIn(BaseModel):
    ref: str = Field(min_length=1, max_length=1024,
                     description="An atom (cat/pn or cat/pn-version), a SHA-256 (8+ hex "
                     "digits) or a PATH.")
    reason: str = Field("", max_length=2000)


class RollbackIn(BaseModel):
    atom: str = Field(min_length=1, max_length=512)


class RolledBackOut(BaseModel):
    withdrawn: InstanceOut
    served: InstanceOut


class RolloutEventOut(BaseModel):
    at: float
    action: str
    actor: str
    reason: str
    instance: InstanceOut


class HostChannelIn(BaseModel):
    channel: str = Field(pattern=r"^(stable|testing)$")


class GcIn(BaseModel):
    dry_run: bool = Field(True, description="Say what would go, delete nothing.")
    grace: str = Field("2d", max_length=32, description="Nothing stored more recently goes.")
    generations: str = Field("7d", max_length=32, description="What a channel's index "
                             "listed within this stays (a client may hold that index).")
    hosts: str = Field("30d", max_length=32, description="What a host reported installed "
                       "within this stays.")
    keep: int = Field(1, ge=0, le=1000, description="Of the rest, the newest this many of "
                      "each package version and USE stay.")


class GcDecisionOut(BaseModel):
    instance: InstanceOut
    kept: bool
    rule: str
    why: str


class GcOut(BaseModel):
    dry_run: bool
    decisions: list[GcDecisionOut]
    strays: int = Field(description="Store files no instance names, old enough to go.")
    freed_bytes: int = Field(description="Freed, or with dry_run, that would be.")
    finished: int = Field(0, description="Instances an interrupted collection had marked, "
                          "whose files went now.")


class PinIn(BaseModel):
    ref: str = Field(min_length=8, max_length=1024,
                     description="A SHA-256 (8+ hex digits) or a PATH.")
    reason: str = Field("", max_length=2000)


class PinOut(BaseModel):
    instance: InstanceOut
    actor: str
    reason: str
    at: float


class UsageRowOut(BaseModel):
    name: str
    instances: int
    bytes: int


class UsageOut(BaseModel):
    by_profile: list[UsageRowOut]
    by_package: list[UsageRowOut]
    by_channel: list[UsageRowOut] = Field(description="Named profile/channel: what it lists.")
    disk_bytes: int


class PublishedOut(BaseModel):
    profile: str
    channel: str
    generation: int
    timestamp: int
    packages: int
    directory: str = Field(description="The generation's directory; `current` beside it "
                           "points at it.")
    created: bool = Field(description="False: that generation was published already.")
