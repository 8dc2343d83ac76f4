"""The farm's tables. Invariants live here as constraints, not in Python locks."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

__all__ = [
    "build_roots",
    "builds",
    "canary_reports",
    "channel_indexes",
    "distcc_activity",
    "distcc_hosts",
    "distcc_slots",
    "hosts",
    "index_generations",
    "instances",
    "metadata",
    "notices",
    "pins",
    "profiles",
    "repositories",
    "requests",
    "rollout_events",
    "rollout_rules",
    "root_copies",
    "signing_keys",
    "tokens",
    "workers",
]

metadata = MetaData()

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    # A client token may only request builds for this profile.
    Column("profile", String(64)),
    # CIDRs the token may be used from; empty or NULL: anywhere.
    Column("networks", JSON),
    # The worker name a worker token took at its first registration; it acts only as that.
    Column("worker", String(128)),
)

repositories = Table(
    "repositories",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("location", Text, nullable=False),
    # A directory of distfiles the farm's mirror serves for this repository (the example's).
    Column("distfiles", Text),
    Column("created_at", Float, nullable=False),
)

profiles = Table(
    "profiles",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("make_profile", String(512)),
    Column("info", JSON, nullable=False),
    Column("cpu_spec", String(1024)),
    Column("cpu_features", JSON),
    Column("exact_flags", Boolean, nullable=False, default=False, server_default=false()),
    # The digest of the tree as stored: hosts with the same configuration share a profile.
    Column("tree_digest", String(64), index=True),
    # The profile a host's own profile was derived from: `client sync` takes its 01* files.
    Column("base", String(64)),
    # The profile's @world: atoms, as in /var/lib/portage/world.
    Column("world", JSON),
    # Its -march=native flags written out for its CPU (gentoo/native.py).
    Column("flag_overrides", JSON),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

builds = Table(
    "builds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("profile", String(64), ForeignKey("profiles.name"), nullable=False),
    Column("atom", String(512), nullable=False),
    Column("cpv", String(512), nullable=False),
    Column("key", String(64), index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("worker", String(128)),
    Column("requested_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("error", Text),
    Column("log_bytes", BigInteger, nullable=False, default=0),
    # Environment overrides (USE=..., CFLAGS=...) the build runs with.
    Column("env", JSON),
    # Who asked first: the unit of fairness between requesters.
    Column("requester", String(256)),
    Column("required_isa", JSON),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("not_before", Float),
    Column("lease_expires_at", Float),
    # Builds whose binaries this one installs first (a plan's dependency order).
    Column("after", JSON),
    # Repository name -> snapshot location: a planned build uses the plan's revision.
    Column("repositories", JSON),
    # A test run (FEATURES=test) of this instance: it passes or fails, and stores nothing.
    Column("tests_instance", Integer, ForeignKey("instances.id",
                                                 name="fk_builds_tests_instance")),
    # Seconds per phase of a finished build (gentoo/timeline.py PHASES).
    Column("timings", JSON),
    Index("ix_builds_requester_started", "requester", "started_at"),
    # One active build per key: concurrent identical requests cannot both insert.
    Index("uq_builds_active_key", "key", unique=True,
          sqlite_where=text("state IN ('queued', 'running')"),
          postgresql_where=text("state IN ('queued', 'running')")),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("build", Integer, ForeignKey("builds.id"), nullable=False, index=True),
    Column("requester", String(256), nullable=False),
    Column("token", Integer, ForeignKey("tokens.id")),
    Column("webhook", Text),
    Column("created_at", Float, nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True),
    # One per event of the request's build: its end, a withdrawal of what it built.
    Column("request", Integer, ForeignKey("requests.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, index=True),
    Column("delivered_at", Float),
    Column("last_error", Text),
    # Set when `notice_max_attempts` deliveries failed: it is tried no more.
    Column("given_up_at", Float),
)

workers = Table(
    "workers",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("arch", String(64), nullable=False),
    Column("cpu_features", JSON, nullable=False),
    Column("slots", Integer, nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("benched_until", Float),
    # What benched it: the failures in a row and the last of them.
    Column("bench_reason", Text),
    # It can enter chroot roots (has bubblewrap): only such workers lease their builds.
    Column("chroot", Boolean, nullable=False, default=False, server_default=false()),
    # Its gcc as objects name it ("(Debian 12.2.0-14+deb12u1) 12.2.0"): distcc hosts must
    # run the same one to compile for it.
    Column("compiler", Text),
)

instances = Table(
    "instances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("cpv", String(512), nullable=False),
    Column("portage_build_id", Integer),
    Column("path", String(1024), nullable=False, unique=True),
    Column("profile", String(64), ForeignKey("profiles.name"), nullable=False, index=True),
    Column("build", Integer, ForeignKey("builds.id")),
    Column("entry", JSON, nullable=False),
    Column("key", String(64), index=True),
    Column("key_inputs", JSON),
    Column("required_isa", JSON),
    Column("created_at", Float, nullable=False),
    # The farm signs every package it serves: the file stored is the signed one, the
    # worker's upload is known by its digest only (a second upload of it is the same).
    Column("signer", String(40), index=True),
    Column("upload_sha256", String(64), index=True),
    # Set by `binfarm gc` before it deletes the file: from then on no index lists it.
    Column("collected_at", Float),
)

# The farm's OpenPGP keys: one signs; clients trust every key not retired.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("fingerprint", String(40), primary_key=True),
    Column("algorithm", String(32), nullable=False),
    Column("uid", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("added_at", Float, nullable=False),
    Column("retired_at", Float),
)

# Each channel's index: its digest, TIMESTAMP and generation (moved on every change).
channel_indexes = Table(
    "channel_indexes",
    metadata,
    Column("profile", String(64), ForeignKey("profiles.name"), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("generation", Integer, nullable=False),
)

# What each generation of a channel's index listed: `binfarm gc` keeps recent ones' files.
index_generations = Table(
    "index_generations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("profile", String(64), ForeignKey("profiles.name"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("instances", JSON, nullable=False),
    Column("at", Float, nullable=False),
    UniqueConstraint("profile", "channel", "generation",
                     name="uq_index_generations_channel_generation"),
)

# Instances `binfarm gc` never deletes.
pins = Table(
    "pins",
    metadata,
    Column("instance", Integer, ForeignKey("instances.id"), primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", Float, nullable=False),
)

# A profile's promotion rule from testing to stable; no row: promoted as it lands.
rollout_rules = Table(
    "rollout_rules",
    metadata,
    Column("profile", String(64), ForeignKey("profiles.name"), primary_key=True),
    Column("soak_s", Integer, nullable=False),
    Column("canaries", Integer, nullable=False),
    # Promoted only once a test run (FEATURES=test) of the instance passed.
    Column("tests", Boolean, nullable=False, default=False, server_default=false()),
)

def _instance_record(name: str, *columns: Column) -> Table:
    """An append-only, timestamped record about one instance in one profile, found by
    (profile, instance): rollout events, canary reports."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("profile", String(64), ForeignKey("profiles.name"), nullable=False),
        Column("instance", Integer, ForeignKey("instances.id"), nullable=False),
        *columns,
        Column("at", Float, nullable=False),
        Index(f"ix_{name}_profile_instance", "profile", "instance"),
    )


# What a host said of an instance it installed: its health check passed or failed.
canary_reports = _instance_record(
    "canary_reports",
    Column("host", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("output", Text, nullable=False),
)

# An instance's place in a profile's channels is the fold of its events.
rollout_events = _instance_record(
    "rollout_events",
    Column("action", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
)

hosts = Table(
    "hosts",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("profile", String(64), ForeignKey("profiles.name"), nullable=False),
    Column("arch", String(64), nullable=False),
    Column("cpu_features", JSON, nullable=False),
    Column("token", Integer, ForeignKey("tokens.id")),
    Column("registered_at", Float, nullable=False),
    Column("last_report_at", Float),
    Column("last_result", String(32)),
    Column("installed", JSON),
    # {cat/pf: MD5} of what it installed from binaries, as its package database says.
    Column("binpkgs", JSON),
    Column("channel", String(16), nullable=False, default="stable", server_default="stable"),
)

# A profile with a row here builds in a chroot root unpacked from this archive; without
# one, in a prefix.
build_roots = Table(
    "build_roots",
    metadata,
    Column("profile", String(64), ForeignKey("profiles.name"), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    # What the admin gave: a tarball's or a directory's name, for `root show`.
    Column("source", Text, nullable=False),
    # Raised by `root update`: workers bring their copy up to date at the next build.
    Column("generation", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# What each worker last said about its unpacked copy of a chroot root.
root_copies = Table(
    "root_copies",
    metadata,
    Column("profile", String(64), ForeignKey("profiles.name"), primary_key=True),
    Column("worker", String(128), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("layers", Integer, nullable=False),
    Column("disk_bytes", BigInteger, nullable=False),
    Column("system_state", String(64)),
    Column("reported_at", Float, nullable=False),
)

# Compile hosts running distccd; the farm probes them and is the one scheduler of their slots.
distcc_hosts = Table(
    "distcc_hosts",
    metadata,
    Column("name", String(300), primary_key=True),  # HOST:PORT
    Column("address", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("slots", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # up, down, mismatched
    Column("draining", Boolean, nullable=False, default=False, server_default=false()),
    Column("reason", Text),
    Column("compiler", Text),
    Column("compilers", JSON),  # compiler names that compiled on it
    Column("warning", Text),
    Column("added_at", Float, nullable=False),
    Column("probed_at", Float),
    Column("stats", JSON),  # its --stats page, when it serves one
    Column("stats_at", Float),
)

# One row per leased slot: the primary key is the invariant that a host's slots are never
# handed out twice, over all builds, workers and servers.
distcc_slots = Table(
    "distcc_slots",
    metadata,
    Column("host", String(300), ForeignKey("distcc_hosts.name", ondelete="CASCADE"),
           primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("build", Integer, ForeignKey("builds.id"), nullable=False, index=True),
    Column("worker", String(128), nullable=False),
    Column("leased_at", Float, nullable=False),
)

# What a build's distcc clients are doing now, from the worker's heartbeats.
distcc_activity = Table(
    "distcc_activity",
    metadata,
    Column("build", Integer, ForeignKey("builds.id"), primary_key=True),
    Column("worker", String(128), nullable=False),
    Column("tasks", JSON, nullable=False),
    Column("reported_at", Float, nullable=False),
)
