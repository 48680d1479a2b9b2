"""Base classes for request and response shapes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


@dataclass(frozen=True)
class Published:
    """Annotation that publishes in the OpenAPI document a rule the validators enforce in code
    (a pattern, an enum, a length), so generated clients and fuzzers know the valid form, while
    the answer to a broken rule stays the validators' own message. ``drop`` removes keys that
    are no JSON Schema (pydantic writes a date's bounds as ``ge``/``le``)."""

    schema: Mapping[str, Any]
    drop: tuple[str, ...] = field(default=())

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.schema)), self.drop))

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        for key in self.drop:
            json_schema.pop(key, None)
        json_schema.update(self.schema)
        return json_schema


def not_nullable(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` for an optional field where ``null`` is refused (it may be left
    out): publish it without the ``null`` alternative, keeping the validation errors of a
    plain ``X | None`` field."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return
    remaining = [option for option in options if option != {"type": "null"}]
    if len(remaining) == 1:
        del schema["anyOf"]
        schema.update(remaining[0])
    else:
        schema["anyOf"] = remaining


class RequestModel(BaseModel):
    """Unknown fields are rejected: a client can never set what it may not (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error answer."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None
    request_id: str | None = None


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""The one written form of a date the API and the CSV import take (``fullmatch``)."""

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
"""The calendar the API takes, in every date of a request: far enough from Python's and the
databases' limits that a day, a week or a month either side of any date still exists."""


def _iso_calendar_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (or a date object, from Python). Pydantic alone also reads a number
    as a Unix timestamp (``date_to=0`` was 1 January 1970) and a datetime at midnight as its
    date, which no one who typed them meant; ``20240101`` got an error about datetimes."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


DATE_PATTERN = r"^(?:19[0-9]{2}|2[01][0-9]{2})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
"""``YYYY-MM-DD`` from 1900 to 2199, as published; the calendar itself is ``format: date``."""

CalendarDate = Annotated[
    dt.date,
    BeforeValidator(_iso_calendar_date),
    Field(ge=MIN_DATE, le=MAX_DATE),
    Published(
        {"pattern": DATE_PATTERN, "description": "YYYY-MM-DD, from 1900-01-01 to 2199-12-31"},
        drop=("ge", "le"),
    ),
]
"""A calendar date in requests: ``YYYY-MM-DD`` and nothing else, from ``MIN_DATE`` to
``MAX_DATE``."""


def ends_after_start(value: dt.date | None, info: ValidationInfo) -> dt.date | None:
    """``date_to`` validator: a range must not end before its ``date_from``."""
    start = info.data.get("date_from")
    if value is not None and start is not None and start > value:
        raise ValueError("must not be before date_from")
    return value
