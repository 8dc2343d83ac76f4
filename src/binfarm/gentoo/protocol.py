"""Messages between the parent (`pool`) and the Portage helper child (`helper`).

One request on the child's stdin, one reply on its stdout, both JSON. The reply's `kind`
tells the parent which binfarm error family a failure belongs to.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["ROOT_KIND_VAR", "HelperReply", "HelperRequest", "ProfileInfo", "Resolution",
           "SigningRequest"]

# Set to "chroot" in a query node's farm layer when the profile builds for / (keys differ).
ROOT_KIND_VAR = "BINFARM_BUILD_ROOT"

Op = Literal["inspect_profile", "resolve", "describe_binpkg", "key_inputs", "best_versions",
             "plan", "sign_binpkg", "prepare_request"]


class SigningRequest(BaseModel):
    """Sign a GPKG with the farm's key: the signed copy is written to `out`."""

    home: str
    key: str
    out: str
    lock: str
    passphrase_file: str | None = None
    # Re-signing a package the farm signed before: its signature must verify first.
    resign: bool = False


class HelperRequest(BaseModel):
    op: Op
    atom: str | None = None
    path: str | None = None
    cpvs: list[str] | None = None
    signing: SigningRequest | None = None


class HelperReply(BaseModel):
    ok: bool
    kind: Literal["invalid", "not_found", "internal"] | None = None
    error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class ProfileInfo(BaseModel):
    """A profile's effective settings as Portage evaluates them."""

    chost: str
    arch: str
    cflags: str
    cxxflags: str
    ldflags: str
    use: list[str]
    cpu_flags_x86: list[str]
    accept_keywords: str
    features: list[str]
    profiles: list[str]
    repositories: dict[str, str]
    main_repo: str | None
    fflags: str = ""
    fcflags: str = ""
    makeopts: str = ""

    @property
    def flag_values(self) -> tuple[str, ...]:
        return (self.cflags, self.cxxflags, self.fflags, self.fcflags, self.ldflags)


class Resolution(BaseModel):
    """The best visible ebuild an atom selects for a profile."""

    atom: str
    cpv: str
    slot: str
    repo: str
