"""The first rows of a CSV as an import would create them, for a preview before confirming."""

from __future__ import annotations

import itertools
from typing import BinaryIO

from ledgerline.core.money import format_amount
from ledgerline.imports_exports.parsing import CsvRows, FileRejected, TooManyRows
from ledgerline.imports_exports.schemas import PreviewRow
from ledgerline.orgs.dependencies import OrgContext

PREVIEW_SCAN_ROWS = 10_000
"""Rows read at most while looking for the valid ones to show; the dry run checks them all."""


def preview_rows(stream: BinaryIO, ctx: OrgContext, *, limit: int) -> list[PreviewRow]:
    """Up to ``limit`` valid rows from the top of the file (rows with errors are skipped here:
    the dry run's report lists those)."""
    rows = CsvRows(stream, default_currency=ctx.org.currency, max_rows=PREVIEW_SCAN_ROWS)
    try:
        parsed = list(itertools.islice(iter(rows), limit))
    except (FileRejected, TooManyRows):
        return []
    return [
        PreviewRow(
            row=item.row,
            date=item.date,
            type=item.type,
            category=item.category,
            amount=format_amount(item.amount_minor, item.currency),
            currency=item.currency,
            notes=item.notes,
            external_id=item.external_id,
        )
        for item in parsed
    ]
