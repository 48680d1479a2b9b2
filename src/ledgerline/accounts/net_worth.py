"""Net worth over time: the org's non-archived accounts' balances summed per currency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import balances
from ledgerline.accounts.models import Account
from ledgerline.accounts.schemas import NetWorthPoint, NetWorthQuery
from ledgerline.core.db import read_in_snapshot
from ledgerline.core.money import format_amount
from ledgerline.orgs.dependencies import OrgContext


@dataclass(frozen=True, slots=True)
class NetWorth:
    """The non-archived accounts (in name order) and each one's balance in minor units at the
    end of every period of ``keys`` (none when the range has no period): what both forms of
    the answer are made of."""

    keys: list[str]
    accounts: list[Account]
    by_account: dict[uuid.UUID, list[int]]

    def per_account(self) -> list[NetWorthPoint]:
        if not self.keys:
            return []
        return self._points([(a.currency, a.id, self.by_account[a.id]) for a in self.accounts])

    def per_currency(self) -> list[NetWorthPoint]:
        if not self.keys:
            return []
        totals: dict[str, list[int]] = {}
        for account in self.accounts:
            summed = totals.setdefault(account.currency, [0] * len(self.keys))
            for index, minor in enumerate(self.by_account[account.id]):
                summed[index] += minor
        return self._points([(currency, None, totals[currency]) for currency in sorted(totals)])

    def _points(self, series: list[tuple[str, uuid.UUID | None, list[int]]]) -> list[NetWorthPoint]:
        return [
            NetWorthPoint(
                period=key,
                currency=currency,
                balance=format_amount(points[index], currency),
                account_id=account_id,
            )
            for index, key in enumerate(self.keys)
            for currency, account_id, points in series
        ]


async def read(session: AsyncSession, ctx: OrgContext, query: NetWorthQuery) -> NetWorth:
    """The balances of the non-archived accounts (those of ``query.account_id`` when given),
    period by period, in one snapshot."""
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
    return NetWorth(keys, accounts, by_account)


async def net_worth(
    session: AsyncSession, ctx: OrgContext, query: NetWorthQuery
) -> list[NetWorthPoint]:
    """End-of-period balances of the non-archived accounts summed per currency (or one
    series per account, in name order), period by period."""
    worth = await read(session, ctx, query)
    return worth.per_account() if query.by is not None else worth.per_currency()
