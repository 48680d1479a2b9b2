"""The dashboard: the API's dashboard services for a chosen period, as cards, charts and tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from ledgerline.accounts import net_worth
from ledgerline.accounts.models import Account
from ledgerline.accounts.schemas import NetWorthQuery
from ledgerline.core.deps import SessionDep, SnapshotSessionDep
from ledgerline.core.errors import ValidationFailed
from ledgerline.core.money import MoneyError, normalize_currency
from ledgerline.dashboard import service as dashboard_service
from ledgerline.dashboard.schemas import (
    CategoriesQuery,
    DashboardRange,
    DateRange,
    Granularity,
    InsightsQuery,
    RecentQuery,
    TrendsQuery,
)
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.permissions import Permission, role_allows
from ledgerline.records.schemas import RecordType
from ledgerline.web.dependencies import DashboardReader, WebCaller, frame
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import FieldErrors, errors_of
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


class Preset(StrEnum):
    THIS_MONTH = "this-month"
    LAST_MONTH = "last-month"
    THIS_YEAR = "this-year"
    LAST_12_MONTHS = "last-12-months"
    CUSTOM = "custom"


PRESET_LABELS = {
    Preset.THIS_MONTH: "This month",
    Preset.LAST_MONTH: "Last month",
    Preset.THIS_YEAR: "This year",
    Preset.LAST_12_MONTHS: "Last 12 months",
    Preset.CUSTOM: "Custom range",
}


@dataclass(frozen=True, slots=True)
class Period:
    preset: Preset
    date_from: dt.date
    date_to: dt.date


def _month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def preset_range(preset: Preset, today: dt.date) -> tuple[dt.date, dt.date]:
    if preset is Preset.THIS_MONTH:
        return _month_start(today), today
    if preset is Preset.LAST_MONTH:
        start = _month_start(today, 1)
        return start, _month_start(today) - dt.timedelta(days=1)
    if preset is Preset.THIS_YEAR:
        return dt.date(today.year, 1, 1), today
    return _month_start(today, 11), today


def _period(request: Request, today: dt.date) -> tuple[Period, FieldErrors]:
    params = request.query_params
    try:
        preset = Preset(params.get("period") or Preset.LAST_12_MONTHS)
    except ValueError:
        return Period(Preset.LAST_12_MONTHS, *preset_range(Preset.LAST_12_MONTHS, today)), {
            "period": "choose one of the listed periods"
        }
    if preset is not Preset.CUSTOM:
        return Period(preset, *preset_range(preset, today)), {}
    fallback = preset_range(Preset.LAST_12_MONTHS, today)
    try:
        dates = DateRange.model_validate(
            {
                "date_from": params.get("date_from") or fallback[0].isoformat(),
                "date_to": params.get("date_to") or today.isoformat(),
            }
        )
    except ValidationError as exc:
        return Period(Preset.CUSTOM, *fallback), errors_of(exc)
    assert dates.date_from is not None
    assert dates.date_to is not None
    return Period(Preset.CUSTOM, dates.date_from, dates.date_to), {}


def _granularity(request: Request) -> Granularity:
    try:
        return Granularity(request.query_params.get("granularity") or Granularity.MONTH)
    except ValueError:
        return Granularity.MONTH


@dataclass(frozen=True, slots=True)
class BalanceRow:
    period: str
    accounts: list[str]
    net_worth: str


@dataclass(frozen=True, slots=True)
class Balances:
    """Account balances and net worth over the period, in one currency: the answers of
    ``GET /dashboard/balances`` with and without ``by=account``, from one read."""

    currency: str
    accounts: list[Account]
    rows: list[BalanceRow]

    def chart(self) -> dict[str, object]:
        return {
            "periods": [row.period for row in self.rows],
            "accounts": [
                {"name": account.name, "data": [row.accounts[i] for row in self.rows]}
                for i, account in enumerate(self.accounts)
            ],
            "net_worth": [row.net_worth for row in self.rows],
        }


async def _balances(
    session: SessionDep,
    ctx: OrgContext,
    period: Period,
    granularity: Granularity,
    currency: str,
) -> Balances | None:
    """None when the caller may not read accounts or no account of ``currency`` has a balance
    in the period; a range with too many periods raises as the trend does."""
    if not role_allows(ctx.role, Permission.ACCOUNTS_READ):
        return None
    dates = {"date_from": period.date_from, "date_to": period.date_to, "granularity": granularity}
    worth = await net_worth.read(session, ctx, NetWorthQuery(**dates))
    totals = [point for point in worth.per_currency() if point.currency == currency]
    if not totals:
        return None
    accounts = [account for account in worth.accounts if account.currency == currency]
    balance = {(p.account_id, p.period): p.balance for p in worth.per_account()}
    rows = [
        BalanceRow(
            period=point.period,
            accounts=[balance.get((a.id, point.period), "0") for a in accounts],
            net_worth=point.balance,
        )
        for point in totals
    ]
    return Balances(currency=currency, accounts=accounts, rows=rows)


@router.get("/orgs/{org_id}/dashboard")
async def dashboard_page(
    request: Request, session: SnapshotSessionDep, ctx: DashboardReader, caller: WebCaller
) -> Response:
    """Reads exactly the API's dashboard services, so the figures are the API's figures, all
    in one snapshot, so they agree with each other whatever is written meanwhile."""
    today = dt.date.today()
    period, errors = _period(request, today)
    granularity = _granularity(request)
    dates = DashboardRange(date_from=period.date_from, date_to=period.date_to)
    summary = await dashboard_service.summary(session, ctx, dates)
    currencies = [totals.currency for totals in summary.by_currency] or [ctx.org.currency]
    try:
        currency = normalize_currency(request.query_params.get("currency") or ctx.org.currency)
    except MoneyError:
        currency = ctx.org.currency
    try:
        trend = await dashboard_service.trends(
            session,
            ctx,
            TrendsQuery(date_from=dates.date_from, date_to=dates.date_to, granularity=granularity),
        )
    except ValidationFailed as exc:
        errors.update(errors_of(exc))
        trend = []
    categories = await dashboard_service.categories(
        session, ctx, CategoriesQuery(date_from=dates.date_from, date_to=dates.date_to)
    )
    recent = await dashboard_service.recent(
        session, ctx, RecentQuery(date_from=dates.date_from, date_to=dates.date_to, limit=10)
    )
    try:
        balances = await _balances(session, ctx, period, granularity, currency)
    except ValidationFailed as exc:
        errors.update(errors_of(exc))
        balances = None
    insights = None
    if role_allows(ctx.role, Permission.INSIGHTS_READ):
        insights = await dashboard_service.insights(
            session,
            ctx,
            InsightsQuery(date_from=dates.date_from, date_to=dates.date_to, currency=currency),
        )
    trend_points = [point for point in trend if point.currency == currency]
    shown_categories = [total for total in categories if total.currency == currency]
    return render(
        request,
        "dashboard.html",
        {
            **await frame(request, session, caller, ctx),
            "period": period,
            "presets": PRESET_LABELS,
            "granularity": granularity,
            "granularities": list(Granularity),
            "errors": errors,
            "summary": summary,
            "currency": currency,
            "currencies": currencies,
            "trend": trend_points,
            "expense_categories": [c for c in shown_categories if c.type is RecordType.EXPENSE],
            "income_categories": [c for c in shown_categories if c.type is RecordType.INCOME],
            "recent": recent,
            "insights": insights,
            "balances": balances,
            "chart_data": {
                "balances": balances.chart() if balances is not None else None,
                "currency": currency,
                "trend": [p.model_dump(mode="json") for p in trend_points],
                "expense": [
                    c.model_dump(mode="json")
                    for c in shown_categories
                    if c.type is RecordType.EXPENSE
                ],
                "income": [
                    c.model_dump(mode="json")
                    for c in shown_categories
                    if c.type is RecordType.INCOME
                ],
            },
        },
    )
