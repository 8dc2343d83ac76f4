"""Bodies that cross the HTTP API, in both directions, and the one error shape."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "BuildOut",
    "BuildRequestIn",
    "ErrorBody",
    "FinishIn",
    "InstanceOut",
    "LeaseIn",
    "ProfileOut",
    "RepositoryOut",
]

API_PREFIX = "/api/v1"


class ErrorBody(BaseModel):
    """Every error the API answers: `kind` names the family, `error` says it to a person."""

    ok: bool = False
    kind: str
    error: str
    status: int


class RepositoryOut(BaseModel):
    name: str
    location: str


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


class BuildRequestIn(BaseModel):
    profile: str = Field(min_length=1, max_length=64)
    atoms: list[str] = Field(min_length=1, max_length=500)


class InstanceOut(BaseModel):
    sha256: str
    size: int
    cpv: str
    build_id: int | None
    path: str
    profile: str


class BuildOut(BaseModel):
    id: int
    profile: str
    atom: str
    cpv: str
    state: str
    worker: str | None
    requested_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    log_bytes: int
    packages: list[InstanceOut] = Field(default_factory=list)


class LeaseIn(BaseModel):
    worker: str = Field(min_length=1, max_length=128)


class FinishIn(BaseModel):
    worker: str = Field(min_length=1, max_length=128)
    ok: bool
    error: str | None = Field(None, max_length=65536)
