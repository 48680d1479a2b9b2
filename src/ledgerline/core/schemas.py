"""Base classes for request and response shapes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, ValidationInfo


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


def ends_after_start(value: dt.date | None, info: ValidationInfo) -> dt.date | None:
    """``date_to`` validator: a range must not end before its ``date_from``."""
    start = info.data.get("date_from")
    if value is not None and start is not None and start > value:
        raise ValueError("must not be before date_from")
    return value
