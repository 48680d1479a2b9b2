"""Reconciliation and closed periods.

Reconciling compares a bank statement's balance with the account's computed balance at the
statement's date; with ``lock`` and no difference it sets ``reconciled_through``, closing the
account's records on or before that date: no write may then create, change, delete or restore
one of them (409).

Closed periods hold under concurrency on PostgreSQL through a per-account advisory lock held to
the commit: every writer takes it shared before it reads ``reconciled_through`` (writers do not
block each other), reconciling takes it exclusively before it reads the balance. So a record
written while its account is being reconciled either committed first (the reconciliation's
balance counts it) or reads the new date and is refused; none slips in behind. A writer may
take the lock in the statement that finds its account and read the closed period in its write
statement (``shared_lock_of``, ``UncheckedPeriod``): what matters is that the read begins after
the lock. A write made of one statement takes the lock and reads the period through a function
whose read takes a snapshot of its own (``closed_through``). An advisory lock rather than the
account row's ``FOR KEY SHARE``/``FOR UPDATE``: row lockers that share a lock can overtake a
waiting exclusive one, so a steady stream of writers starved reconciliation for minutes, where
the lock manager queues requests in order. SQLite runs one writing transaction at a time
anyway.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import balances
from ledgerline.accounts.models import Account, AccountFacts
from ledgerline.accounts.schemas import ReconcileRequest, ReconcileResult
from ledgerline.accounts.service import account_in_org, signed_minor
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.compiled_select import CompiledSelect
from ledgerline.core.db import is_postgresql
from ledgerline.core.errors import Conflict
from ledgerline.core.money import format_amount
from ledgerline.dashboard import aggregates
from ledgerline.orgs.dependencies import OrgContext


def _lock_key(account_id: uuid.UUID | ColumnElement[uuid.UUID]) -> ColumnElement[int]:
    """The account's closing-lock key, a 64-bit hash of its id computed by PostgreSQL, so that a
    writer can take the lock in the very statement that finds its account
    (``shared_lock_of``)."""
    text = literal(str(account_id)) if isinstance(account_id, uuid.UUID) else cast(account_id, Text)
    digest = func.md5(literal("account_closing:") + text)
    return cast(cast(literal("x") + func.substr(digest, 1, 16), BIT(64)), BigInteger)


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
        locks = [shared_lock_of(account_id) for account_id in sorted(earliest)]
        rebuild = aggregates.shared_rebuild_lock(session, org_id)
        await session.execute(select(*locks, *([rebuild] if rebuild is not None else [])))
    elif known.keys() >= earliest.keys():
        _refuse_closed(earliest, [(a.id, a.name, a.reconciled_through) for a in known.values()])
        return
    rows = await session.execute(_CLOSED_PERIODS, {"org_id": org_id, "ids": sorted(earliest)})
    _refuse_closed(earliest, rows)


def shared_lock_of(account_id: uuid.UUID | ColumnElement[uuid.UUID]) -> ColumnElement[Any]:
    """A column for a PostgreSQL writer's statement that finds its account (``account_id``): it
    takes the account's closing lock shared as the row is found, a round trip fewer than
    ``require_open``. The statement read the row in a snapshot taken before the lock: the
    closed period must be read again by a later statement (``UncheckedPeriod``)."""
    return func.pg_advisory_xact_lock_shared(_lock_key(account_id))


def closed_through(account_id: ColumnElement[uuid.UUID]) -> ColumnElement[dt.date]:
    """A column for a PostgreSQL write made of one statement: it takes the account's closing
    lock shared, then reads the account's ``reconciled_through`` in a snapshot taken after the
    lock, through ``ledgerline_closed_through`` (migration 0013). Within one statement the
    lock and the read cannot be apart otherwise: a statement's own reads see the snapshot it
    began with, where a VOLATILE function's statements each take one of their own."""
    return func.ledgerline_closed_through(account_id, _lock_key(account_id), type_=Date)


class ClosedPeriod(NamedTuple):
    """An account's closed period: its records dated on or before ``reconciled_through``."""

    id: uuid.UUID
    name: str
    reconciled_through: dt.date | None


@dataclass(frozen=True, slots=True)
class UncheckedPeriod:
    """A write to ``account_id`` on or after ``earliest`` whose transaction holds the account's
    closing lock (``shared_lock_of``) and has yet to read its closed period: with ``read``,
    in any statement that begins after the lock (the write's own, ``aggregates.apply``'s
    ``then_read``), whose rows ``require_open`` checks."""

    account_id: uuid.UUID
    earliest: dt.date

    read: ClassVar[CompiledSelect[ClosedPeriod]] = CompiledSelect(
        select(Account.id, Account.name, Account.reconciled_through).where(
            Account.id == bindparam("closing_account_id")
        ),
        ClosedPeriod,
    )

    @property
    def parameters(self) -> dict[str, Any]:
        return {"closing_account_id": self.account_id}

    def require_open(self, rows: Iterable[Sequence[Any]]) -> None:
        """Refuse (409) if the rows ``read`` found say the period is closed."""
        _refuse_closed({self.account_id: self.earliest}, rows)


def _refuse_closed(
    earliest: dict[uuid.UUID, dt.date],
    periods: Iterable[Sequence[Any]],
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
