"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.pool import QueuePool

from ledgerline.core.db import Database
from ledgerline.core.errors import ServiceUnavailable
from ledgerline.core.observability import Metrics
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute

router = APIRouter(tags=["operations"], route_class=LedgerlineRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(503))
async def readyz(request: Request) -> dict[str, str]:
    """200 when the database answers, else 503."""
    try:
        database: Database = request.app.state.database
        await database.ping()
    except Exception as exc:
        raise ServiceUnavailable("the database is not answering") from exc
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests and latencies by route and status, database pool use."""
    collected: Metrics = request.app.state.metrics
    database: Database = request.app.state.database
    pool = database.engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        collected.pool_in_use.set(pool.checkedout())
        collected.pool_size.set(pool.size())
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
