"""Build keys seen from outside: explain a package for profiles, show a stored instance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from binfarm.api.models import ExplainOut, InstanceDetail
from binfarm.server.deps import FarmDep
from binfarm.server.routes.convert import explain_out, instance_detail

__all__ = ["router"]

router = APIRouter(tags=["keys"])


@router.get("/explain")
def explain(
    farm: FarmDep,
    atom: Annotated[str, Query(min_length=1, max_length=512)],
    profile: Annotated[list[str], Query(min_length=1, max_length=64)],
) -> list[ExplainOut]:
    """For each profile: its build key for `atom`, and whether each stored binary fits."""
    return [explain_out(e) for e in farm.explain(atom, profile)]


@router.get("/instances/{ref:path}")
def get_instance(ref: str, farm: FarmDep) -> InstanceDetail:
    """A stored instance by SHA-256 (or 8+ leading hex digits) or PATH, with its key inputs."""
    return instance_detail(farm.find_instance(ref))
