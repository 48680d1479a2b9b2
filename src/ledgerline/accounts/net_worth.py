"""Net worth over time: the org's non-archived accounts' balances summed per currency."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import balances
from ledgerline.accounts.models import Account
from ledgerline.accounts.schemas import NetWorthPoint, NetWorthQuery
from ledgerline.core.db import read_in_snapshot
from ledgerline.core.money import format_amount
from ledgerline.orgs.dependencies import OrgContext


async def net_worth(
    session: AsyncSession, ctx: OrgContext, query: NetWorthQuery
) -> list[NetWorthPoint]:
    """End-of-period balances of the non-archived accounts summed per currency (or one
    series per account, in name order), period by period."""
    await read_in_snapshot(session)
    accounts = list(
        await session.scalars(
            select(Account)
            .where(
                Account.org_id == ctx.org_id,
                Account.archived.is_(False),
                *([Account.id.in_(sorted(set(query.account_id)))] if query.account_id else []),
            )
            .order_by(Account.name_key, Account.id)
        )
    )
    keys, by_account = await balances.series_of(
        session, accounts, query.date_from, query.date_to, query.granularity
    )
    if not keys:
        return []
    series: list[tuple[str, uuid.UUID | None, list[int]]]
    if query.by is not None:
        series = [(a.currency, a.id, by_account[a.id]) for a in accounts]
    else:
        totals: dict[str, list[int]] = {}
        for account in accounts:
            summed = totals.setdefault(account.currency, [0] * len(keys))
            for index, minor in enumerate(by_account[account.id]):
                summed[index] += minor
        series = [(currency, None, totals[currency]) for currency in sorted(totals)]
    return [
        NetWorthPoint(
            period=key,
            currency=currency,
            balance=format_amount(points[index], currency),
            account_id=account_id,
        )
        for index, key in enumerate(keys)
        for currency, account_id, points in series
    ]
