"""Reconciliation and closed periods.

Reconciling compares a bank statement's balance with the account's computed balance at the
statement's date; with ``lock`` and no difference it sets ``reconciled_through``, closing the
account's records on or before that date: no write may then create, change, delete or restore
one of them (409).

Closed periods hold under concurrency on PostgreSQL through a per-account advisory lock held
to the commit: every writer takes it shared before it reads ``reconciled_through`` (writers do
not block each other), reconciling takes it exclusively before it reads the balance. So a
record written while its account is being reconciled either committed first (the
reconciliation's balance counts it) or reads the new date and is refused; none slips in
behind. An advisory lock rather than the account row's ``FOR KEY SHARE``/``FOR UPDATE``: row
lockers that share a lock can overtake a waiting exclusive one, so a steady stream of writers
starved reconciliation for minutes, where the lock manager queues requests in order. SQLite
runs one writing transaction at a time anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import balances
from ledgerline.accounts.models import Account, AccountFacts
from ledgerline.accounts.schemas import ReconcileRequest, ReconcileResult
from ledgerline.accounts.service import account_in_org, signed_minor
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.db import is_postgresql
from ledgerline.core.errors import Conflict
from ledgerline.core.money import format_amount
from ledgerline.dashboard import aggregates
from ledgerline.orgs.dependencies import OrgContext


def _lock_key(account_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(b"account_closing:" + account_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PeriodClosed(Conflict):
    """A write touching an account's records on or before its ``reconciled_through``."""


_CLOSED_PERIODS = select(Account.id, Account.name, Account.reconciled_through).where(
    Account.org_id == bindparam("org_id"), Account.id.in_(bindparam("ids", expanding=True))
)


async def require_open(
    session: AsyncSession,
    org_id: uuid.UUID,
    touched: Iterable[tuple[uuid.UUID, dt.date]],
    *,
    read: Iterable[AccountFacts] = (),
) -> None:
    """Refuse (409) unless every (account, date) a write touches is after the account's
    closed period; the accounts' closing locks stay shared to the commit (module doc).

    ``read``: accounts the write's transaction has read already. On SQLite, whose one writer
    has held the database since its ``BEGIN IMMEDIATE``, their closed periods are current and
    are not read again; PostgreSQL reads them after taking the locks.
    """
    earliest: dict[uuid.UUID, dt.date] = {}
    for account_id, day in touched:
        earliest[account_id] = min(day, earliest.get(account_id, day))
    if not earliest:
        return
    known = {account.id: account for account in read}
    if is_postgresql(session):
        # The org's rebuild lock too, which the write's aggregates need (in the same order as
        # when it was taken apart, after the accounts'): one round trip for every lock.
        locks = [
            func.pg_advisory_xact_lock_shared(_lock_key(account_id))
            for account_id in sorted(earliest)
        ]
        rebuild = aggregates.shared_rebuild_lock(session, org_id)
        await session.execute(select(*locks, *([rebuild] if rebuild is not None else [])))
    elif known.keys() >= earliest.keys():
        _refuse_closed(earliest, [(a.id, a.name, a.reconciled_through) for a in known.values()])
        return
    rows = await session.execute(_CLOSED_PERIODS, {"org_id": org_id, "ids": sorted(earliest)})
    _refuse_closed(earliest, rows)


def _refuse_closed(
    earliest: dict[uuid.UUID, dt.date], periods: Iterable[tuple[uuid.UUID, str, dt.date | None]]
) -> None:
    for account_id, name, closed in periods:
        if account_id in earliest and closed is not None and earliest[account_id] <= closed:
            raise PeriodClosed(
                f"the account '{name}' is reconciled through {closed.isoformat()}: its records "
                f"dated on or before then are closed (an admin can reopen the period)"
            )


async def reconcile(
    session: AsyncSession, ctx: OrgContext, account_id: uuid.UUID, data: ReconcileRequest
) -> ReconcileResult:
    """Compare the statement with the computed balance and, asked to and matching, close the
    period. Writers are locked out first, so the balance read is final (module doc)."""
    if is_postgresql(session):
        await session.execute(select(func.pg_advisory_xact_lock(_lock_key(account_id))))
    account = await account_in_org(session, ctx.org_id, account_id, lock=True)
    statement = signed_minor(data.statement_balance, account.currency, "statement_balance")
    computed = (await balances.balances_on(session, [account], data.statement_date))[account.id]
    difference = statement - computed
    before = account.reconciled_through
    locked = before is not None and data.statement_date <= before
    if data.lock and difference == 0 and not locked:
        account.reconciled_through = data.statement_date
        account.version += 1
        await session.flush()
        locked = True
        audit_service.record_change(
            session,
            org_id=ctx.org_id,
            actor_id=ctx.user_id,
            action=AuditAction.ACCOUNT_RECONCILED,
            entity_type=EntityType.ACCOUNT,
            entity_id=account.id,
            changes={
                "reconciled_through": [
                    before.isoformat() if before else None,
                    data.statement_date.isoformat(),
                ],
                "statement_balance": [None, format_amount(statement, account.currency)],
            },
        )
    return ReconcileResult(
        statement_date=data.statement_date,
        statement_balance=format_amount(statement, account.currency),
        computed_balance=format_amount(computed, account.currency),
        difference=format_amount(difference, account.currency),
        locked=locked,
        reconciled_through=account.reconciled_through,
    )
