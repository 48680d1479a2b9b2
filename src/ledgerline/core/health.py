"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import hmac
from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ledgerline.core.config import Settings
from ledgerline.core.db import Database
from ledgerline.core.errors import ServiceUnavailable, Unauthorized
from ledgerline.core.observability import Metrics
from ledgerline.core.openapi import error_responses
from ledgerline.core.ratelimit import RateLimiter
from ledgerline.core.ratestorage import shared_state
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.core.schemas import ResponseModel

DATABASE_CHECK_SECONDS = 1.5
"""The database's time to answer ``/readyz``, leaving the answer itself well within 2 s."""

router = APIRouter(tags=["operations"], route_class=LedgerlineRoute)


class Readiness(ResponseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    redis: Literal["ok", "down", "off"]
    """``down``: rate limits count in each process until Redis answers again."""


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(503))
async def readyz(request: Request) -> Readiness:
    """200 when the database answers within 2 s, else 503 (with the same members); a Redis
    that does not answer is reported but leaves the service ready (limits count per process)."""
    database: Database = request.app.state.database
    limiter: RateLimiter = request.app.state.rate_limiter
    database_ok, redis = await asyncio.gather(
        database.answers_within(DATABASE_CHECK_SECONDS), shared_state(limiter.storage)
    )
    if not database_ok:
        raise ServiceUnavailable(
            "the database is not answering", extra={"database": "down", "redis": redis}
        )
    return Readiness(status="ready", database="ok", redis=redis)


@router.get("/metrics", response_class=Response, responses=error_responses(401))
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests and latencies by route and status, database pool use,
    summed over every worker process. Requires the bearer token when one is configured."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is not None and not _bearer_matches(
        request.headers.get("authorization"), settings.metrics_token.get_secret_value()
    ):
        raise Unauthorized("the metrics token is missing or wrong")
    collected: Metrics = request.app.state.metrics
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, credentials = (authorization or "").partition(" ")
    matches = hmac.compare_digest(credentials.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches
