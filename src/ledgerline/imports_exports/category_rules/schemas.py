from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from ledgerline.core.schemas import RequestModel, ResponseModel, not_nullable
from ledgerline.core.text import PublishedNonBlankText, RejectControlCharacters
from ledgerline.imports_exports.category_rules.models import RuleField, RuleMatch
from ledgerline.records.schemas import CategoryName

MAX_POSITION = 1_000_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Pattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    RejectControlCharacters,
    AfterValidator(_not_blank),
    PublishedNonBlankText,
]
"""Kept as sent (a leading or trailing space can be meant), but never blank."""


def _json_number(value: object) -> object:
    """A JSON integer (``2`` or ``2.0``), never text or a boolean."""
    if isinstance(value, bool | str):
        raise ValueError("must be a whole number")
    return value


Position = Annotated[int, Field(ge=1, le=MAX_POSITION), BeforeValidator(_json_number)]


class RuleCreate(RequestModel):
    position: Position | None = Field(
        default=None,
        json_schema_extra=not_nullable,
        description="1 is the first rule; left out, or past the end: appended",
    )
    field: RuleField = RuleField.DESCRIPTION
    match: RuleMatch
    pattern: Pattern
    case_sensitive: StrictBool = False
    category: CategoryName

    @field_validator("position", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


class RuleUpdate(RequestModel):
    position: Position | None = Field(
        default=None,
        json_schema_extra=not_nullable,
        description="moves the rule there (past the end: last), the others close up",
    )
    field: RuleField | None = Field(default=None, json_schema_extra=not_nullable)
    match: RuleMatch | None = Field(default=None, json_schema_extra=not_nullable)
    pattern: Pattern | None = Field(default=None, json_schema_extra=not_nullable)
    case_sensitive: StrictBool | None = Field(default=None, json_schema_extra=not_nullable)
    category: CategoryName | None = Field(default=None, json_schema_extra=not_nullable)

    @field_validator(
        "position", "field", "match", "pattern", "case_sensitive", "category", mode="before"
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


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
