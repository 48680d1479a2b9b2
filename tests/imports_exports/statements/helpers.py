"""Example statement files (the ones docs/statements.md shows) and reading shortcuts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ledgerline.imports_exports.statements import (
    CsvMapping,
    ReadOptions,
    StatementFile,
    read_statements,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def read(
    data: bytes,
    *,
    currency: str | None = "EUR",
    mapping: CsvMapping | None = None,
    date_format: str | None = None,
) -> StatementFile:
    options = ReadOptions(
        default_currency=currency,
        mapping=mapping,
        date_format=date_format,  # type: ignore[arg-type]
    )
    return read_statements(data, options)


def summary(file: StatementFile) -> list[tuple[dt.date, int, str]]:
    return [(row.date, row.amount_minor, row.description) for row in file.rows]
