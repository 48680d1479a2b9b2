from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from ledgerline.core.schemas import RequestModel, ResponseModel, not_nullable
from ledgerline.core.text import PublishedNonBlankText, RejectControlCharacters
from ledgerline.imports_exports.category_rules.models import RuleField, RuleMatch
from ledgerline.records.schemas import CategoryName

MAX_POSITION = 1_000_000
Pattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    RejectControlCharacters,
    PublishedNonBlankText,
]
"""Kept as sent (a leading or trailing space can be meant), but never blank."""
Position = Annotated[int, Field(ge=1, le=MAX_POSITION)]


class RuleCreate(RequestModel):
    position: Position | None = Field(
        default=None,
        json_schema_extra=not_nullable,
        description="1 is the first rule; left out, or past the end: appended",
    )
    field: RuleField = RuleField.DESCRIPTION
    match: RuleMatch
    pattern: Pattern
    case_sensitive: bool = False
    category: CategoryName


class RuleUpdate(RequestModel):
    position: Position | None = Field(
        default=None,
        json_schema_extra=not_nullable,
        description="moves the rule there (past the end: last), the others close up",
    )
    field: RuleField | None = Field(default=None, json_schema_extra=not_nullable)
    match: RuleMatch | None = Field(default=None, json_schema_extra=not_nullable)
    pattern: Pattern | None = Field(default=None, json_schema_extra=not_nullable)
    case_sensitive: bool | None = Field(default=None, json_schema_extra=not_nullable)
    category: CategoryName | None = Field(default=None, json_schema_extra=not_nullable)


class RuleRead(ResponseModel):
    id: uuid.UUID
    position: int
    field: RuleField
    match: RuleMatch
    pattern: str
    case_sensitive: bool
    category: str
    created_at: dt.datetime
    updated_at: dt.datetime
