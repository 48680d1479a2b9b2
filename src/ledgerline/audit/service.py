"""The audit log: entries are added in the transaction of the change they describe."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypedDict, Unpack, cast

from sqlalchemy import ColumnElement, Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.models import AuditEntry
from ledgerline.audit.schemas import (
    AuditAction,
    AuditEntryRead,
    AuditPage,
    AuditQuery,
    EntityType,
)
from ledgerline.core.context import current_request_id
from ledgerline.core.db import utcnow
from ledgerline.core.deferred_writes import NewRow
from ledgerline.core.errors import BadRequest
from ledgerline.core.ids import new_id
from ledgerline.core.pagination import (
    aware_datetime,
    decode_cursor,
    encode_cursor,
    query_fingerprint,
)

AUDIT_ENTRIES = cast(Table, AuditEntry.__table__)


class Change(TypedDict):
    """What an audit entry says of one change."""

    org_id: uuid.UUID
    actor_id: uuid.UUID | None
    action: AuditAction
    entity_type: EntityType
    entity_id: uuid.UUID | str
    changes: dict[str, Any]


def record_change(session: AsyncSession, **change: Unpack[Change]) -> AuditEntry:
    """Stage an entry; it commits or rolls back with the change itself."""
    entry = AuditEntry(**new_entry(**change).values)
    session.add(entry)
    return entry


def new_entry(**change: Unpack[Change]) -> NewRow:
    """An entry as a row to insert along with a write's aggregates (see ``aggregates.apply``),
    for a write that inserts its own rows through Core; ``record_change`` stages it instead."""
    return NewRow(
        AUDIT_ENTRIES,
        {
            "id": new_id(),
            "at": utcnow(),
            "org_id": change["org_id"],
            "actor_id": change["actor_id"],
            "action": change["action"].value,
            "entity_type": change["entity_type"].value,
            "entity_id": str(change["entity_id"]),
            "changes": change["changes"],
            "request_id": current_request_id(),
        },
    )


async def list_entries(session: AsyncSession, org_id: uuid.UUID, query: AuditQuery) -> AuditPage:
    """Newest first, keyset-paginated on (at, id)."""
    conditions: list[ColumnElement[bool]] = [AuditEntry.org_id == org_id]
    if query.entity_type is not None:
        conditions.append(AuditEntry.entity_type == query.entity_type.value)
    if query.entity_id is not None:
        conditions.append(AuditEntry.entity_id == query.entity_id)
    if query.actor_id is not None:
        conditions.append(AuditEntry.actor_id == query.actor_id)
    if query.action is not None:
        conditions.append(AuditEntry.action == query.action.value)
    if query.date_from is not None:
        conditions.append(AuditEntry.at >= _day_start(query.date_from))
    if query.date_to is not None:
        conditions.append(AuditEntry.at < _day_start(query.date_to + dt.timedelta(days=1)))
    fingerprint = query_fingerprint(
        {"org": str(org_id), **query.model_dump(mode="json", exclude={"cursor", "limit"})}
    )
    if query.cursor is not None:
        raw_at, raw_id = decode_cursor(query.cursor, fingerprint, length=2)
        try:
            at, entry_id = aware_datetime(raw_at), uuid.UUID(str(raw_id))
        except (TypeError, ValueError) as exc:
            raise BadRequest("cursor is malformed") from exc
        # A row comparison, so the index scan starts at the cursor (see records.queries._after).
        conditions.append(tuple_(AuditEntry.at, AuditEntry.id) < (at, entry_id))
    rows = list(
        await session.scalars(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(query.limit + 1)
        )
    )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor([page[-1].at.isoformat(), str(page[-1].id)], fingerprint)
    return AuditPage(
        items=[AuditEntryRead.model_validate(entry) for entry in page], next_cursor=next_cursor
    )


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
