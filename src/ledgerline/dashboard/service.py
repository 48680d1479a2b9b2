"""Dashboard figures, read from the aggregates (``dashboard.models``: whole months from the
monthly ones, single days from the daily ones), never from the records table except for the
few rows ``recent`` and ``largest_records`` list, each through an index that stops after them;
so a request costs the same at any size."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.compiled_select import CompiledSelect
from ledgerline.core.db import is_postgresql, read_in_snapshot
from ledgerline.core.errors import FieldError, ValidationFailed
from ledgerline.core.money import amount_formatter, format_amount, minor_digits
from ledgerline.dashboard import periods, queries
from ledgerline.dashboard.aggregates import join_halves
from ledgerline.dashboard.queries import EXPENSE, INCOME
from ledgerline.dashboard.schemas import (
    CategoriesQuery,
    CategoryShare,
    CategoryTotal,
    Change,
    CurrencyTotals,
    DashboardRange,
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
from ledgerline.records.schemas import RecordRead

TREND_POINTS = TypeAdapter(list[TrendPoint])
COUNT = "count"
TOP_CATEGORIES = 5
LARGEST_RECORDS = 5
DATE_SCAN_LIMIT = 2_000
"""Up to this many records in the period, its largest ones are found by sorting the period."""
AMOUNT_WALK_LIMIT = 10_000
WALK_FIRST_PAGE = 256


def _zero() -> dict[str, int]:
    return {INCOME: 0, EXPENSE: 0, COUNT: 0}


async def summary(session: AsyncSession, ctx: OrgContext, dates: DashboardRange) -> Summary:
    by_currency = await filtered_totals(session, ctx, dates)
    own = next(
        (totals for totals in by_currency if totals.currency == ctx.org.currency),
        _currency_totals(ctx.org.currency, {}),
    )
    return Summary(
        currency=own.currency,
        total_income=own.total_income,
        total_expense=own.total_expense,
        net_balance=own.net_balance,
        record_count=own.record_count,
        by_currency=by_currency,
    )


async def filtered_totals(
    session: AsyncSession,
    ctx: OrgContext,
    dates: DashboardRange,
    *,
    kind: str | None = None,
    currency: str | None = None,
    category_ids: list[uuid.UUID] | None = None,
) -> list[CurrencyTotals]:
    """Per currency, the figures of the records of the range, and of a type, a currency and
    some categories (``None``: any category; ``[]``: none) when given: the summary, and the
    records page's totals, at the same cost for any number of records."""
    if category_ids is not None and not category_ids:
        return []
    of_categories = category_ids is not None
    shape, parameters = queries.range_of(
        ctx.org_id, dates, by_category=of_categories, currency=currency, kind=kind
    )
    if of_categories:
        parameters["category_ids"] = category_ids
    statement = queries.currency_type_totals(shape, of_categories=of_categories)
    rows = (
        await statement.all(session, parameters)
        if isinstance(statement, CompiledSelect)
        else await session.execute(statement, parameters)
    )
    totals: dict[str, dict[str, int]] = defaultdict(_zero)
    for row_currency, row_kind, high, low, count in rows:
        totals[row_currency][row_kind] = join_halves(high, low)
        totals[row_currency][COUNT] += int(count)
    return [_currency_totals(c, totals[c]) for c in sorted(totals)]


def _currency_totals(currency: str, figures: dict[str, int]) -> CurrencyTotals:
    income, expense = figures.get(INCOME, 0), figures.get(EXPENSE, 0)
    return CurrencyTotals(
        currency=currency,
        total_income=format_amount(income, currency),
        total_expense=format_amount(expense, currency),
        net_balance=format_amount(income - expense, currency),
        record_count=figures.get(COUNT, 0),
    )


async def categories(
    session: AsyncSession, ctx: OrgContext, query: CategoriesQuery
) -> list[CategoryTotal]:
    """Totals per category, type and currency, largest first: totals compare by value (major
    units, as the record list's amount sort does), ties by category, type, then currency."""
    kind = query.type.value if query.type is not None else None
    rows = await session.execute(*queries.category_totals_of(ctx.org_id, query, kind))
    totals = [
        (join_halves(high, low), name, kind_, currency, int(count))
        for name, kind_, currency, high, low, count in rows
    ]
    totals.sort(
        key=lambda t: (-Fraction(t[0], 10 ** minor_digits(t[3])), t[1].casefold(), t[2], t[3])
    )
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
    session: AsyncSession, org_id: uuid.UUID, dates: DashboardRange, currency: str | None = None
) -> tuple[dt.date, dt.date] | None:
    """The given range, its missing ends taken from the first and last day with records."""
    if dates.date_from is not None and dates.date_to is not None:
        return dates.date_from, dates.date_to
    shape, parameters = queries.days_of(org_id, dates, currency)
    first, last = (await session.execute(queries.first_and_last_day(shape), parameters)).one()
    if first is None:
        return None
    return dates.date_from or first, dates.date_to or last


@dataclass(frozen=True, slots=True)
class PeriodSums:
    """(period, currency) -> income and expense in minor units, and the record count; and the
    first days of the first and last periods with records (None when there are none)."""

    figures: dict[tuple[str, str], dict[str, int]]
    span: tuple[dt.date, dt.date] | None

    def get(self, key: str, currency: str) -> dict[str, int]:
        return self.figures.get((key, currency)) or _zero()


async def _period_sums(
    session: AsyncSession,
    org_id: uuid.UUID,
    dates: DashboardRange,
    granularity: Granularity,
    currency: str | None = None,
) -> PeriodSums:
    """Summed by the database per period: a row per period and currency."""
    if granularity is Granularity.MONTH:
        shape, parameters = queries.range_of(org_id, dates, by_category=False, currency=currency)
    else:
        shape, parameters = queries.days_of(org_id, dates, currency)
    statement = queries.period_sums(shape, granularity, postgresql=is_postgresql(session))
    by_period = (await session.execute(statement, parameters)).all()
    key_of = periods.KEYS[granularity]
    return PeriodSums(
        figures={
            (key_of(first_day), row_currency): {
                INCOME: join_halves(income_high, income_low),
                EXPENSE: join_halves(expense_high, expense_low),
                COUNT: int(count),
            }
            for (
                first_day,
                row_currency,
                income_high,
                income_low,
                expense_high,
                expense_low,
                count,
            ) in by_period
        },
        span=(by_period[0][0], by_period[-1][0]) if by_period else None,
    )


async def trends(session: AsyncSession, ctx: OrgContext, query: TrendsQuery) -> list[TrendPoint]:
    """Every period of the range; an open end is the first or last period with records, read
    from the sums themselves."""
    if query.date_from is not None and query.date_to is not None:
        check_period_count(query.date_from, query.date_to, query.granularity)
    sums = await _period_sums(session, ctx.org_id, query, query.granularity)
    if query.date_from is not None and query.date_to is not None:
        start, end = query.date_from, query.date_to
    elif sums.span is None:
        return []
    else:
        start, end = query.date_from or sums.span[0], query.date_to or sums.span[1]
        check_period_count(start, end, query.granularity)
    currencies = sorted({currency for _key, currency in sums.figures}) or [ctx.org.currency]
    formatters = {currency: amount_formatter(currency) for currency in currencies}
    empty = {currency: formatters[currency](0) for currency in currencies}
    points = []
    for key in periods.period_keys(start, end, query.granularity):
        for currency in currencies:
            figures = sums.figures.get((key, currency))
            if figures is None:
                income_text = expense_text = net_text = empty[currency]
            else:
                income, expense = figures[INCOME], figures[EXPENSE]
                as_text = formatters[currency]
                income_text, expense_text = as_text(income), as_text(expense)
                net_text = as_text(income - expense)
            points.append(
                {
                    "period": key,
                    "income": income_text,
                    "expense": expense_text,
                    "net": net_text,
                    "currency": currency,
                }
            )
    # Validated in one call: a day trend over years is thousands of points.
    return TREND_POINTS.validate_python(points)


def check_period_count(start: dt.date, end: dt.date, granularity: Granularity) -> None:
    if periods.period_count(start, end, granularity) > periods.MAX_PERIODS:
        raise ValidationFailed(
            [
                FieldError(
                    "query.granularity",
                    f"the range spans more than {periods.MAX_PERIODS} "
                    "periods; narrow the dates or choose a coarser granularity",
                )
            ]
        )


async def recent(session: AsyncSession, ctx: OrgContext, query: RecentQuery) -> list[RecordRead]:
    """The latest records by date, then by creation (``queries.latest_records``)."""
    shape, parameters = queries.dated_of(ctx.org_id, query)
    rows = await session.execute(
        queries.latest_records(shape), {**parameters, "limit": query.limit}
    )
    return record_queries.read_rows(rows)


async def _largest_records(
    session: AsyncSession, ctx: OrgContext, dates: DashboardRange, currency: str, in_period: int
) -> list[RecordRead]:
    """The period's largest records of ``currency``, without sorting a large period.

    A period of few records is sorted (through the date index). In a larger one the org's
    records are walked from the largest down (the amount index) until enough fall in the
    period: about ``LARGEST_RECORDS * records / in_period`` rows. Left to themselves, planners
    do not know how dates and amounts relate: SQLite sorts the whole period (five seconds for
    two years of a million records).
    """
    if in_period == 0:
        return []
    ids = (
        await _walk_amounts(session, ctx, dates, currency) if in_period > DATE_SCAN_LIMIT else None
    )
    if ids is None:
        shape, parameters = queries.dated_of(ctx.org_id, dates)
        rows = await session.execute(
            queries.largest_records_by_sorting(shape, LARGEST_RECORDS),
            {**parameters, "currency": currency},
        )
        return record_queries.read_rows(rows)
    rows = await session.execute(queries.RECORDS_BY_IDS, {"org_id": ctx.org_id, "ids": ids})
    found = {read.id: read for read in record_queries.read_rows(rows)}
    # A record deleted since the walk (another transaction, on PostgreSQL) is left out.
    return [found[record_id] for record_id in ids if record_id in found]


async def _walk_amounts(
    session: AsyncSession, ctx: OrgContext, dates: DashboardRange, currency: str
) -> list[uuid.UUID] | None:
    """Ids of the period's largest records, from the org's largest down; None when the first
    ``AMOUNT_WALK_LIMIT`` hold too few (the period is then small enough to sort).

    Read in pages that grow fourfold, each continuing after the last row of the one before:
    a period that holds a fair share of the records is found in the first page, one query.
    """
    first, last = dates.date_from or dt.date.min, dates.date_to or dt.date.max
    ids: list[uuid.UUID] = []
    walked, page, after = 0, WALK_FIRST_PAGE, None
    parameters: dict[str, Any] = {"org_id": ctx.org_id, "currency": currency}
    if dates.account_id:
        parameters["account_ids"] = sorted(set(dates.account_id))
    while walked < AMOUNT_WALK_LIMIT:
        statement = queries.amounts_from_largest(
            accounts=bool(dates.account_id), after=after is not None
        )
        parameters["limit"] = min(page, AMOUNT_WALK_LIMIT - walked)
        if after is not None:
            parameters["after_amount"], parameters["after_id"] = after
        rows = (await session.execute(statement, parameters)).all()
        for record_id, day, _amount in rows:
            if first <= day <= last:
                ids.append(record_id)
                if len(ids) == LARGEST_RECORDS:
                    return ids
        if len(rows) < page:
            break
        walked += len(rows)
        after, page = (rows[-1].amount_scaled, rows[-1].id), page * 4
    return None


def _percent(part: int, whole: int) -> str:
    """``part / whole`` in percent, exactly rounded half to even to two decimals (a change too
    small to show is ``0.00``, not ``-0.00``)."""
    return str(Decimal(round(Fraction(part * 10_000, whole))).scaleb(-2))


def _median(values: list[int]) -> Fraction:
    """Exact: ``statistics.median`` averages the middle pair through a float."""
    if not values:
        return Fraction(0)
    ordered, middle = sorted(values), len(values) // 2
    if len(ordered) % 2:
        return Fraction(ordered[middle])
    return Fraction(ordered[middle - 1] + ordered[middle], 2)


def _minor_of(value: Fraction) -> int:
    """Round a fractional minor-unit figure (an average, a median) half to even."""
    return round(value)


async def insights(session: AsyncSession, ctx: OrgContext, query: InsightsQuery) -> Insights:
    await read_in_snapshot(session)
    currency = query.currency or ctx.org.currency
    bounds = await _bounds(session, ctx.org_id, query, currency)
    monthly = await _period_sums(session, ctx.org_id, query, Granularity.MONTH, currency)
    month_keys = list(periods.period_keys(*bounds, Granularity.MONTH)) if bounds else []
    in_month = [monthly.get(key, currency) for key in month_keys]
    expenses = [figures[EXPENSE] for figures in in_month]
    total_expense = sum(expenses)
    average = Fraction(total_expense, len(expenses)) if expenses else Fraction(0)
    median = _median(expenses)

    category_rows = await session.execute(
        *queries.category_totals_of(ctx.org_id, query, EXPENSE, currency)
    )
    category_totals = sorted(
        ((join_halves(high, low), name) for name, _kind, _cur, high, low, _n in category_rows),
        key=lambda t: (-t[0], t[1].casefold()),
    )[:TOP_CATEGORIES]

    in_period = sum(figures[COUNT] for figures in in_month)
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
        month_over_month=await _month_over_month(
            session, ctx, query, month_keys, monthly, currency
        ),
        largest_records=await _largest_records(session, ctx, query, currency, in_period),
    )


async def _month_over_month(
    session: AsyncSession,
    ctx: OrgContext,
    query: DashboardRange,
    month_keys: list[str],
    monthly: PeriodSums,
    currency: str,
) -> MonthOverMonth | None:
    """The period's last month (the part of it in the period) against the whole calendar month
    before it. That month may start before the period, or before ``date_from`` cuts it, so
    unless the period covers all of it, it is read from the aggregates on its own. Its range is
    built without a request's validation: before January 1900 it lies outside the calendar the
    API takes, and holds nothing."""
    if not month_keys:
        return None
    current_key = month_keys[-1]
    previous_key = periods.previous_month(current_key)
    year, month = (int(part) for part in previous_key.split("-"))
    start = dt.date(year, month, 1)
    if query.date_from is None or query.date_from <= start:
        previous = monthly.get(previous_key, currency)
    else:
        end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        outside = await _period_sums(
            session,
            ctx.org_id,
            DashboardRange.model_construct(
                date_from=start, date_to=end, account_id=query.account_id
            ),
            Granularity.MONTH,
            currency,
        )
        previous = outside.get(previous_key, currency)
    current = monthly.get(current_key, currency)
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
