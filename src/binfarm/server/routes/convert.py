"""Core values to wire bodies (api.models), in one place."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Path, Query, Request

from binfarm.api.models import (
    BuildOut,
    ExplainOut,
    InstanceDetail,
    InstanceOut,
    InstanceVerdictOut,
    ProfileOut,
    RootOut,
    SigningKeyOut,
    TokenOut,
    WorkerOut,
)
from binfarm.errors import InvalidInput
from binfarm.farm import Explanation
from binfarm.profiles.registry import Profile
from binfarm.queue.service import Build
from binfarm.queue.waiting import Waiting
from binfarm.queue.workers import WorkerInfo
from binfarm.roots.registry import BuildRoot
from binfarm.signing.keys import SigningKey
from binfarm.store.catalog import Instance
from binfarm.tokens import Token

__all__ = [
    "BuildId",
    "ByteOffset",
    "build_out",
    "explain_out",
    "instance_detail",
    "instance_out",
    "profile_out",
    "read_limited",
    "root_out",
    "signing_key_out",
    "token_out",
    "worker_out",
]


# Ids and offsets fit the database's 64-bit integers: larger ones are refused, not crashed on.
BuildId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ByteOffset = Annotated[int, Query(ge=0, le=2**63 - 1)]


def raw_body(media_type: str) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body raw (a tar.gz, a package, a log)."""
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused once it grows past `limit` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InvalidInput(f"the upload is larger than {limit} bytes")
    return bytes(body)


def profile_out(profile: Profile, root: BuildRoot | None = None,
                warning: str | None = None) -> ProfileOut:
    info = profile.info
    return ProfileOut(
        name=profile.name,
        make_profile=str(profile.make_profile) if profile.make_profile else None,
        chost=info.chost, arch=info.arch, cflags=info.cflags, cxxflags=info.cxxflags,
        ldflags=info.ldflags, use=info.use, cpu_flags_x86=info.cpu_flags_x86,
        features=info.features, cpu=profile.cpu_spec,
        cpu_features=sorted(profile.cpu_features), exact_flags=profile.exact_flags,
        world=list(profile.world), flag_overrides=dict(profile.flag_overrides),
        build_root="chroot" if root else "prefix", root=root_out(root) if root else None,
        warning=warning,
    )


def root_out(root: BuildRoot) -> RootOut:
    # The wire model has the record's fields by name; pydantic checks the copies too.
    return RootOut.model_validate(asdict(root))


def instance_out(instance: Instance) -> InstanceOut:
    return InstanceOut(sha256=instance.sha256, size=instance.size, cpv=instance.cpv,
                       build_id=instance.portage_build_id, path=instance.path,
                       profile=instance.profile, key=instance.key, signer=instance.signer)


def signing_key_out(key: SigningKey) -> SigningKeyOut:
    return SigningKeyOut(**asdict(key))


def instance_detail(instance: Instance) -> InstanceDetail:
    return InstanceDetail(**instance_out(instance).model_dump(),
                          key_inputs=instance.key_inputs.to_json(),
                          required_isa=sorted(instance.required_isa), entry=instance.entry)


def explain_out(explanation: Explanation) -> ExplainOut:
    return ExplainOut(
        profile=explanation.profile.name, cpu=explanation.profile.cpu_spec,
        cpv=explanation.cpv, key=explanation.key, key_inputs=explanation.inputs.to_json(),
        instances=[
            InstanceVerdictOut(instance=instance_out(v.instance), same_key=v.same_key,
                               in_index=v.fit.ok, why_not_in_index=list(v.fit.reasons),
                               differences=list(v.differences))
            for v in explanation.instances
        ],
    )


def token_out(token: Token) -> TokenOut:
    return TokenOut(id=token.id, name=token.name, role=token.role.value, profile=token.profile,
                    networks=list(token.networks), created_at=token.created_at,
                    revoked_at=token.revoked_at)


def worker_out(worker: WorkerInfo, now: float, running: list[int]) -> WorkerOut:
    return WorkerOut(name=worker.name, arch=worker.arch, slots=worker.slots,
                     cpu_features=sorted(worker.cpu_features),
                     last_seen_at=worker.last_seen_at,
                     consecutive_failures=worker.consecutive_failures,
                     benched_until=worker.benched_until, benched=worker.benched(now),
                     running=running, chroot=worker.chroot,
                     bench_reason=worker.bench_reason if worker.benched(now) else None)


def build_out(build: Build, packages: list[Instance] | None = None,
              requesters: int = 0, waiting: Waiting | None = None) -> BuildOut:
    return BuildOut(
        id=build.id, profile=build.profile, atom=build.atom, cpv=build.cpv, key=build.key,
        state=build.state.value, worker=build.worker, requested_at=build.requested_at,
        started_at=build.started_at, finished_at=build.finished_at, error=build.error,
        log_bytes=build.log_bytes, priority=build.priority, env=build.env,
        requester=build.requester, requesters=requesters, attempts=build.attempts,
        repositories=build.repositories, waiting=waiting.reason if waiting else None,
        stuck=waiting.stuck if waiting else False, tests_instance=build.tests_instance,
        timings=build.timings,
        packages=[instance_out(i) for i in packages or []],
    )
