"""Reading a CSV upload: header mapping and row validation, streaming, with no database work.

The reader takes a binary stream and yields validated rows one at a time, so memory holds only
the rows being validated, whatever the file's size.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ledgerline.core.money import MoneyError, normalize_currency, parse_amount
from ledgerline.core.text import fold_key
from ledgerline.imports_exports.schemas import RowError
from ledgerline.records.schemas import MAX_DATE, MIN_DATE

REQUIRED = ("date", "type", "category", "amount")
OPTIONAL = ("notes", "currency", "external_id")
IGNORED = ("id", "created_at", "updated_at")
"""Columns our own export writes that an import accepts and skips, so exports round-trip."""
MAX_FIELD_CHARS = 100_000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMULA_ESCAPED = re.compile(r"^'[=+\-@\t\r]")
TYPES = frozenset({"income", "expense"})


class FileRejected(Exception):
    """The file as a whole cannot be read (no header, not UTF-8, a broken quote...)."""

    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(message)
        self.error = RowError(row=row, field=field, message=message)


class TooManyRows(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ImportRow:
    row: int
    date: dt.date
    type: str
    category: str
    category_key: str
    amount_minor: int
    currency: str
    notes: str | None
    external_id: str | None

    @property
    def fingerprint(self) -> str:
        """Identity of a row without ``external_id``: its content, case-folded category."""
        content = "\x1f".join(
            (
                self.date.isoformat(),
                self.type,
                self.category_key,
                str(self.amount_minor),
                self.currency,
                self.notes or "",
            )
        )
        return hashlib.sha256(content.encode()).hexdigest()


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _text_stream(stream: BinaryIO) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


class CsvRows:
    """Iterate validated rows; collect row errors in ``errors`` instead of raising."""

    def __init__(self, stream: BinaryIO, *, default_currency: str, max_rows: int) -> None:
        self._text = _text_stream(stream)
        self._default_currency = default_currency
        self._max_rows = max_rows
        self.errors: list[RowError] = []
        self.rows_read = 0
        self._columns: dict[str, int] = {}

    def close(self) -> None:
        """Let go of the caller's stream without closing it."""
        self._text.detach()

    def _error(self, row: int, field: str, message: str) -> None:
        self.errors.append(RowError(row=row, field=field, message=message))

    def _read_header(self) -> Iterator[list[str]]:
        try:
            first_line = self._text.readline(MAX_FIELD_CHARS)
        except UnicodeDecodeError as exc:
            raise FileRejected(1, "file", "is not UTF-8 text") from exc
        if not first_line.strip():
            raise FileRejected(1, "file", "is empty; a header row is required")
        if "\x00" in first_line:
            raise FileRejected(1, "file", "is not a text CSV file")
        delimiter = _sniff_delimiter(first_line)
        header = next(csv.reader([first_line], delimiter=delimiter), [])
        names = [fold_key(name) for name in header]
        for position, name in enumerate(names):
            if name in REQUIRED or name in OPTIONAL or name in IGNORED:
                if name in self._columns:
                    raise FileRejected(1, name, "column appears twice")
                self._columns[name] = position
            else:
                raise FileRejected(
                    1,
                    name or f"column {position + 1}",
                    "unknown column; expected date, type, category, amount "
                    "and optionally notes, currency, external_id",
                )
        missing = [name for name in REQUIRED if name not in self._columns]
        if missing:
            raise FileRejected(1, missing[0], f"required column missing: {', '.join(missing)}")
        self._width = len(names)
        return csv.reader(self._text, delimiter=delimiter, strict=True)

    def __iter__(self) -> Iterator[ImportRow]:
        reader = self._read_header()
        row_number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise FileRejected(row_number + 1, "file", "is not UTF-8 text") from exc
            except csv.Error as exc:
                raise FileRejected(row_number + 1, "file", f"is not valid CSV: {exc}") from exc
            row_number += 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            self.rows_read += 1
            if self.rows_read > self._max_rows:
                raise TooManyRows
            if len(cells) != self._width:
                self._error(
                    row_number, "row", f"has {len(cells)} cells, the header has {self._width}"
                )
                continue
            parsed = self._validate(row_number, cells)
            if parsed is not None:
                yield parsed

    def _cell(self, cells: list[str], name: str) -> str:
        position = self._columns.get(name)
        return cells[position].strip() if position is not None else ""

    def _validate(self, row: int, cells: list[str]) -> ImportRow | None:
        errors_before = len(self.errors)
        for name, position in self._columns.items():
            if _CONTROL.search(cells[position]):
                self._error(row, name, "must not contain control characters")
        if len(self.errors) > errors_before:
            return None
        date = self._date(row, self._cell(cells, "date"))
        kind = self._cell(cells, "type").lower()
        if kind not in TYPES:
            self._error(row, "type", "must be income or expense")
        category = _unescape(self._cell(cells, "category"))
        if not 1 <= len(category) <= 64:
            self._error(row, "category", "must be 1-64 characters")
        currency = self._currency(row, self._cell(cells, "currency"))
        amount = self._amount(row, self._cell(cells, "amount"), currency)
        notes = _unescape(self._cell(cells, "notes")) or None
        if notes is not None and len(notes) > 1000:
            self._error(row, "notes", "must be at most 1000 characters")
        external_id = self._cell(cells, "external_id") or None
        if external_id is not None and len(external_id) > 255:
            self._error(row, "external_id", "must be at most 255 characters")
        if len(self.errors) > errors_before or date is None or amount is None or not currency:
            return None
        return ImportRow(
            row=row,
            date=date,
            type=kind,
            category=category,
            category_key=fold_key(category),
            amount_minor=amount,
            currency=currency,
            notes=notes,
            external_id=external_id,
        )

    def _date(self, row: int, text: str) -> dt.date | None:
        try:
            if not _DATE.match(text):
                raise ValueError
            value = dt.date.fromisoformat(text)
        except ValueError:
            self._error(row, "date", "must be a date YYYY-MM-DD")
            return None
        if not MIN_DATE <= value <= MAX_DATE:
            self._error(row, "date", "must be between 1900-01-01 and 2199-12-31")
            return None
        return value

    def _currency(self, row: int, text: str) -> str | None:
        if not text:
            return self._default_currency
        try:
            return normalize_currency(text)
        except MoneyError as exc:
            self._error(row, "currency", str(exc))
            return None

    def _amount(self, row: int, text: str, currency: str | None) -> int | None:
        if currency is None:
            return None
        try:
            return parse_amount(text, currency)
        except MoneyError as exc:
            self._error(row, "amount", str(exc))
            return None


def _unescape(text: str) -> str:
    """Undo the export's formula-injection guard (a leading apostrophe) so exports round-trip."""
    return text[1:] if _FORMULA_ESCAPED.match(text) else text
