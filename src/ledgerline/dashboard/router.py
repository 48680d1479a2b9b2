from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledgerline.accounts import net_worth
from ledgerline.accounts.schemas import NetWorthPoint, NetWorthQuery
from ledgerline.core.deps import SessionDep, SnapshotSessionDep
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.dashboard import service as dashboard_service
from ledgerline.dashboard.schemas import (
    CategoriesQuery,
    CategoryTotal,
    DashboardRange,
    Insights,
    InsightsQuery,
    RecentQuery,
    Summary,
    TrendPoint,
    TrendsQuery,
)
from ledgerline.orgs.dependencies import DashboardReader, InsightsReader
from ledgerline.records.schemas import RecordRead

router = APIRouter(
    prefix="/orgs/{org_id}/dashboard", tags=["dashboard"], route_class=LedgerlineRoute
)

_ERRORS = error_responses(401, 404, 422, 429)


@router.get("/summary", responses=_ERRORS)
async def get_summary(
    query: Annotated[DashboardRange, Query()], session: SessionDep, ctx: DashboardReader
) -> Summary:
    """Total income, expense, net balance and count, for the org's currency and per currency."""
    return await dashboard_service.summary(session, ctx, query)


@router.get("/categories", responses=_ERRORS)
async def get_category_totals(
    query: Annotated[CategoriesQuery, Query()], session: SessionDep, ctx: DashboardReader
) -> list[CategoryTotal]:
    """Totals per category, type and currency, largest first."""
    return await dashboard_service.categories(session, ctx, query)


@router.get("/trends", responses=_ERRORS)
async def get_trends(
    query: Annotated[TrendsQuery, Query()], session: SessionDep, ctx: DashboardReader
) -> list[TrendPoint]:
    """Income, expense and net per day, ISO week or month, empty periods included."""
    return await dashboard_service.trends(session, ctx, query)


@router.get("/recent", responses=_ERRORS)
async def get_recent(
    query: Annotated[RecentQuery, Query()], session: SessionDep, ctx: DashboardReader
) -> list[RecordRead]:
    """The latest records by date, then by creation."""
    return await dashboard_service.recent(session, ctx, query)


@router.get("/insights", responses=error_responses(401, 403, 404, 422, 429))
async def get_insights(
    query: Annotated[InsightsQuery, Query()], session: SnapshotSessionDep, ctx: InsightsReader
) -> Insights:
    """Monthly expense average and median, top expense categories, month-over-month change and
    the largest records of the period (analysts and admins)."""
    return await dashboard_service.insights(session, ctx, query)


@router.get("/balances", responses=_ERRORS)
async def get_balances(
    query: Annotated[NetWorthQuery, Query()], session: SnapshotSessionDep, ctx: DashboardReader
) -> list[NetWorthPoint]:
    """Net worth over time: the non-archived accounts' end-of-period balances, per currency
    (``by=account``: per account)."""
    return await net_worth.net_worth(session, ctx, query)
