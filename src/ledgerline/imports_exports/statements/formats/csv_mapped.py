"""Any bank's CSV, read through a mapping (``CsvMapping``) that says which column is what.

Rows without a date (pending transactions in some exports) and rows of amount zero are
skipped and counted; columns the mapping does not name are ignored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from ledgerline.imports_exports.statements.amounts import AmountError, parse_signed
from ledgerline.imports_exports.statements.dates import parse_date
from ledgerline.imports_exports.statements.mapping import Column, CsvMapping
from ledgerline.imports_exports.statements.model import (
    MappingRequired,
    Statement,
    StatementError,
    StatementRow,
    currency_of,
    describe,
    shown,
)
from ledgerline.imports_exports.statements.registry import Parsed, ReadOptions, StatementFormat
from ledgerline.imports_exports.statements.text import check_line_lengths, decode

CSV = "csv"
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True, slots=True)
class CsvLine:
    line: int
    cells: list[str]


def csv_lines(text: str, mapping: CsvMapping) -> Iterator[CsvLine]:
    """Non-empty CSV rows after the preamble, each with the physical line it starts on."""
    stream = io.StringIO(text, newline="")
    for _ in range(mapping.skip_rows):
        stream.readline()
    reader = csv.reader(
        stream, delimiter=mapping.delimiter, quotechar=mapping.quote_char, strict=True
    )
    consumed = mapping.skip_rows
    while True:
        start = consumed + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise StatementError(f"expected a CSV row: {exc}", line=start) from exc
        consumed = mapping.skip_rows + reader.line_num
        if any(cell.strip() for cell in cells):
            yield CsvLine(start, cells)


class _Columns:
    """Column references of a mapping resolved to positions, once, against the header."""

    def __init__(self, header: CsvLine | None) -> None:
        self._header = header
        names = [] if header is None else [cell.strip() for cell in header.cells]
        self._exact = {name: i for i, name in reversed(list(enumerate(names)))}
        self._folded = {name.casefold(): i for i, name in reversed(list(enumerate(names)))}

    def at(self, column: Column | None) -> int | None:
        if column is None or isinstance(column, int):
            return column
        found = self._exact.get(column.strip(), self._folded.get(column.strip().casefold()))
        if found is None:
            names = ", ".join(self._exact)
            line = self._header.line if self._header else None
            raise StatementError(
                f"expected a column {shown(column)} in the header; it has {names[:300]}", line=line
            )
        return found


def _cell(row: CsvLine, position: int | None, what: str) -> str:
    if position is None:
        return ""
    if position >= len(row.cells):
        raise StatementError(
            f"expected {what} in column {position + 1}; the row has {len(row.cells)} cells",
            line=row.line,
        )
    return row.cells[position].strip()


def _amount(text: str, row: CsvLine, currency: str, what: str, mapping: CsvMapping) -> int:
    if not text:
        return 0
    try:
        return parse_signed(
            text,
            currency,
            decimal_separator=mapping.decimal_separator,
            thousands_separator=mapping.thousands_separator,
        )
    except AmountError as exc:
        raise StatementError(f"{what}: {exc}, found {shown(text)}", line=row.line) from exc


class _RowReader:
    def __init__(self, mapping: CsvMapping, header: CsvLine | None, default: str | None) -> None:
        columns = _Columns(header)
        self.mapping = mapping
        self.default_currency = default
        self.date = columns.at(mapping.date_column)
        self.amount = columns.at(mapping.amount_column)
        self.debit = columns.at(mapping.debit_column)
        self.credit = columns.at(mapping.credit_column)
        self.direction = columns.at(mapping.direction_column)
        self.descriptions = [columns.at(c) for c in mapping.description_columns]
        self.category = columns.at(mapping.category_column)
        self.external_id = columns.at(mapping.external_id_column)
        self.currency = columns.at(mapping.currency_column)
        self.debit_values = {value.strip().casefold() for value in mapping.debit_values}

    def signed_amount(self, row: CsvLine, currency: str) -> int:
        mapping = self.mapping
        if self.amount is not None:
            text = _cell(row, self.amount, "the amount")
            amount = _amount(text, row, currency, "amount", mapping)
            if self.direction is not None:
                direction = _cell(row, self.direction, "the direction").casefold()
                return -abs(amount) if direction in self.debit_values else abs(amount)
            return -amount if mapping.negative_is == "income" else amount
        debit = _amount(_cell(row, self.debit, "the debit"), row, currency, "debit", mapping)
        credit = _amount(_cell(row, self.credit, "the credit"), row, currency, "credit", mapping)
        if debit and credit:
            raise StatementError(
                "expected an amount in either the debit or the credit column, found both",
                line=row.line,
            )
        return abs(credit) - abs(debit)

    def read(self, row: CsvLine) -> StatementRow | None:
        """The row, or None when it is skipped (no date, or amount zero)."""
        date_text = _cell(row, self.date, "the date")
        if not date_text:
            return None
        date = parse_date(date_text, self.mapping.date_format)
        if date is None:
            raise StatementError(
                f"date: expected {self.mapping.date_format}, found {shown(date_text)}",
                line=row.line,
            )
        currency = currency_of(
            _cell(row, self.currency, "the currency"), self.default_currency, line=row.line
        )
        amount = self.signed_amount(row, currency)
        if amount == 0:
            return None
        return StatementRow(
            line=row.line,
            date=date,
            amount_minor=amount,
            currency=currency,
            description=describe(*(_cell(row, p, "the description") for p in self.descriptions)),
            bank_id=_cell(row, self.external_id, "the transaction id") or None,
            category=_cell(row, self.category, "the category") or None,
        )


def read_mapped(data: bytes, mapping: CsvMapping, default_currency: str | None) -> Parsed:
    text = decode(data, mapping.encoding)
    check_line_lengths(text)
    lines = csv_lines(text, mapping)
    header = next(lines, None) if mapping.has_header else None
    if mapping.has_header and header is None:
        raise StatementError("expected a header row; the file has no rows")
    reader = _RowReader(mapping, header, default_currency)
    rows: list[StatementRow] = []
    skipped = 0
    for line in lines:
        row = reader.read(line)
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    currencies = {row.currency for row in rows}
    statement = Statement(rows, currency=currencies.pop() if len(currencies) == 1 else None)
    return Parsed([statement], skipped)


def _parse(data: bytes, options: ReadOptions) -> Parsed:
    if options.mapping is None:
        raise MappingRequired(
            "a CSV file needs a mapping (or a saved import profile) saying which column is what"
        )
    return read_mapped(data, options.mapping, options.default_currency)


def _sniff(head: str) -> bool:
    """Two of the first lines hold the same delimiter (a preamble may precede the table)."""
    lines = [line for line in head.splitlines() if line.strip()][:30]
    return any(sum(delimiter in line for line in lines) >= 2 for delimiter in DELIMITERS)


FORMAT = StatementFormat(
    name=CSV, title="CSV (with a mapping)", order=100, sniff=_sniff, parse=_parse
)
