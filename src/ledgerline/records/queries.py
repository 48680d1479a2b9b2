"""Read-side statements for records, every one starting from the org-scoped base statement."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ledgerline.core.errors import BadRequest, FieldError, ValidationFailed
from ledgerline.core.money import format_amount
from ledgerline.core.pagination import decode_cursor, encode_cursor, query_fingerprint
from ledgerline.core.text import fold_key
from ledgerline.records.models import Category, Record
from ledgerline.records.schemas import (
    RecordFilters,
    RecordListQuery,
    RecordPage,
    RecordRead,
    RecordSort,
    RecordType,
)


@dataclass(frozen=True, slots=True)
class SortSpec:
    column: InstrumentedAttribute[Any]
    descending: bool

    def parse(self, raw: Any) -> Any:
        if self.column is Record.date:
            return dt.date.fromisoformat(raw)
        if self.column is Record.created_at:
            return dt.datetime.fromisoformat(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise TypeError("integer expected")
        return raw

    def dump(self, value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


SORTS: dict[RecordSort, SortSpec] = {
    RecordSort.DATE_DESC: SortSpec(Record.date, descending=True),
    RecordSort.DATE_ASC: SortSpec(Record.date, descending=False),
    RecordSort.AMOUNT_DESC: SortSpec(Record.amount_scaled, descending=True),
    RecordSort.AMOUNT_ASC: SortSpec(Record.amount_scaled, descending=False),
    RecordSort.CREATED_DESC: SortSpec(Record.created_at, descending=True),
    RecordSort.CREATED_ASC: SortSpec(Record.created_at, descending=False),
}


def records_of(org_id: uuid.UUID, *, deleted: bool = False) -> Select[Record, str]:
    """The base of every record read: one org's records, live or soft-deleted, with category."""
    state = Record.deleted_at.is_not(None) if deleted else Record.deleted_at.is_(None)
    return (
        select(Record, Category.name)
        .join(Category, Category.id == Record.category_id)
        .where(Record.org_id == org_id, state)
    )


def filter_conditions(org_id: uuid.UUID, filters: RecordFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.type is not None:
        conditions.append(Record.type == filters.type.value)
    if filters.category:
        keys = sorted({fold_key(name) for name in filters.category})
        conditions.append(
            Record.category_id.in_(
                select(Category.id).where(Category.org_id == org_id, Category.name_key.in_(keys))
            )
        )
    if filters.date_from is not None:
        conditions.append(Record.date >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(Record.date <= filters.date_to)
    low, high = RecordFilters.scaled(filters.amount_min), RecordFilters.scaled(filters.amount_max)
    if low is not None:
        conditions.append(Record.amount_scaled >= low)
    if high is not None:
        conditions.append(Record.amount_scaled <= high)
    if filters.currency is not None:
        conditions.append(Record.currency == filters.currency)
    if filters.q is not None:
        conditions.append(Record.search_key.contains(fold_key(filters.q), autoescape=True))
    return conditions


def filtered_records(
    org_id: uuid.UUID, filters: RecordFilters, *, deleted: bool = False
) -> Select[Record, str]:
    return records_of(org_id, deleted=deleted).where(*filter_conditions(org_id, filters))


def to_read(record: Record, category: str) -> RecordRead:
    return RecordRead(
        id=record.id,
        org_id=record.org_id,
        amount=format_amount(record.amount_minor, record.currency),
        currency=record.currency,
        type=RecordType(record.type),
        category=category,
        date=record.date,
        notes=record.notes,
        created_at=record.created_at,
        updated_at=record.updated_at,
        created_by=record.created_by,
        updated_by=record.updated_by,
        version=record.version,
    )


def _after(spec: SortSpec, value: Any, record_id: uuid.UUID) -> ColumnElement[bool]:
    """Rows strictly after (value, id) in the sort order: the keyset condition."""
    if spec.descending:
        return or_(spec.column < value, and_(spec.column == value, Record.id < record_id))
    return or_(spec.column > value, and_(spec.column == value, Record.id > record_id))


def _fingerprint(org_id: uuid.UUID, query: RecordListQuery) -> str:
    bound = query.model_dump(mode="json", exclude={"cursor", "limit", "offset", "include_total"})
    bound["category"] = sorted({fold_key(name) for name in query.category})
    return query_fingerprint({"org": str(org_id), **bound})


async def list_page(session: AsyncSession, org_id: uuid.UUID, query: RecordListQuery) -> RecordPage:
    """One page in at most two statements (three with ``include_total``), whatever its size."""
    if query.cursor is not None and query.offset is not None:
        raise ValidationFailed([FieldError("query.offset", "cannot be combined with cursor")])
    spec = SORTS[query.sort]
    fingerprint = _fingerprint(org_id, query)
    deleted = query.deleted is not None
    statement = filtered_records(org_id, query, deleted=deleted)
    if query.cursor is not None:
        raw_value, raw_id = decode_cursor(query.cursor, fingerprint, length=2)
        try:
            position = spec.parse(raw_value), uuid.UUID(str(raw_id))
        except (TypeError, ValueError) as exc:
            raise BadRequest("cursor is malformed") from exc
        statement = statement.where(_after(spec, *position))
    order = (spec.column.desc(), Record.id.desc()) if spec.descending else (spec.column, Record.id)
    statement = statement.order_by(*order).limit(query.limit + 1)
    if query.offset:
        statement = statement.offset(query.offset)
    rows = (await session.execute(statement)).all()
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = None
    if more and page:
        last = page[-1][0]
        next_cursor = encode_cursor(
            [spec.dump(getattr(last, spec.column.key)), str(last.id)], fingerprint
        )
    total = None
    if query.include_total:
        count = select(func.count()).select_from(
            filtered_records(org_id, query, deleted=deleted).subquery()
        )
        total = int(await session.scalar(count) or 0)
    return RecordPage(
        items=[to_read(record, category) for record, category in page],
        next_cursor=next_cursor,
        total=total,
    )
