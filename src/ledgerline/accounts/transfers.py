"""Transfers: money moved between two accounts as two records (legs) of type ``transfer``.

Every write changes the transfer, both legs, the balance aggregates (the outgoing leg
subtracts from its account, the incoming one adds) and the audit log in one transaction. The
legs never reach the dashboard's income and expense sums (``aggregates.DASHBOARD_TYPES``), and
the records API refuses to change them (409).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts.closing import require_open
from ledgerline.accounts.models import Account, Transfer
from ledgerline.accounts.schemas import TransferCreate, TransferRead, TransferUpdate
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core import idempotency
from ledgerline.core.db import utcnow
from ledgerline.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from ledgerline.core.money import format_amount
from ledgerline.core.text import fold_key
from ledgerline.dashboard import aggregates
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.records.models import Record
from ledgerline.records.service import minor_amount, scaled_amount

TRANSFER_NOT_FOUND = "transfer not found"


def to_read(transfer: Transfer, legs: tuple[Record, Record]) -> TransferRead:
    return TransferRead(
        id=transfer.id,
        org_id=transfer.org_id,
        from_account_id=transfer.from_account_id,
        to_account_id=transfer.to_account_id,
        amount=format_amount(transfer.amount_minor, transfer.currency),
        currency=transfer.currency,
        to_amount=format_amount(transfer.to_amount_minor, transfer.to_currency),
        to_currency=transfer.to_currency,
        date=transfer.date,
        notes=transfer.notes,
        record_ids=[legs[0].id, legs[1].id],
        created_at=transfer.created_at,
        updated_at=transfer.updated_at,
        version=transfer.version,
    )


def _touched(transfer: Transfer, day: dt.date | None = None) -> list[tuple[uuid.UUID, dt.date]]:
    """The (account, date) pairs of both legs, at ``day`` instead of the transfer's date."""
    on = day or transfer.date
    return [(transfer.from_account_id, on), (transfer.to_account_id, on)]


def _deltas(transfer: Transfer, *, sign: int) -> aggregates.Deltas:
    """The transfer's two legs as balance changes (``sign`` -1 takes them out)."""
    deltas = aggregates.Deltas()
    out = aggregates.Bucket(
        transfer.org_id,
        transfer.date,
        aggregates.TRANSFER_OUT,
        None,
        transfer.currency,
        transfer.from_account_id,
    )
    into = aggregates.Bucket(
        transfer.org_id,
        transfer.date,
        aggregates.TRANSFER_IN,
        None,
        transfer.to_currency,
        transfer.to_account_id,
    )
    deltas.add(out, transfer.amount_minor, sign=sign)
    deltas.add(into, transfer.to_amount_minor, sign=sign)
    return deltas


async def _account(
    session: AsyncSession, org_id: uuid.UUID, account_id: uuid.UUID, field: str
) -> Account:
    account = await session.scalar(
        select(Account).where(Account.org_id == org_id, Account.id == account_id)
    )
    if account is None:
        raise ValidationFailed([FieldError(field, "no such account in this organization")])
    return account


def _currency_of(account: Account, sent: str | None, field: str) -> str:
    if sent is not None and sent != account.currency:
        message = f"the account '{account.name}' holds {account.currency}, not {sent}"
        raise ValidationFailed([FieldError(field, message)])
    return account.currency


def _to_amount(amount_minor: int, to_amount: Any, currency: str, to_currency: str) -> int | None:
    """The incoming amount: the outgoing one within a currency (``to_amount``, if sent, must
    equal it); between currencies the one sent, None when none was."""
    if currency == to_currency:
        if (
            to_amount is not None
            and minor_amount(to_amount, to_currency, field="to_amount") != amount_minor
        ):
            message = "must equal amount between accounts of one currency"
            raise ValidationFailed([FieldError("to_amount", message)])
        return amount_minor
    if to_amount is None:
        return None
    return minor_amount(to_amount, to_currency, field="to_amount")


def _leg(transfer: Transfer, ctx: OrgContext, *, outgoing: bool) -> Record:
    amount = transfer.amount_minor if outgoing else transfer.to_amount_minor
    currency = transfer.currency if outgoing else transfer.to_currency
    return Record(
        org_id=transfer.org_id,
        amount_minor=amount,
        amount_scaled=scaled_amount(amount, currency),
        currency=currency,
        type="transfer",
        category_id=None,
        account_id=transfer.from_account_id if outgoing else transfer.to_account_id,
        transfer_id=transfer.id,
        date=transfer.date,
        notes=transfer.notes,
        search_key=fold_key(transfer.notes or ""),
        created_by=ctx.user_id,
        updated_by=ctx.user_id,
    )


def _audited(transfer: Transfer) -> dict[str, Any]:
    return {
        "from_account_id": str(transfer.from_account_id),
        "to_account_id": str(transfer.to_account_id),
        "amount": format_amount(transfer.amount_minor, transfer.currency),
        "currency": transfer.currency,
        "to_amount": format_amount(transfer.to_amount_minor, transfer.to_currency),
        "to_currency": transfer.to_currency,
        "date": transfer.date.isoformat(),
        "notes": transfer.notes,
    }


def _audit(
    session: AsyncSession,
    ctx: OrgContext,
    transfer: Transfer,
    action: AuditAction,
    changes: dict[str, Any],
) -> None:
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=action,
        entity_type=EntityType.TRANSFER,
        entity_id=transfer.id,
        changes=changes,
    )


async def create_transfer(
    session: AsyncSession,
    ctx: OrgContext,
    data: TransferCreate,
    *,
    idempotency_key: str | None = None,
) -> TransferRead:
    idempotent = idempotency.IdempotentCreate(
        ctx.user_id, f"transfers.create:{ctx.org_id}", idempotency_key
    )
    if (replayed := await idempotent.replay(session, data, TransferRead)) is not None:
        return replayed
    if data.from_account_id == data.to_account_id:
        message = "must be another account than from_account_id"
        raise ValidationFailed([FieldError("to_account_id", message)])
    source = await _account(session, ctx.org_id, data.from_account_id, "from_account_id")
    target = await _account(session, ctx.org_id, data.to_account_id, "to_account_id")
    currency = _currency_of(source, data.currency, "currency")
    to_currency = _currency_of(target, data.to_currency, "to_currency")
    amount_minor = minor_amount(data.amount, currency)
    to_amount_minor = _to_amount(amount_minor, data.to_amount, currency, to_currency)
    if to_amount_minor is None:
        message = f"required between accounts of different currencies ({currency} to {to_currency})"
        raise ValidationFailed([FieldError("to_amount", message)])
    await require_open(
        session, ctx.org_id, [(source.id, data.date), (target.id, data.date)], read=[source, target]
    )
    transfer = Transfer(
        org_id=ctx.org_id,
        from_account_id=source.id,
        to_account_id=target.id,
        amount_minor=amount_minor,
        currency=currency,
        to_amount_minor=to_amount_minor,
        to_currency=to_currency,
        date=data.date,
        notes=data.notes,
        created_by=ctx.user_id,
        updated_by=ctx.user_id,
        version=1,
    )
    session.add(transfer)
    await session.flush()
    legs = (_leg(transfer, ctx, outgoing=True), _leg(transfer, ctx, outgoing=False))
    session.add_all(legs)
    await session.flush()
    await aggregates.apply(session, _deltas(transfer, sign=1))
    created = {k: [None, v] for k, v in _audited(transfer).items()}
    _audit(session, ctx, transfer, AuditAction.TRANSFER_CREATED, created)
    result = to_read(transfer, legs)
    await idempotent.remember(session, result)
    return result


async def _locked(
    session: AsyncSession, ctx: OrgContext, transfer_id: uuid.UUID, *, deleted: bool | None
) -> tuple[Transfer, tuple[Record, Record]]:
    """The transfer and its legs (outgoing first), locked for the rest of the transaction;
    ``deleted`` None finds it in either state."""
    statement = select(Transfer).where(Transfer.org_id == ctx.org_id, Transfer.id == transfer_id)
    if deleted is not None:
        state = Transfer.deleted_at.is_not(None) if deleted else Transfer.deleted_at.is_(None)
        statement = statement.where(state)
    transfer = await session.scalar(
        statement.with_for_update().execution_options(populate_existing=True)
    )
    if transfer is None:
        raise NotFound(TRANSFER_NOT_FOUND)
    return transfer, await _legs(session, transfer, lock=True)


async def _legs(
    session: AsyncSession, transfer: Transfer, *, lock: bool = False
) -> tuple[Record, Record]:
    statement = select(Record).where(Record.transfer_id == transfer.id).order_by(Record.id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    found = list(await session.scalars(statement))
    out = next(leg for leg in found if leg.account_id == transfer.from_account_id)
    into = next(leg for leg in found if leg.account_id == transfer.to_account_id)
    return out, into


async def get_transfer(
    session: AsyncSession, ctx: OrgContext, transfer_id: uuid.UUID
) -> TransferRead:
    transfer = await session.scalar(
        select(Transfer).where(
            Transfer.org_id == ctx.org_id,
            Transfer.id == transfer_id,
            Transfer.deleted_at.is_(None),
        )
    )
    if transfer is None:
        raise NotFound(TRANSFER_NOT_FOUND)
    return to_read(transfer, await _legs(session, transfer))


def _check_version(transfer: Transfer, if_match: int | None) -> None:
    if if_match is not None and if_match != transfer.version:
        raise PreconditionFailed(
            f"If-Match version {if_match} is stale; the transfer is at version {transfer.version}"
        )


def _stamp(transfer: Transfer, legs: tuple[Record, Record], ctx: OrgContext) -> None:
    """A new version of the transfer and of both legs, by this user, now."""
    now = utcnow()
    for row in (transfer, *legs):
        row.version += 1
        row.updated_by = ctx.user_id
        row.updated_at = now


async def update_transfer(
    session: AsyncSession,
    ctx: OrgContext,
    transfer_id: uuid.UUID,
    data: TransferUpdate,
    *,
    if_match: int | None = None,
) -> TransferRead:
    """Change amounts, date or notes of the transfer and both legs alike; a change of nothing
    keeps the version and writes no audit entry."""
    transfer, legs = await _locked(session, ctx, transfer_id, deleted=False)
    _check_version(transfer, if_match)
    before = _audited(transfer)
    sent = data.model_fields_set
    amount = (
        minor_amount(data.amount, transfer.currency)
        if data.amount is not None
        else transfer.amount_minor
    )
    to_amount = _to_amount(amount, data.to_amount, transfer.currency, transfer.to_currency)
    values: dict[str, Any] = {
        "amount_minor": amount,
        "to_amount_minor": transfer.to_amount_minor if to_amount is None else to_amount,
        "date": data.date or transfer.date,
        "notes": data.notes if "notes" in sent else transfer.notes,
    }
    after = {**before, **_audited_values(transfer, values)}
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        return to_read(transfer, legs)
    await require_open(
        session, ctx.org_id, [*_touched(transfer), *_touched(transfer, values["date"])]
    )
    await aggregates.apply(session, _deltas(transfer, sign=-1))
    for name, value in values.items():
        setattr(transfer, name, value)
    out, into = legs
    for leg, amount_minor in ((out, transfer.amount_minor), (into, transfer.to_amount_minor)):
        leg.amount_minor = amount_minor
        leg.amount_scaled = scaled_amount(amount_minor, leg.currency)
        leg.date = transfer.date
        leg.notes = transfer.notes
        leg.search_key = fold_key(transfer.notes or "")
    _stamp(transfer, legs, ctx)
    await session.flush()
    await aggregates.apply(session, _deltas(transfer, sign=1))
    _audit(session, ctx, transfer, AuditAction.TRANSFER_UPDATED, changes)
    return to_read(transfer, legs)


def _audited_values(transfer: Transfer, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": format_amount(values["amount_minor"], transfer.currency),
        "to_amount": format_amount(values["to_amount_minor"], transfer.to_currency),
        "date": values["date"].isoformat(),
        "notes": values["notes"],
    }


async def delete_transfer(
    session: AsyncSession, ctx: OrgContext, transfer_id: uuid.UUID, *, if_match: int | None = None
) -> None:
    """Soft delete: both legs leave every list and balance, and come back with a restore."""
    transfer, legs = await _locked(session, ctx, transfer_id, deleted=False)
    _check_version(transfer, if_match)
    await require_open(session, ctx.org_id, _touched(transfer))
    now = utcnow()
    transfer.deleted_at = now
    for leg in legs:
        leg.deleted_at, leg.deleted_by = now, ctx.user_id
    _stamp(transfer, legs, ctx)
    await session.flush()
    await aggregates.apply(session, _deltas(transfer, sign=-1))
    _audit(session, ctx, transfer, AuditAction.TRANSFER_DELETED, {"deleted": [False, True]})


async def restore_transfer(
    session: AsyncSession, ctx: OrgContext, transfer_id: uuid.UUID
) -> TransferRead:
    transfer, legs = await _locked(session, ctx, transfer_id, deleted=None)
    if transfer.deleted_at is None:
        raise Conflict("the transfer is not deleted")
    await require_open(session, ctx.org_id, _touched(transfer))
    transfer.deleted_at = None
    for leg in legs:
        leg.deleted_at, leg.deleted_by = None, None
    _stamp(transfer, legs, ctx)
    await session.flush()
    await aggregates.apply(session, _deltas(transfer, sign=1))
    _audit(session, ctx, transfer, AuditAction.TRANSFER_RESTORED, {"deleted": [True, False]})
    return to_read(transfer, legs)
