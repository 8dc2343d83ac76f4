"""Build keys seen from outside: explain a package for profiles, show a stored instance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from binfarm.api.models import ExplainOut, InstanceDetail
from binfarm.errors import NotFound
from binfarm.server.deps import FarmDep, ReaderToken
from binfarm.server.routes.convert import explain_out, instance_detail

__all__ = ["router"]

router = APIRouter(tags=["keys"])


@router.get("/explain")
def explain(
    farm: FarmDep,
    token: ReaderToken,
    atom: Annotated[str, Query(min_length=1, max_length=512)],
    profile: Annotated[list[str], Query(min_length=1, max_length=8)],
) -> list[ExplainOut]:
    """For each profile: its build key for `atom`, and whether each stored binary fits."""
    for name in profile:
        token.may_read(name)
    return [explain_out(e) for e in farm.explain(atom, profile)]


@router.get("/instances/{ref:path}")
def get_instance(ref: str, farm: FarmDep, token: ReaderToken) -> InstanceDetail:
    """A stored instance by SHA-256 (or 8+ leading hex digits) or PATH, with its key inputs
    (a client token: one its profile's binhost lists)."""
    instance = farm.find_instance(ref)
    if not token.reads_all and not farm.visible(token.profile or "", instance):
        raise NotFound(f"no stored instance {ref!r}")
    return instance_detail(instance)
