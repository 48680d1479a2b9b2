from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator

from ledgerline.core.schemas import CalendarDate, RequestModel, ResponseModel, ends_after_start
from ledgerline.core.text import CleanText


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
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_UPDATED = "account.updated"
    ACCOUNT_DELETED = "account.deleted"
    ACCOUNT_RECONCILED = "account.reconciled"
    TRANSFER_CREATED = "transfer.created"
    TRANSFER_UPDATED = "transfer.updated"
    TRANSFER_DELETED = "transfer.deleted"
    TRANSFER_RESTORED = "transfer.restored"
    IMPORT_PROFILE_CREATED = "import_profile.created"
    IMPORT_PROFILE_UPDATED = "import_profile.updated"
    IMPORT_PROFILE_DELETED = "import_profile.deleted"
    CATEGORY_RULE_CREATED = "category_rule.created"
    CATEGORY_RULE_UPDATED = "category_rule.updated"
    CATEGORY_RULE_DELETED = "category_rule.deleted"


class EntityType(StrEnum):
    RECORD = "record"
    MEMBERSHIP = "membership"
    ORG = "org"
    ACCOUNT = "account"
    TRANSFER = "transfer"
    IMPORT_PROFILE = "import_profile"
    CATEGORY_RULE = "category_rule"


class AuditEntryRead(ResponseModel):
    id: uuid.UUID
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: AuditAction
    entity_type: EntityType
    entity_id: str
    changes: dict[str, Any] = Field(description="field -> [old, new]")
    request_id: str | None


class AuditPage(ResponseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None


class AuditQuery(RequestModel):
    entity_type: EntityType | None = None
    entity_id: Annotated[CleanText | None, Field(max_length=64)] = None
    actor_id: uuid.UUID | None = None
    action: AuditAction | None = None
    date_from: CalendarDate | None = None
    date_to: CalendarDate | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str | None, Field(max_length=2000)] = None

    _ordered_dates = field_validator("date_to")(ends_after_start)
