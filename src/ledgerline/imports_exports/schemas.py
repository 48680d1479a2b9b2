from __future__ import annotations

import datetime as dt

from pydantic import Field

from ledgerline.core.schemas import ResponseModel


class RowError(ResponseModel):
    row: int = Field(description="row number as a spreadsheet shows it: the header is row 1")
    field: str
    message: str


class ImportReport(ResponseModel):
    created: int
    duplicates: int
    errors: list[RowError]
    dry_run: bool


class ImportRejection(ImportReport):
    """The 422 answer: problem details carrying the import report."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class PreviewRow(ResponseModel):
    """A row of an uploaded file as the import would create it."""

    row: int
    date: dt.date
    type: str
    category: str
    amount: str
    currency: str
    notes: str | None
    external_id: str | None
