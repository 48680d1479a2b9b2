from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from ledgerline.core.schemas import RequestModel, ResponseModel, not_nullable
from ledgerline.core.text import PublishedNonBlankText, RejectControlCharacters
from ledgerline.imports_exports.statements.mapping import CsvMapping

ProfileName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    RejectControlCharacters,
    PublishedNonBlankText,
]


class ProfileCreate(RequestModel):
    name: ProfileName = Field(description="unique in the org, case-insensitively")
    mapping: CsvMapping


class ProfileUpdate(RequestModel):
    name: ProfileName | None = Field(default=None, json_schema_extra=not_nullable)
    mapping: CsvMapping | None = Field(default=None, json_schema_extra=not_nullable)

    @field_validator("name", "mapping", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


class ProfileRead(ResponseModel):
    id: uuid.UUID
    name: str
    mapping: CsvMapping
    created_at: dt.datetime
    updated_at: dt.datetime


class OpenChoiceRead(ResponseModel):
    field: str = Field(description="the mapping field left to choose, e.g. `date_format`")
    options: list[str] = Field(description="the values the file allows")
    reason: str


class PreviewRow(ResponseModel):
    line: int = Field(description="the file's row the transaction is on")
    date: dt.date
    type: str = Field(description="`income` or `expense`")
    amount: str = Field(description="decimal string, unsigned")
    currency: str
    description: str
    external_id: str | None
    category: str | None


class SuggestionRead(ResponseModel):
    mapping: dict[str, Any] = Field(
        description="the proposed mapping: every field; those in `choices` are null until chosen"
    )
    complete: bool = Field(description="whether the mapping reads the file as it is")
    columns: list[str] = Field(description="the file's columns (header names or positions)")
    choices: list[OpenChoiceRead] = Field(description="what could not be decided from the file")
    preview: list[PreviewRow] = Field(description="the first rows as they would be imported")
    problem: str | None = Field(
        description="why the complete proposed mapping does not read the file, if it does not"
    )
