"""`GET /metrics`: the farm's Prometheus metrics (metrics/farm.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder
from starlette.concurrency import run_in_threadpool

from binfarm.server.deps import FarmDep, MetricsReader

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request, farm: FarmDep, _token: MetricsReader) -> Response:
    """Prometheus text format (OpenMetrics when the scraper asks for it); the gauges are
    read from the database now."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    body = await run_in_threadpool(encoder, farm.metrics.registry)
    return Response(body, media_type=content_type)
