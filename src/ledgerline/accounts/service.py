"""Accounts: their rules and writes (flushed, committed by the route layer), every change
audited in its own transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import balances
from ledgerline.accounts.models import Account, AccountFacts, AccountKind
from ledgerline.accounts.schemas import (
    AccountCreate,
    AccountListQuery,
    AccountRead,
    AccountUpdate,
    BalancePoint,
    BalancesQuery,
)
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core import idempotency
from ledgerline.core.db import read_in_snapshot, upsert_insert, utcnow
from ledgerline.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from ledgerline.core.ids import new_id
from ledgerline.core.money import format_amount, max_minor, minor_digits
from ledgerline.core.text import fold_key
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.records.models import Record

ACCOUNT_NOT_FOUND = "account not found"
DEFAULT_NAME_ATTEMPTS = 20


def signed_minor(amount: Decimal, currency: str, field: str) -> int:
    """A signed amount in the currency's minor units; more decimals than it has is a 422."""
    scaled = amount.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        message = f"has more decimals than {currency} allows ({minor_digits(currency)})"
        raise ValidationFailed([FieldError(field, message)])
    return int(scaled)


def to_read(account: Account, balance: int) -> AccountRead:
    return AccountRead(
        id=account.id,
        org_id=account.org_id,
        name=account.name,
        kind=AccountKind(account.kind),
        currency=account.currency,
        institution=account.institution,
        opening_balance=format_amount(account.opening_balance_minor, account.currency),
        opening_date=account.opening_date,
        archived=account.archived,
        is_default=account.is_default,
        balance=format_amount(balance, account.currency),
        reconciled_through=account.reconciled_through,
        created_at=account.created_at,
        updated_at=account.updated_at,
        version=account.version,
    )


_DEFAULT_ACCOUNT = select(Account).where(
    Account.org_id == bindparam("org_id"),
    Account.currency == bindparam("currency"),
    Account.is_default.is_(True),
)
_ACCOUNT_BY_ID = select(Account).where(
    Account.org_id == bindparam("org_id"), Account.id == bindparam("account_id")
)
"""Built once: record writes read one of them (a create reads the same columns as plain values,
with its category: ``records.service._account_and_category``)."""


async def default_account(session: AsyncSession, org_id: uuid.UUID, currency: str) -> Account:
    """The org's default account of ``currency``, created (``Main USD``) on first use.

    Two requests creating it at once insert one row: the loser's insert does nothing once the
    winner commits, and it reads the winner's row. Should a user's own account hold the name
    already, the default takes the first free ``Main USD 2``, ``Main USD 3``..."""
    found = await session.scalar(_DEFAULT_ACCOUNT, {"org_id": org_id, "currency": currency})
    if found is not None:
        return found
    now = utcnow()
    for attempt in range(1, DEFAULT_NAME_ATTEMPTS + 1):
        name = f"Main {currency}" if attempt == 1 else f"Main {currency} {attempt}"
        await session.execute(
            upsert_insert(session)(Account)
            .values(
                id=new_id(),
                org_id=org_id,
                name=name,
                name_key=fold_key(name),
                kind=AccountKind.OTHER.value,
                currency=currency,
                opening_balance_minor=0,
                archived=False,
                is_default=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
        found = await session.scalar(
            _DEFAULT_ACCOUNT.execution_options(populate_existing=True),
            {"org_id": org_id, "currency": currency},
        )
        if found is not None:
            return found
    raise Conflict(f"no free name for the default {currency} account; rename 'Main {currency}'")


async def default_accounts(
    session: AsyncSession, org_id: uuid.UUID, currencies: set[str], known: dict[str, uuid.UUID]
) -> dict[str, uuid.UUID]:
    """``known`` completed with the default account ids of ``currencies`` (imports)."""
    for currency in sorted(currencies - known.keys()):
        known[currency] = (await default_account(session, org_id, currency)).id
    return known


async def account_in_org(
    session: AsyncSession, org_id: uuid.UUID, account_id: uuid.UUID, *, lock: bool = False
) -> Account:
    statement = _ACCOUNT_BY_ID
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    account = await session.scalar(statement, {"org_id": org_id, "account_id": account_id})
    if account is None:
        raise NotFound(ACCOUNT_NOT_FOUND)
    return account


async def account_for_record(
    session: AsyncSession, org_id: uuid.UUID, account_id: uuid.UUID, currency: str | None
) -> Account:
    """The account a record names, which must exist in the org and hold the record's currency
    (422 naming both otherwise; ``currency`` None means the record takes the account's)."""
    account = await session.scalar(_ACCOUNT_BY_ID, {"org_id": org_id, "account_id": account_id})
    if account is None:
        raise ValidationFailed([FieldError("account_id", "no such account in this organization")])
    require_currency(account, currency)
    return account


def require_currency(account: AccountFacts, currency: str | None) -> None:
    """422 unless a record in ``currency`` (None: the account's) may sit in ``account``."""
    if currency is not None and currency != account.currency:
        message = (
            f"the account '{account.name}' holds {account.currency}; the record is in {currency}"
        )
        raise ValidationFailed([FieldError("currency", message)])


async def list_accounts(
    session: AsyncSession, ctx: OrgContext, query: AccountListQuery
) -> list[AccountRead]:
    found = await balances.accounts_with_balances(
        session,
        ctx.org_id,
        query.on or balances.today(),
        include_archived=query.include_archived,
    )
    return [to_read(account, balance) for account, balance in found]


async def get_account(
    session: AsyncSession, ctx: OrgContext, account_id: uuid.UUID, on: dt.date | None = None
) -> AccountRead:
    found = await balances.accounts_with_balances(
        session, ctx.org_id, on or balances.today(), account_id=account_id
    )
    if not found:
        raise NotFound(ACCOUNT_NOT_FOUND)
    account, balance = found[0]
    return to_read(account, balance)


async def _read(session: AsyncSession, account: Account, on: dt.date | None = None) -> AccountRead:
    amounts = await balances.balances_on(session, [account], on or balances.today())
    return to_read(account, amounts[account.id])


def _audited(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "kind": account.kind,
        "currency": account.currency,
        "institution": account.institution,
        "opening_balance": format_amount(account.opening_balance_minor, account.currency),
        "opening_date": account.opening_date.isoformat() if account.opening_date else None,
        "archived": account.archived,
        "reconciled_through": (
            account.reconciled_through.isoformat() if account.reconciled_through else None
        ),
    }


def _audit(
    session: AsyncSession,
    ctx: OrgContext,
    account: Account,
    action: AuditAction,
    changes: dict[str, Any],
) -> None:
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=action,
        entity_type=EntityType.ACCOUNT,
        entity_id=account.id,
        changes=changes,
    )


async def _flush_named(session: AsyncSession, name: str) -> None:
    """Flush in a savepoint: a name another account of the org holds is a 409."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an account named '{name}' already exists") from exc


async def create_account(
    session: AsyncSession,
    ctx: OrgContext,
    data: AccountCreate,
    *,
    idempotency_key: str | None = None,
) -> AccountRead:
    idempotent = idempotency.IdempotentCreate(
        ctx.user_id, f"accounts.create:{ctx.org_id}", idempotency_key
    )
    if (replayed := await idempotent.replay(session, data, AccountRead)) is not None:
        return replayed
    currency = data.currency or ctx.org.currency
    account = Account(
        org_id=ctx.org_id,
        name=data.name,
        name_key=fold_key(data.name),
        kind=data.kind.value,
        currency=currency,
        institution=data.institution or None,
        opening_balance_minor=_opening(data.opening_balance, currency),
        opening_date=data.opening_date,
        archived=False,
        is_default=False,
        version=1,
    )
    session.add(account)
    await _flush_named(session, data.name)
    _audit(
        session,
        ctx,
        account,
        AuditAction.ACCOUNT_CREATED,
        {k: [None, v] for k, v in _audited(account).items()},
    )
    result = await _read(session, account)
    await idempotent.remember(session, result)
    return result


def _opening(amount: Decimal, currency: str) -> int:
    """The opening balance in minor units, within what a record amount may be, either sign."""
    minor = signed_minor(amount, currency, "opening_balance")
    limit = max_minor(currency)
    if abs(minor) > limit:
        message = f"must be between -{format_amount(limit, currency)} and its opposite"
        raise ValidationFailed([FieldError("opening_balance", message)])
    return minor


async def _has_records(session: AsyncSession, account_id: uuid.UUID) -> bool:
    """Live or soft-deleted: both would be left in an account of another currency, or none."""
    found = await session.scalar(select(exists().where(Record.account_id == account_id)))
    return bool(found)


async def update_account(
    session: AsyncSession,
    ctx: OrgContext,
    account_id: uuid.UUID,
    data: AccountUpdate,
    *,
    if_match: int | None = None,
) -> AccountRead:
    """Change the fields sent; a change of nothing keeps the version and writes no audit."""
    account = await account_in_org(session, ctx.org_id, account_id, lock=True)
    if if_match is not None and if_match != account.version:
        raise PreconditionFailed(
            f"If-Match version {if_match} is stale; the account is at version {account.version}"
        )
    before = _audited(account)
    sent = data.model_fields_set
    currency = data.currency or account.currency
    if currency != account.currency:
        if await _has_records(session, account.id):
            raise Conflict(
                f"the account '{account.name}' has records, so its currency stays "
                f"{account.currency}"
            )
        account.currency = currency
        account.is_default = False
    if data.name is not None:
        account.name, account.name_key = data.name, fold_key(data.name)
    if data.kind is not None:
        account.kind = data.kind.value
    if "institution" in sent:
        account.institution = data.institution or None
    if data.opening_balance is not None:
        account.opening_balance_minor = _opening(data.opening_balance, currency)
    elif currency != before["currency"]:
        account.opening_balance_minor = _opening(Decimal(before["opening_balance"]), currency)
    if "opening_date" in sent:
        account.opening_date = data.opening_date
    if data.archived is not None:
        account.archived = data.archived
    if "reconciled_through" in sent:
        _reopen(account, data.reconciled_through)
    after = _audited(account)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        account.version += 1
        await _flush_named(session, account.name)
        _audit(session, ctx, account, AuditAction.ACCOUNT_UPDATED, changes)
    return await _read(session, account)


def _reopen(account: Account, through: dt.date | None) -> None:
    """Move ``reconciled_through`` back (or clear it): forward is only by reconciling, which
    checks the balance first."""
    closed = account.reconciled_through
    if through is not None and (closed is None or through > closed):
        message = "can only move back (reopen); reconcile the account to close a period"
        raise ValidationFailed([FieldError("reconciled_through", message)])
    account.reconciled_through = through


async def delete_account(
    session: AsyncSession, ctx: OrgContext, account_id: uuid.UUID, *, if_match: int | None = None
) -> None:
    """Only an account that never held a record (live or deleted) goes; others are archived."""
    account = await account_in_org(session, ctx.org_id, account_id, lock=True)
    if if_match is not None and if_match != account.version:
        raise PreconditionFailed(f"If-Match version {if_match} is stale")
    if await _has_records(session, account.id):
        raise Conflict(
            f"the account '{account.name}' has records; archive it instead (archived: true)"
        )
    _audit(
        session,
        ctx,
        account,
        AuditAction.ACCOUNT_DELETED,
        {k: [v, None] for k, v in _audited(account).items()},
    )
    await session.delete(account)
    await session.flush()


async def balance_series(
    session: AsyncSession, ctx: OrgContext, account_id: uuid.UUID, query: BalancesQuery
) -> list[BalancePoint]:
    await read_in_snapshot(session)
    account = await account_in_org(session, ctx.org_id, account_id)
    points = await balances.series(
        session, account, query.date_from, query.date_to, query.granularity
    )
    return [BalancePoint.model_validate(point) for point in points]
