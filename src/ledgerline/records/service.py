"""Record writes: each one changes the record, its audit entry and the dashboard aggregates in
one transaction. Services flush; the route layer commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.closing import UncheckedPeriod, require_open, shared_lock_of
from ledgerline.accounts.models import AccountFacts
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core import idempotency
from ledgerline.core.compiled_select import CompiledSelect
from ledgerline.core.db import begin_writing, is_postgresql, utcnow, uuid_parameter
from ledgerline.core.deferred_writes import NewRow
from ledgerline.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from ledgerline.core.ids import new_id
from ledgerline.core.money import MoneyError, format_amount, minor_digits, to_minor
from ledgerline.core.text import fold_key
from ledgerline.dashboard import aggregates
from ledgerline.dashboard import service as dashboard_service
from ledgerline.dashboard.models import MonthlyTotal
from ledgerline.dashboard.schemas import DashboardRange
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.permissions import Permission
from ledgerline.records import create_statement, queries
from ledgerline.records.models import Category, Record
from ledgerline.records.schemas import (
    SCALE,
    CategoryRead,
    RecordCreate,
    RecordFilters,
    RecordListQuery,
    RecordPage,
    RecordRead,
    RecordTotals,
    RecordUpdate,
)

RECORD_NOT_FOUND = "record not found"
RECORD_NOT_DELETED = "record is not deleted; only a deleted record can be restored"


def minor_amount(amount: Decimal, currency: str, *, field: str = "amount") -> int:
    try:
        return int(to_minor(amount, currency))
    except MoneyError as exc:
        raise ValidationFailed([FieldError(field, str(exc))]) from exc


def scaled_amount(amount_minor: int, currency: str) -> int:
    return int(amount_minor * SCALE // 10 ** minor_digits(currency))


def search_key(category: str, notes: str | None) -> str:
    return fold_key(f"{category}\n{notes or ''}")


_CATEGORY_BY_KEY = select(Category).where(
    Category.org_id == bindparam("org_id"), Category.name_key == bindparam("key")
)


async def category_for(session: AsyncSession, org_id: uuid.UUID, name: str) -> Category:
    """The org's category named ``name`` case-insensitively, created with this spelling if new."""
    key = fold_key(name)
    existing = await session.scalar(_CATEGORY_BY_KEY, {"org_id": org_id, "key": key})
    if existing is not None:
        return existing
    category = Category(org_id=org_id, name=name, name_key=key)
    try:
        async with session.begin_nested():
            session.add(category)
    except IntegrityError:
        found = await session.scalar(_CATEGORY_BY_KEY, {"org_id": org_id, "key": key})
        if found is None:
            raise
        return found
    return category


def _audit_values(
    record: Record | queries.RecordRow, category: str, new: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The audited fields of ``record``, or of what it becomes with the column values ``new``."""
    columns = {
        "amount_minor": record.amount_minor,
        "currency": record.currency,
        "type": record.type,
        "date": record.date,
        "notes": record.notes,
        "account_id": record.account_id,
        **(new or {}),
    }
    return {
        "amount": format_amount(columns["amount_minor"], columns["currency"]),
        "currency": columns["currency"],
        "type": columns["type"],
        "category": category,
        "date": columns["date"].isoformat(),
        "notes": columns["notes"],
        "account_id": str(columns["account_id"]),
    }


class CategoryFacts(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def name(self) -> str: ...


class _Category(NamedTuple):
    id: uuid.UUID
    name: str


def _account_with_category(*conditions: ColumnElement[bool]) -> Select[Any]:
    """The org's account meeting ``conditions``, with the org's category whose name key is
    ``category_key`` if any: plain columns, not mapped objects, whose loading cost more than
    the statement."""
    return (
        select(
            queries.ACCOUNTS.c.id,
            queries.ACCOUNTS.c.name,
            queries.ACCOUNTS.c.currency,
            queries.ACCOUNTS.c.reconciled_through,
            queries.CATEGORIES.c.id.label("category_id"),
            queries.CATEGORIES.c.name.label("category_name"),
        )
        .outerjoin(
            queries.CATEGORIES,
            and_(
                queries.CATEGORIES.c.org_id == queries.ACCOUNTS.c.org_id,
                queries.CATEGORIES.c.name_key == bindparam("category_key"),
            ),
        )
        .where(queries.ACCOUNTS.c.org_id == bindparam("org_id"), *conditions)
    )


class _AccountAndCategory(NamedTuple):
    """A row of ``_account_with_category``: the account's ``AccountFacts`` and the category."""

    id: uuid.UUID
    name: str
    currency: str
    reconciled_through: dt.date | None
    category_id: uuid.UUID | None
    category_name: str | None


_BY_DEFAULT_ACCOUNT = _account_with_category(
    queries.ACCOUNTS.c.currency == bindparam("currency"), queries.ACCOUNTS.c.is_default.is_(True)
)
_BY_ACCOUNT_ID = _account_with_category(queries.ACCOUNTS.c.id == bindparam("account_id"))
_DEFAULT_ACCOUNT_AND_CATEGORY, _ACCOUNT_AND_CATEGORY = (
    CompiledSelect(statement, _AccountAndCategory)
    for statement in (_BY_DEFAULT_ACCOUNT, _BY_ACCOUNT_ID)
)
_TAKING_LOCKS = {
    plain: CompiledSelect(
        plain.statement.add_columns(
            shared_lock_of(queries.ACCOUNTS.c.id), aggregates.SHARED_REBUILD_LOCK
        ),
        _AccountAndCategory,
    )
    for plain in (_DEFAULT_ACCOUNT_AND_CATEGORY, _ACCOUNT_AND_CATEGORY)
}
"""The same on PostgreSQL, taking the found account's closing lock and the org's rebuild lock,
shared, as ``require_open`` would (built once: adding the columns took 0.1 ms)."""


def _category_of(row: _AccountAndCategory) -> CategoryFacts | None:
    if row.category_id is None or row.category_name is None:
        return None
    return _Category(row.category_id, row.category_name)


class _NewRecordTarget(NamedTuple):
    """Where a new record goes: its account, its category if the org has it, and, on
    PostgreSQL when the account was found with its closing lock taken, the closed-period
    check still to read (in the write's statement)."""

    account: AccountFacts
    category: CategoryFacts | None
    unchecked: UncheckedPeriod | None


async def _account_and_category(
    session: AsyncSession, ctx: OrgContext, data: RecordCreate
) -> _NewRecordTarget:
    """A new record's account, and its category if the org has it, in one statement (one trip
    or round trip less than reading them apart); on PostgreSQL the same statement takes the
    account's closing lock and the org's rebuild lock, shared, as ``require_open`` would. A
    missing default account is created; a missing named account is refused (422) as
    ``account_for_record`` refuses it."""
    key = fold_key(data.category)
    if data.account_id is not None:
        statement = _ACCOUNT_AND_CATEGORY
        parameters = {"org_id": ctx.org_id, "account_id": data.account_id, "category_key": key}
    else:
        statement = _DEFAULT_ACCOUNT_AND_CATEGORY
        currency = data.currency or ctx.org.currency
        parameters = {"org_id": ctx.org_id, "currency": currency, "category_key": key}
    locking = is_postgresql(session)
    if locking:
        statement = _TAKING_LOCKS[statement]
        parameters |= aggregates.rebuild_lock_parameters(ctx.org_id)
    row = await statement.one_or_none(session, parameters)
    if row is None:
        if data.account_id is not None:
            account = await accounts_service.account_for_record(
                session, ctx.org_id, data.account_id, data.currency
            )
        else:
            account = await accounts_service.default_account(session, ctx.org_id, currency)
        return _NewRecordTarget(account, None, None)
    if data.account_id is not None:
        accounts_service.require_currency(row, data.currency)
    if not locking:
        return _NewRecordTarget(row, _category_of(row), None)
    aggregates.rebuild_lock_held(session, ctx.org_id)
    return _NewRecordTarget(row, _category_of(row), UncheckedPeriod(row.id, data.date))


_ROW_COLUMNS = queries.RecordRow._fields[:-1]
"""``RecordRow``'s fields that are the record's own columns (all but its category's name)."""


async def create_record(
    session: AsyncSession,
    ctx: OrgContext,
    data: RecordCreate,
    *,
    idempotency_key: str | None = None,
) -> RecordRead:
    """Create a record; with an idempotency key, a repeat returns the first answer unchanged.

    On PostgreSQL, a create that needs nothing else (an account and a category that exist, no
    idempotency key) is one statement (``create_statement``); the others take a transaction.
    """
    if idempotency_key is None and is_postgresql(session):
        created = await _create_in_one_statement(session, ctx, data)
        if created is not None:
            return created
    await begin_writing(session)
    idempotent = idempotency.IdempotentCreate(
        ctx.user_id, f"records.create:{ctx.org_id}", idempotency_key
    )
    if (replayed := await idempotent.replay(session, data, RecordRead)) is not None:
        return replayed
    account, category, unchecked = await _account_and_category(session, ctx, data)
    amount_minor = minor_amount(data.amount, account.currency)
    if unchecked is None:
        await require_open(session, ctx.org_id, [(account.id, data.date)], read=[account])
    if category is None:
        category = await category_for(session, ctx.org_id, data.category)
    new = _new_record(ctx, data, account.currency, amount_minor, account.id, category)
    result = queries.to_read(new.row, category.name)
    await idempotent.remember(session, result)
    # The record and its audit entry inserted through Core, not the session's unit of work
    # (which costs more than the inserts), in the aggregates' statement (PostgreSQL) or trip
    # (SQLite). The aggregates last: their upserts lock rows every create of the same day,
    # category and account shares (on PostgreSQL until the commit).
    rows = await aggregates.apply(
        session,
        new.deltas,
        along=[NewRow(queries.RECORDS, new.values), new.entry],
        then_read=None if unchecked is None else (unchecked.read, unchecked.parameters),
    )
    if unchecked is not None:
        unchecked.require_open(rows)
    return result


class _NewRecord(NamedTuple):
    """A create's record (as a row and as the values to insert), audit entry and aggregates."""

    row: queries.RecordRow
    values: dict[str, Any]
    entry: NewRow
    deltas: aggregates.Deltas


def _new_record(
    ctx: OrgContext,
    data: RecordCreate,
    currency: str,
    amount_minor: int,
    account_id: uuid.UUID,
    category: CategoryFacts,
) -> _NewRecord:
    now = utcnow()
    # Its values as a row, not a ``Record``: the ORM's instrumented construction cost a tenth
    # of the service's work, for an object the session never holds.
    record = queries.RecordRow(
        id=new_id(),
        org_id=ctx.org_id,
        amount_minor=amount_minor,
        currency=currency,
        type=data.type.value,
        date=data.date,
        notes=data.notes,
        account_id=account_id,
        transfer_id=None,
        external_id=None,
        created_at=now,
        updated_at=now,
        created_by=ctx.user_id,
        updated_by=ctx.user_id,
        version=1,
        amount_scaled=scaled_amount(amount_minor, currency),
        category=category.name,
    )
    values: dict[str, Any] = dict(
        zip(_ROW_COLUMNS, record, strict=False),
        category_id=category.id,
        search_key=search_key(category.name, data.notes),
    )
    deltas = aggregates.Deltas()
    bucket = aggregates.Bucket(
        ctx.org_id, data.date, record.type, category.id, currency, account_id
    )
    deltas.add(bucket, amount_minor)
    entry = audit_service.new_entry(
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=AuditAction.RECORD_CREATED,
        entity_type=EntityType.RECORD,
        entity_id=record.id,
        changes={k: [None, v] for k, v in _audit_values(record, category.name).items()},
    )
    return _NewRecord(record, values, entry, deltas)


_FOUND_LATER = uuid.UUID(int=0)
"""The account and category of a create whose statement finds them (``create_statement``)."""


async def _create_in_one_statement(
    session: AsyncSession, ctx: OrgContext, data: RecordCreate
) -> RecordRead | None:
    """The record created in one statement (``create_statement``), or None when it takes more:
    its currency known only from its account, an amount that currency refuses (answered the
    usual way), or what the statement found. ``PeriodClosed`` when its date is closed."""
    currency = data.currency if data.account_id is not None else data.currency or ctx.org.currency
    if currency is None:
        return None
    try:
        amount_minor = minor_amount(data.amount, currency)
    except ValidationFailed:
        return None
    category = _Category(_FOUND_LATER, data.category)
    account_id = data.account_id or _FOUND_LATER
    new = _new_record(ctx, data, currency, amount_minor, account_id, category)
    found = await create_statement.create(
        session,
        new.values,
        new.entry.values,
        new.deltas,
        category=data.category,
        account_id=data.account_id,
    )
    if found is None or not found.created:
        return None
    return queries.to_read(new.row._replace(account_id=found.account_id), data.category)


async def get_record(session: AsyncSession, ctx: OrgContext, record_id: uuid.UUID) -> RecordRead:
    row = await queries.RECORD_BY_ID.one_or_none(
        session, {"org_id": ctx.org_id, "record_id": record_id}
    )
    if row is None:
        raise NotFound(RECORD_NOT_FOUND)
    return queries.to_read(row, row.category)


async def list_records(
    session: AsyncSession, ctx: OrgContext, query: RecordListQuery
) -> RecordPage:
    if query.deleted is not None:
        ctx.require(Permission.RECORDS_DELETE)
    return await queries.list_page(session, ctx.org_id, query)


async def view_totals(
    session: AsyncSession, ctx: OrgContext, filters: RecordFilters
) -> list[RecordTotals]:
    """The figures of a filtered list per currency. Filters the aggregates keep (dates, type,
    currency, categories) are summed there, at the same cost for any number of records; amount
    bounds and text search need the records themselves."""
    if filters.amount_min is not None or filters.amount_max is not None or filters.q is not None:
        return await queries.totals(session, ctx.org_id, filters)
    category_ids = (
        await queries.category_ids_of(session, ctx.org_id, filters.category)
        if filters.category
        else None
    )
    figures = await dashboard_service.filtered_totals(
        session,
        ctx,
        DashboardRange(
            date_from=filters.date_from, date_to=filters.date_to, account_id=filters.account_id
        ),
        kind=filters.type.value if filters.type is not None else None,
        currency=filters.currency,
        category_ids=category_ids,
    )
    return [
        RecordTotals(
            currency=f.currency,
            income=f.total_income,
            expense=f.total_expense,
            net=f.net_balance,
            count=f.record_count,
        )
        for f in figures
    ]


async def _locked(
    session: AsyncSession, ctx: OrgContext, record_id: uuid.UUID, *, deleted: bool | None = False
) -> tuple[Record, str]:
    """Lock the row for the rest of the transaction, so concurrent writers queue; then read
    its category, which the lock must not join (see ``queries.record_rows``)."""
    record = await session.scalar(
        queries.record_rows(ctx.org_id, deleted=deleted)
        .where(Record.id == record_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if record is None:
        raise NotFound(RECORD_NOT_FOUND)
    if record.transfer_id is not None:
        raise Conflict(
            f"this record is a leg of transfer {record.transfer_id}; change the transfer "
            "(/transfers) instead"
        )
    category_name = await session.scalar(
        select(Category.name).where(Category.id == record.category_id)
    )
    assert category_name is not None, "records.category_id is a foreign key"
    return record, category_name


async def _write_version(
    session: AsyncSession, record: Record, expected_version: int, values: dict[str, Any]
) -> None:
    """Apply ``values`` only if the row is still at ``expected_version``: the check is in the
    UPDATE itself, so no interleaving of requests can lose a change."""
    result = await session.execute(
        update(Record)
        .where(Record.id == record.id, Record.version == expected_version)
        .values(**values, version=Record.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("the record changed meanwhile; fetch it and retry")
    await session.refresh(record)


async def update_record(
    session: AsyncSession,
    ctx: OrgContext,
    record_id: uuid.UUID,
    data: RecordUpdate,
    *,
    if_match: int | None = None,
) -> RecordRead:
    """Change the fields sent. An update that changes nothing keeps the version (so the ETag)
    and writes no audit entry."""
    record, category_name = await _locked(session, ctx, record_id)
    if if_match is not None and if_match != record.version:
        raise PreconditionFailed(
            f"If-Match version {if_match} is stale; the record is at version {record.version}"
        )
    before = _audit_values(record, category_name)
    old_bucket, old_amount = aggregates.bucket_of(record), record.amount_minor
    sent = data.model_fields_set
    currency = data.currency if "currency" in sent and data.currency else record.currency
    values: dict[str, Any] = {"updated_by": ctx.user_id}
    if "amount" in sent or "currency" in sent:
        if data.amount is not None:
            values["amount_minor"] = minor_amount(data.amount, currency)
        else:
            values["amount_minor"] = _amount_in(record, currency)
        values["amount_scaled"] = scaled_amount(values["amount_minor"], currency)
        values["currency"] = currency
    if data.account_id is not None:
        account = await accounts_service.account_for_record(
            session, ctx.org_id, data.account_id, currency
        )
        values["account_id"] = account.id
    elif currency != record.currency:
        account = await accounts_service.default_account(session, ctx.org_id, currency)
        values["account_id"] = account.id
    if data.type is not None:
        values["type"] = data.type.value
    if data.date is not None:
        values["date"] = data.date
    if "notes" in sent:
        values["notes"] = data.notes
    if data.category is not None:
        category = await category_for(session, ctx.org_id, data.category)
        values["category_id"] = category.id
        category_name = category.name
    after = _audit_values(record, category_name, values)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        return queries.to_read(record, category_name)
    values["search_key"] = search_key(category_name, values.get("notes", record.notes))
    await require_open(
        session,
        ctx.org_id,
        [
            (record.account_id, record.date),
            (values.get("account_id", record.account_id), values.get("date", record.date)),
        ],
    )
    await _write_version(session, record, record.version, values)
    deltas = aggregates.Deltas()
    deltas.remove(old_bucket, old_amount)
    deltas.add(aggregates.bucket_of(record), record.amount_minor)
    await aggregates.apply(session, deltas)
    _audit(session, ctx, record, AuditAction.RECORD_UPDATED, changes)
    return queries.to_read(record, category_name)


def _amount_in(record: Record, currency: str) -> int:
    """The record's unchanged amount in another currency (422 on ``amount`` if it does not fit)."""
    amount = format_amount(record.amount_minor, record.currency)
    try:
        return int(to_minor(Decimal(amount), currency))
    except MoneyError as exc:
        message = f"the record's amount {amount} {exc}"
        raise ValidationFailed([FieldError("amount", message)]) from exc


async def delete_record(
    session: AsyncSession, ctx: OrgContext, record_id: uuid.UUID, *, if_match: int | None = None
) -> None:
    """Soft delete: the record leaves every list and figure but stays in the database."""
    record, _category = await _locked(session, ctx, record_id)
    if if_match is not None and if_match != record.version:
        raise PreconditionFailed(f"If-Match version {if_match} is stale")
    await require_open(session, ctx.org_id, [(record.account_id, record.date)])
    now = utcnow()
    await _write_version(
        session, record, record.version, {"deleted_at": now, "deleted_by": ctx.user_id}
    )
    await _count_in_aggregates(session, record, counted=False)
    _audit(session, ctx, record, AuditAction.RECORD_DELETED, {"deleted": [False, True]})


async def restore_record(
    session: AsyncSession, ctx: OrgContext, record_id: uuid.UUID
) -> RecordRead:
    """Bring a soft-deleted record back; a live one is a conflict (409), not an unknown id. The
    row is locked whatever its state, so of two restores at once the second finds it live."""
    record, category_name = await _locked(session, ctx, record_id, deleted=None)
    if record.deleted_at is None:
        raise Conflict(RECORD_NOT_DELETED)
    await require_open(session, ctx.org_id, [(record.account_id, record.date)])
    await _write_version(
        session,
        record,
        record.version,
        {"deleted_at": None, "deleted_by": None, "updated_by": ctx.user_id},
    )
    await _count_in_aggregates(session, record, counted=True)
    _audit(session, ctx, record, AuditAction.RECORD_RESTORED, {"deleted": [True, False]})
    return queries.to_read(record, category_name)


async def _count_in_aggregates(session: AsyncSession, record: Record, *, counted: bool) -> None:
    """Add a record to the dashboard aggregates (restore) or take it out (delete)."""
    deltas = aggregates.Deltas()
    deltas.add(aggregates.bucket_of(record), record.amount_minor, sign=1 if counted else -1)
    await aggregates.apply(session, deltas)


def _audit(
    session: AsyncSession,
    ctx: OrgContext,
    record: Record,
    action: AuditAction,
    changes: dict[str, Any],
) -> None:
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=action,
        entity_type=EntityType.RECORD,
        entity_id=record.id,
        changes=changes,
    )


def _categories_with_counts() -> Select[str, Any]:
    counts = (
        select(MonthlyTotal.category_id, func.sum(MonthlyTotal.record_count).label("n"))
        .where(MonthlyTotal.org_id == uuid_parameter("org_id"))
        .group_by(MonthlyTotal.category_id)
        .subquery()
    )
    return (
        select(Category.name, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.category_id == Category.id)
        .where(Category.org_id == uuid_parameter("org_id"))
        .order_by(Category.name_key)
    )


_CATEGORIES_WITH_COUNTS = _categories_with_counts()
"""Built once: building it for each request took a third of the request (1.77-1.83 ms, now
1.23-1.24 ms in process on SQLite)."""


async def list_categories(session: AsyncSession, ctx: OrgContext) -> list[CategoryRead]:
    """Every category of the org with its count of live records (from the aggregates)."""
    rows = await session.execute(_CATEGORIES_WITH_COUNTS, {"org_id": ctx.org_id})
    return [CategoryRead(name=name, record_count=int(count)) for name, count in rows]
