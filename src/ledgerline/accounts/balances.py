"""Account balances from the balance aggregates (``accounts.models``), never from the records:
a balance at a date reads the whole months before it from the monthly sums and the days of its
own month from the daily ones, so it costs the same at any number of records; a series reads
the sums of its range once and adds them up period by period."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts.models import Account, AccountDailyBalance, AccountMonthlyBalance
from ledgerline.core.db import is_postgresql, uuid_parameter
from ledgerline.core.money import amount_formatter
from ledgerline.dashboard import periods
from ledgerline.dashboard.aggregates import join_halves
from ledgerline.dashboard.queries import period_start
from ledgerline.dashboard.schemas import Granularity
from ledgerline.dashboard.service import check_period_count


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def opening_counts(account: Account, day: dt.date) -> bool:
    """The opening balance counts from its date on (always, when it has none)."""
    return account.opening_date is None or account.opening_date <= day


def _changes_through(*, of_accounts: bool) -> Select[Any]:
    """Per account of the org (of those bound to ``account_ids`` when ``of_accounts``), the
    summed halves of every change dated on or before ``day``, as ``high`` and ``low``: the
    whole months before ``month_start`` (the first of ``day``'s month), then its days."""

    def sums(
        table: type[AccountMonthlyBalance | AccountDailyBalance],
    ) -> Select[uuid.UUID, int, int]:
        part = select(
            table.account_id.label("account_id"),
            table.total_high.label("high"),
            table.total_low.label("low"),
        ).where(table.org_id == uuid_parameter("org_id"))
        if of_accounts:
            part = part.where(table.account_id.in_(uuid_parameter("account_ids", expanding=True)))
        return part

    months = sums(AccountMonthlyBalance).where(
        AccountMonthlyBalance.month < bindparam("month_start")
    )
    days = sums(AccountDailyBalance).where(
        AccountDailyBalance.day >= bindparam("month_start"),
        AccountDailyBalance.day <= bindparam("day"),
    )
    both = union_all(months, days).subquery()
    return select(
        both.c.account_id, func.sum(both.c.high).label("high"), func.sum(both.c.low).label("low")
    ).group_by(both.c.account_id)


_CHANGES_THROUGH = _changes_through(of_accounts=True)
"""Built once, as the dashboard's statements are (``dashboard.queries``): building it for each
request took 0.3 ms, longer than SQLite ran it."""
_ACTIVITY_SPAN = select(func.min(AccountDailyBalance.day), func.max(AccountDailyBalance.day)).where(
    AccountDailyBalance.org_id == uuid_parameter("org_id"),
    AccountDailyBalance.account_id.in_(uuid_parameter("account_ids", expanding=True)),
    AccountDailyBalance.record_count > 0,
)


@functools.cache
def _accounts_with_changes(*, include_archived: bool, one: bool) -> Select[Any]:
    """The org's accounts in name order (without the archived ones unless
    ``include_archived``; only the one bound to ``account_id`` when ``one``), each with the
    summed halves of its changes through ``day``: a balance and its account in one statement,
    so the two agree."""
    changes = _changes_through(of_accounts=False).subquery()
    statement = (
        select(Account, changes.c.high, changes.c.low)
        .outerjoin(changes, changes.c.account_id == Account.id)
        .where(Account.org_id == uuid_parameter("org_id"))
        .order_by(Account.name_key, Account.id)
    )
    if not include_archived:
        statement = statement.where(Account.archived.is_(False))
    if one:
        statement = statement.where(Account.id == uuid_parameter("account_id"))
    return statement


async def accounts_with_balances(
    session: AsyncSession,
    org_id: uuid.UUID,
    day: dt.date,
    *,
    include_archived: bool = False,
    account_id: uuid.UUID | None = None,
) -> list[tuple[Account, int]]:
    """The org's accounts (or the one ``account_id``, archived or not) with each one's balance
    at the end of ``day`` in minor units, in one statement."""
    statement = _accounts_with_changes(
        include_archived=include_archived or account_id is not None, one=account_id is not None
    )
    parameters: dict[str, Any] = {"org_id": org_id, "month_start": day.replace(day=1), "day": day}
    if account_id is not None:
        parameters["account_id"] = account_id
    rows = await session.execute(statement, parameters)
    return [
        (
            account,
            join_halves(high, low)
            + (account.opening_balance_minor if opening_counts(account, day) else 0),
        )
        for account, high, low in rows
    ]


async def net_changes_through(
    session: AsyncSession, org_id: uuid.UUID, account_ids: Sequence[uuid.UUID], day: dt.date
) -> dict[uuid.UUID, int]:
    """Per account, the net change of its live records dated on or before ``day`` (minor
    units; accounts without any are left out)."""
    if not account_ids:
        return {}
    rows = await session.execute(
        _CHANGES_THROUGH,
        {
            "org_id": org_id,
            "account_ids": list(account_ids),
            "month_start": day.replace(day=1),
            "day": day,
        },
    )
    return {account_id: join_halves(high, low) for account_id, high, low in rows}


async def balances_on(
    session: AsyncSession, accounts: Sequence[Account], day: dt.date
) -> dict[uuid.UUID, int]:
    """Each account's balance at the end of ``day``, in minor units, in one statement (the
    accounts of one org)."""
    if not accounts:
        return {}
    changes = await net_changes_through(session, accounts[0].org_id, [a.id for a in accounts], day)
    return {
        account.id: changes.get(account.id, 0)
        + (account.opening_balance_minor if opening_counts(account, day) else 0)
        for account in accounts
    }


async def _activity_span(
    session: AsyncSession, org_id: uuid.UUID, account_ids: Sequence[uuid.UUID]
) -> tuple[dt.date, dt.date] | None:
    """The first and last day with live records, read from the ends of the daily sums."""
    first, last = (
        await session.execute(_ACTIVITY_SPAN, {"org_id": org_id, "account_ids": list(account_ids)})
    ).one()
    if first is None:
        return None
    return first, last


async def _span(
    session: AsyncSession,
    accounts: Sequence[Account],
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> tuple[dt.date, dt.date] | None:
    """The series' range: the given dates, an open end taken from the first or last day with
    records or an opening date, as trends take theirs from the records."""
    if date_from is not None and date_to is not None:
        return date_from, date_to
    if not accounts:
        return None
    span = await _activity_span(session, accounts[0].org_id, [a.id for a in accounts])
    openings = [a.opening_date for a in accounts if a.opening_date is not None]
    known = [*(span or ()), *openings]
    if not known:
        return None
    start = date_from or min(known)
    end = date_to or max(known)
    if start > end:
        return None
    return start, end


def _balance_rows(
    table: type[AccountMonthlyBalance | AccountDailyBalance], day: Any, first: str, last: str
) -> Select[Any]:
    """``table``'s sums of the accounts bound to ``account_ids`` from the day bound to
    ``first`` to the one bound to ``last``, each with its ``day`` (a month's first day)."""
    return select(
        table.account_id.label("account_id"),
        day.label("day"),
        table.total_high.label("high"),
        table.total_low.label("low"),
    ).where(
        table.org_id == uuid_parameter("org_id"),
        table.account_id.in_(uuid_parameter("account_ids", expanding=True)),
        day >= bindparam(first),
        day <= bindparam(last),
    )


@functools.cache
def _period_changes_statement(
    months: bool, edges: int, granularity: Granularity, *, postgresql: bool
) -> Select[Any]:
    """Per account and period, the summed halves: whole months from the monthly sums (bound
    to ``first_month`` and ``last_month``) when there are, days from the daily ones (each
    edge bound to ``first_<i>`` and ``last_<i>``). Built once for each shape."""
    daily, monthly = AccountDailyBalance, AccountMonthlyBalance
    parts = [_balance_rows(monthly, monthly.month, "first_month", "last_month")] if months else []
    parts.extend(
        _balance_rows(daily, daily.day, f"first_{index}", f"last_{index}") for index in range(edges)
    )
    rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    start_of = period_start(rows.c.day, granularity, postgresql=postgresql)
    return select(
        rows.c.account_id, start_of, func.sum(rows.c.high), func.sum(rows.c.low)
    ).group_by(rows.c.account_id, start_of)


async def _period_changes(
    session: AsyncSession,
    org_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
    span: tuple[dt.date, dt.date],
    granularity: Granularity,
) -> dict[tuple[uuid.UUID, str], int]:
    """Net change per account and period key within the span: whole months from the monthly
    sums when the periods are months, days from the daily ones."""
    edges: tuple[tuple[dt.date, dt.date], ...] = (span,)
    months = None
    if granularity is Granularity.MONTH:
        split = periods.split_by_month(*span)
        edges, months = split.edges, split.months
    parameters: dict[str, Any] = {"org_id": org_id, "account_ids": list(account_ids)}
    if months is not None:
        parameters["first_month"], parameters["last_month"] = months
    for index, (first, last) in enumerate(edges):
        parameters[f"first_{index}"], parameters[f"last_{index}"] = first, last
    statement = _period_changes_statement(
        months is not None, len(edges), granularity, postgresql=is_postgresql(session)
    )
    summed = await session.execute(statement, parameters)
    key_of = periods.KEYS[granularity]
    return {
        (account_id, key_of(first_day)): join_halves(high, low)
        for account_id, first_day, high, low in summed
    }


def _period_end(key: str, granularity: Granularity) -> dt.date:
    if granularity is Granularity.DAY:
        return dt.date.fromisoformat(key)
    if granularity is Granularity.WEEK:
        return dt.date.fromisocalendar(int(key[:4]), int(key[6:]), 7)
    year, month = int(key[:4]), int(key[5:])
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


async def series_of(
    session: AsyncSession,
    accounts: Sequence[Account],
    date_from: dt.date | None,
    date_to: dt.date | None,
    granularity: Granularity,
) -> tuple[list[str], dict[uuid.UUID, list[int]]]:
    """The period keys of the range and, per account, its balance in minor units at the end
    of each (or of the range, for the last): three statements whatever the number of accounts
    and records (accounts of one org)."""
    if date_from is not None and date_to is not None:
        check_period_count(date_from, date_to, granularity)
    if not accounts:
        return [], {}
    span = await _span(session, accounts, date_from, date_to)
    if span is None:
        return [], {}
    start, end = span
    check_period_count(start, end, granularity)
    org_id, ids = accounts[0].org_id, [a.id for a in accounts]
    before = await net_changes_through(session, org_id, ids, start - dt.timedelta(days=1))
    changes = await _period_changes(session, org_id, ids, span, granularity)
    keys = list(periods.period_keys(start, end, granularity))
    closings = [min(_period_end(key, granularity), end) for key in keys]
    by_account: dict[uuid.UUID, list[int]] = {}
    for account in accounts:
        running, points = before.get(account.id, 0), []
        for key, closing in zip(keys, closings, strict=True):
            running += changes.get((account.id, key), 0)
            opening = account.opening_balance_minor if opening_counts(account, closing) else 0
            points.append(running + opening)
        by_account[account.id] = points
    return keys, by_account


async def series(
    session: AsyncSession,
    account: Account,
    date_from: dt.date | None,
    date_to: dt.date | None,
    granularity: Granularity,
) -> list[dict[str, str]]:
    """``{"period", "balance"}`` for every period of the range, each the balance at the end
    of the period, or at the end of the range for the last one."""
    keys, by_account = await series_of(session, [account], date_from, date_to, granularity)
    as_text = amount_formatter(account.currency)
    return [
        {"period": key, "balance": as_text(minor)}
        for key, minor in zip(keys, by_account.get(account.id, []), strict=True)
    ]
