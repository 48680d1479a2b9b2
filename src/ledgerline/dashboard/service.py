"""Dashboard figures, read from ``daily_totals`` (never from the records table, except the
few rows ``recent`` and ``largest_records`` list), so a request costs the same at any size."""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.errors import FieldError, ValidationFailed
from ledgerline.core.money import format_amount
from ledgerline.dashboard import periods
from ledgerline.dashboard.aggregates import join_halves
from ledgerline.dashboard.models import DailyTotal
from ledgerline.dashboard.schemas import (
    CategoriesQuery,
    CategoryShare,
    CategoryTotal,
    Change,
    CurrencyTotals,
    DateRange,
    Granularity,
    Insights,
    InsightsQuery,
    MonthlyExpense,
    MonthOverMonth,
    RecentQuery,
    Summary,
    TrendPoint,
    TrendsQuery,
)
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.records import queries as record_queries
from ledgerline.records.models import Category, Record
from ledgerline.records.schemas import RecordRead

INCOME, EXPENSE = "income", "expense"
TOP_CATEGORIES = 5
LARGEST_RECORDS = 5


def _in_range(org_id: uuid.UUID, dates: DateRange) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        DailyTotal.org_id == org_id,
        DailyTotal.record_count > 0,
    ]
    if dates.date_from is not None:
        conditions.append(DailyTotal.day >= dates.date_from)
    if dates.date_to is not None:
        conditions.append(DailyTotal.day <= dates.date_to)
    return conditions


def _sums() -> tuple[Any, Any, Any]:
    return (
        func.sum(DailyTotal.total_high),
        func.sum(DailyTotal.total_low),
        func.sum(DailyTotal.record_count),
    )


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


async def summary(session: AsyncSession, ctx: OrgContext, dates: DateRange) -> Summary:
    rows = await session.execute(
        select(DailyTotal.currency, DailyTotal.type, *_sums())
        .where(*_in_range(ctx.org_id, dates))
        .group_by(DailyTotal.currency, DailyTotal.type)
    )
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {INCOME: 0, EXPENSE: 0, "count": 0})
    for currency, kind, high, low, count in rows:
        totals[currency][kind] = join_halves(high, low)
        totals[currency]["count"] += int(count)
    by_currency = [_currency_totals(c, totals[c]) for c in sorted(totals)]
    own = _currency_totals(ctx.org.currency, totals.get(ctx.org.currency, {}))
    return Summary(
        currency=own.currency,
        total_income=own.total_income,
        total_expense=own.total_expense,
        net_balance=own.net_balance,
        record_count=own.record_count,
        by_currency=by_currency,
    )


def _currency_totals(currency: str, figures: dict[str, int]) -> CurrencyTotals:
    income, expense = figures.get(INCOME, 0), figures.get(EXPENSE, 0)
    return CurrencyTotals(
        currency=currency,
        total_income=format_amount(income, currency),
        total_expense=format_amount(expense, currency),
        net_balance=format_amount(income - expense, currency),
        record_count=figures.get("count", 0),
    )


def _category_totals(org_id: uuid.UUID, query: DateRange, kind: str | None) -> Select[Any]:
    conditions = _in_range(org_id, query)
    if kind is not None:
        conditions.append(DailyTotal.type == kind)
    return (
        select(Category.name, DailyTotal.type, DailyTotal.currency, *_sums())
        .join(Category, Category.id == DailyTotal.category_id)
        .where(*conditions)
        .group_by(Category.id, Category.name, DailyTotal.type, DailyTotal.currency)
    )


async def categories(
    session: AsyncSession, ctx: OrgContext, query: CategoriesQuery
) -> list[CategoryTotal]:
    kind = query.type.value if query.type is not None else None
    rows = await session.execute(_category_totals(ctx.org_id, query, kind))
    totals = [
        (join_halves(high, low), name, kind_, currency, int(count))
        for name, kind_, currency, high, low, count in rows
    ]
    totals.sort(key=lambda t: (-t[0], t[1].casefold(), t[2], t[3]))
    return [
        CategoryTotal(
            category=name,
            type=kind_,
            total=format_amount(total, currency),
            count=count,
            currency=currency,
        )
        for total, name, kind_, currency, count in totals
    ]


async def _bounds(
    session: AsyncSession, org_id: uuid.UUID, dates: DateRange, currency: str | None = None
) -> tuple[dt.date, dt.date] | None:
    """The given range, its missing ends taken from the first and last day with records."""
    if dates.date_from is not None and dates.date_to is not None:
        return dates.date_from, dates.date_to
    conditions = _in_range(org_id, dates)
    if currency is not None:
        conditions.append(DailyTotal.currency == currency)
    first, last = (
        await session.execute(
            select(func.min(DailyTotal.day), func.max(DailyTotal.day)).where(*conditions)
        )
    ).one()
    if first is None:
        return None
    return dates.date_from or first, dates.date_to or last


async def _period_sums(
    session: AsyncSession,
    org_id: uuid.UUID,
    dates: DateRange,
    granularity: Granularity,
    currency: str | None = None,
) -> dict[tuple[str, str], dict[str, int]]:
    """(period, currency) -> {income, expense} in minor units, summed by the database."""
    period = periods.sql_key(DailyTotal.day, granularity, _dialect(session)).label("period")
    conditions = _in_range(org_id, dates)
    if currency is not None:
        conditions.append(DailyTotal.currency == currency)
    rows = await session.execute(
        select(period, DailyTotal.currency, DailyTotal.type, *_sums())
        .where(*conditions)
        .group_by(period, DailyTotal.currency, DailyTotal.type)
    )
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {INCOME: 0, EXPENSE: 0})
    for key, row_currency, kind, high, low, _count in rows:
        sums[(key, row_currency)][kind] = join_halves(high, low)
    return sums


async def trends(session: AsyncSession, ctx: OrgContext, query: TrendsQuery) -> list[TrendPoint]:
    bounds = await _bounds(session, ctx.org_id, query)
    if bounds is None:
        return []
    start, end = bounds
    if periods.period_count(start, end, query.granularity) > periods.MAX_PERIODS:
        raise ValidationFailed(
            [
                FieldError(
                    "query.granularity",
                    f"the range spans more than {periods.MAX_PERIODS} "
                    "periods; narrow the dates or choose a coarser granularity",
                )
            ]
        )
    sums = await _period_sums(session, ctx.org_id, query, query.granularity)
    currencies = sorted({currency for _key, currency in sums}) or [ctx.org.currency]
    points = []
    for key in periods.period_keys(start, end, query.granularity):
        for currency in currencies:
            figures = sums.get((key, currency), {INCOME: 0, EXPENSE: 0})
            income, expense = figures[INCOME], figures[EXPENSE]
            points.append(
                TrendPoint(
                    period=key,
                    income=format_amount(income, currency),
                    expense=format_amount(expense, currency),
                    net=format_amount(income - expense, currency),
                    currency=currency,
                )
            )
    return points


def _dated_records(ctx: OrgContext, dates: DateRange) -> Select[Record, str]:
    statement = record_queries.records_of(ctx.org_id)
    if dates.date_from is not None:
        statement = statement.where(Record.date >= dates.date_from)
    if dates.date_to is not None:
        statement = statement.where(Record.date <= dates.date_to)
    return statement


async def recent(session: AsyncSession, ctx: OrgContext, query: RecentQuery) -> list[RecordRead]:
    rows = await session.execute(
        _dated_records(ctx, query)
        .order_by(Record.date.desc(), Record.created_at.desc(), Record.id.desc())
        .limit(query.limit)
    )
    return [record_queries.to_read(record, category) for record, category in rows]


def _percent(part: int, whole: int) -> str:
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_EVEN))


def _minor_of(value: Fraction) -> int:
    """Round a fractional minor-unit figure (an average, a median) half to even."""
    return round(value)


async def insights(session: AsyncSession, ctx: OrgContext, query: InsightsQuery) -> Insights:
    currency = query.currency or ctx.org.currency
    bounds = await _bounds(session, ctx.org_id, query, currency)
    monthly = await _period_sums(session, ctx.org_id, query, Granularity.MONTH, currency)
    month_keys = list(periods.period_keys(*bounds, Granularity.MONTH)) if bounds else []
    expenses = [monthly.get((key, currency), {EXPENSE: 0})[EXPENSE] for key in month_keys]
    total_expense = sum(expenses)
    average = Fraction(total_expense, len(expenses)) if expenses else Fraction(0)
    median = Fraction(statistics.median(expenses)) if expenses else Fraction(0)

    category_rows = await session.execute(
        _category_totals(ctx.org_id, query, EXPENSE).where(DailyTotal.currency == currency)
    )
    category_totals = sorted(
        ((join_halves(high, low), name) for name, _kind, _cur, high, low, _n in category_rows),
        key=lambda t: (-t[0], t[1].casefold()),
    )[:TOP_CATEGORIES]

    largest = await session.execute(
        _dated_records(ctx, query)
        .where(Record.currency == currency)
        .order_by(Record.amount_scaled.desc(), Record.id.desc())
        .limit(LARGEST_RECORDS)
    )
    return Insights(
        currency=currency,
        date_from=bounds[0] if bounds else query.date_from,
        date_to=bounds[1] if bounds else query.date_to,
        monthly_expense=MonthlyExpense(
            months=len(expenses),
            average=format_amount(_minor_of(average), currency),
            median=format_amount(_minor_of(median), currency),
        ),
        top_expense_categories=[
            CategoryShare(
                category=name,
                total=format_amount(total, currency),
                share=_percent(total, total_expense) if total_expense else "0.00",
            )
            for total, name in category_totals
        ],
        month_over_month=await _month_over_month(session, ctx, month_keys, monthly, currency),
        largest_records=[record_queries.to_read(r, category) for r, category in largest],
    )


async def _month_over_month(
    session: AsyncSession,
    ctx: OrgContext,
    month_keys: list[str],
    monthly: dict[tuple[str, str], dict[str, int]],
    currency: str,
) -> MonthOverMonth | None:
    """The period's last month against the calendar month before it (which may precede the
    period, so it is read from the aggregates when the period does not cover it)."""
    if not month_keys:
        return None
    current_key = month_keys[-1]
    previous_key = periods.previous_month(current_key)
    previous = monthly.get((previous_key, currency))
    if previous is None and previous_key not in month_keys:
        year, month = (int(part) for part in previous_key.split("-"))
        start = dt.date(year, month, 1)
        end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        outside = await _period_sums(
            session,
            ctx.org_id,
            DateRange(date_from=start, date_to=end),
            Granularity.MONTH,
            currency,
        )
        previous = outside.get((previous_key, currency))
    previous = previous or {INCOME: 0, EXPENSE: 0}
    current = monthly.get((current_key, currency), {INCOME: 0, EXPENSE: 0})
    return MonthOverMonth(
        month=current_key,
        previous_month=previous_key,
        income=_change(current[INCOME], previous[INCOME], currency),
        expense=_change(current[EXPENSE], previous[EXPENSE], currency),
    )


def _change(current: int, previous: int, currency: str) -> Change:
    return Change(
        current=format_amount(current, currency),
        previous=format_amount(previous, currency),
        change=format_amount(current - previous, currency),
        percent=_percent(current - previous, previous) if previous else None,
    )
