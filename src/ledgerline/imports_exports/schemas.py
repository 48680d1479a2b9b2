from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

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


class StatementReport(ImportReport):
    """A bank statement's import: the CSV import's report and what the statement says."""

    format: str = Field(description="the format the file was read as: ofx, qif, camt, mt940, csv")
    account_id: uuid.UUID
    skipped: int = Field(description="rows not imported by rule: pending, without date, zero")
    closing_balance: str | None = Field(
        default=None, description="the statement's closing balance, when the file states one"
    )
    closing_balance_date: dt.date | None = Field(
        default=None, description="the date of the closing balance"
    )
    balance_difference: str | None = Field(
        default=None,
        description="closing balance minus the account's computed balance at its date "
        "(after this import; in a dry run, as it would be)",
    )


class StatementRejection(StatementReport):
    """The 422 answer of a statement import: problem details carrying its report."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


JobStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class ImportJobRead(ResponseModel):
    id: uuid.UUID
    status: JobStatusName
    rows_done: int = Field(description="data rows read so far")
    rows_total: int | None = Field(description="data rows in the file")
    report: StatementReport | ImportReport | None = Field(
        union_mode="left_to_right",
        description="the import's answer once it succeeded, or was rejected for its rows "
        "(a statement import's answer for a statement)",
    )
    detail: str | None = Field(description="why the job failed or was cancelled")
    created_at: dt.datetime
    finished_at: dt.datetime | None


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
