"""The audit log: entries are added in the transaction of the change they describe."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.models import AuditEntry
from ledgerline.core.context import current_request_id


class AuditAction(StrEnum):
    RECORD_CREATED = "record.created"
    RECORD_UPDATED = "record.updated"
    RECORD_DELETED = "record.deleted"
    RECORD_RESTORED = "record.restored"
    RECORDS_IMPORTED = "records.imported"
    MEMBER_ADDED = "member.added"
    MEMBER_UPDATED = "member.updated"
    MEMBER_REMOVED = "member.removed"
    ORG_UPDATED = "org.updated"


class EntityType(StrEnum):
    RECORD = "record"
    MEMBERSHIP = "membership"
    ORG = "org"


def record_change(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    action: AuditAction,
    entity_type: EntityType,
    entity_id: uuid.UUID | str,
    changes: dict[str, Any],
) -> AuditEntry:
    """Stage an entry; it commits or rolls back with the change itself."""
    entry = AuditEntry(
        org_id=org_id,
        actor_id=actor_id,
        action=action.value,
        entity_type=entity_type.value,
        entity_id=str(entity_id),
        changes=changes,
        request_id=current_request_id(),
    )
    session.add(entry)
    return entry
