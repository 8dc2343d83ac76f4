"""The fleet plan: what every profile's world needs, and queueing what is missing."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from binfarm.api.models import PlanIn, PlanOut
from binfarm.planner.plan import summarize
from binfarm.planner.run import enqueue_plan, plan_fleet
from binfarm.queue.service import Requester
from binfarm.server.deps import AdminToken, FarmDep

__all__ = ["router"]

router = APIRouter(tags=["plans"])


@router.post("/plan")
async def plan(body: PlanIn, farm: FarmDep, token: AdminToken) -> PlanOut:
    """Resolve the profiles' worlds with Portage and count the builds the fleet needs; with
    `enqueue`, queue the missing ones in dependency order."""
    fleet = await run_in_threadpool(plan_fleet, farm, body.profiles or None, jobs=body.jobs)
    enqueued = []
    if body.enqueue:
        builds = await run_in_threadpool(enqueue_plan, farm, fleet,
                                         Requester(f"plan by {token.name}", token.id))
        enqueued = [b.id for b in builds]
    return PlanOut.model_validate({**summarize(fleet), "enqueued": enqueued})
