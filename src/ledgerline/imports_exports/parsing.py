"""Reading a CSV upload: header mapping and row validation, streaming, with no database work.

The reader takes a binary stream and yields validated rows one at a time, so memory holds only
the rows being validated, whatever the file's size: physical lines are read with a length
limit, so even a file without a single newline is never held whole.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from ledgerline.core.money import MoneyError, minor_digits, normalize_currency, parse_amount
from ledgerline.core.schemas import ISO_DATE, MAX_DATE, MIN_DATE
from ledgerline.core.text import CONTROL_CHARACTERS, fold_key
from ledgerline.imports_exports.schemas import RowError

REQUIRED = ("date", "type", "category", "amount")
OPTIONAL = ("notes", "currency", "external_id", "account")
IGNORED = ("id", "created_at", "updated_at")
"""Columns our own export writes that an import accepts and skips, so exports round-trip."""
MAX_LINE_BYTES = 65_536
"""Longest physical line read; a valid row is a few kilobytes at most."""
MAX_REPORTED_ERRORS = 1_000
MAX_CATEGORY_CHARS = 64
MAX_NOTES_CHARS = 1_000
MAX_EXTERNAL_ID_CHARS = 255
MAX_ACCOUNT_CHARS = 64
MAX_SHOWN_NAME_CHARS = 40
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,4}))?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_FORMULA = re.compile(r"'+[=+\-@\t\r]")
TYPES = frozenset({"income", "expense"})


class FileRejected(Exception):
    """The file as a whole cannot be read (no header, not UTF-8, a broken quote...)."""

    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(message)
        self.error = RowError(row=row, field=field, message=message)


class TooManyRows(Exception):
    """The file has more data rows than the configured limit (answered 413)."""


class _LineTooLong(Exception):
    """A line longer than the parser accepts; reported as a row error, never buffered whole."""


class ImportRow(NamedTuple):
    row: int
    date: dt.date
    type: str
    category: str
    category_key: str
    amount_minor: int
    currency: str
    notes: str | None
    external_id: str | None
    fingerprint: str | None
    """Identity of a row without ``external_id``: a hash of its content (folded category)."""
    account: str | None = None
    """The account named in the row, as written (resolved against the org's by the import)."""


def fingerprint(
    date: dt.date, kind: str, category_key: str, amount_minor: int, currency: str, notes: str | None
) -> str:
    content = f"{date.isoformat()}\x1f{kind}\x1f{category_key}\x1f{amount_minor}\x1f{currency}"
    return hashlib.sha256(f"{content}\x1f{notes or ''}".encode()).hexdigest()


def _shown(name: str) -> str:
    """A column name as an error report repeats it: a hostile header stays short."""
    return name if len(name) <= MAX_SHOWN_NAME_CHARS else f"{name[:MAX_SHOWN_NAME_CHARS]}..."


def _csv_problem(exc: csv.Error) -> str:
    """What the csv module's complaint means for someone holding a spreadsheet."""
    text = str(exc)
    if text.startswith("unexpected end of data"):
        return "a quoted field is never closed"
    if text.endswith("expected after '\"'"):
        return "text follows a closing quote (a quote inside a quoted field must be doubled)"
    if text.startswith("field larger than field limit"):
        return "a field is longer than the csv limit (a quote that is never closed?)"
    if text.startswith("new-line character seen in unquoted field"):
        return "a bare carriage return ends a line (save the file with LF or CRLF line endings)"
    return f"is not valid CSV: {text}"


def _sniff_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


@functools.lru_cache(maxsize=4_096)
def _date(text: str) -> dt.date | str:
    """The date, or the message saying why ``text`` is not an accepted one."""
    if not ISO_DATE.fullmatch(text):
        return "must be a date YYYY-MM-DD"
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        return "must be a date YYYY-MM-DD"
    if not MIN_DATE <= value <= MAX_DATE:
        return "must be between 1900-01-01 and 2199-12-31"
    return value


@functools.lru_cache(maxsize=256)
def _currency(text: str) -> tuple[str, int] | str:
    """The currency and its decimals, or the message saying why ``text`` is not one."""
    try:
        code = normalize_currency(text)
    except MoneyError as exc:
        return str(exc)
    return code, minor_digits(code)


@functools.lru_cache(maxsize=4_096)
def _category_key(name: str) -> str:
    return fold_key(name)


def _amount(text: str, currency: str, places: int) -> int | str:
    """Minor units, or the message saying why ``text`` is not an amount in ``currency``.

    Plain ``123.45`` text is converted here; anything else goes through ``parse_amount``,
    which accepts the same values and explains a rejection.
    """
    match = _PLAIN_AMOUNT.fullmatch(text)
    if match is not None:
        whole, fraction = match.groups()
        if fraction is None or len(fraction) <= places:
            minor = int(whole + (fraction or "").ljust(places, "0"))
            if minor > 0:
                return minor
    try:
        return parse_amount(text, currency)
    except MoneyError as exc:
        return str(exc)


def escape_cell(text: str) -> str:
    """Neutralise spreadsheet formulas for export: a cell starting with = + - @ (or tab, CR)
    gets a leading apostrophe. So that ``unescape_cell`` is its exact inverse, text that
    already looks escaped (apostrophes, then one of those) gets one more."""
    if text.startswith(_FORMULA_START) or (text.startswith("'") and _ESCAPED_FORMULA.match(text)):
        return f"'{text}"
    return text


def unescape_cell(text: str) -> str:
    """Undo ``escape_cell`` on import, so an exported file imports as the original text."""
    return text[1:] if text.startswith("'") and _ESCAPED_FORMULA.match(text) else text


def _physical_lines(stream: BinaryIO) -> Iterator[str]:
    """Physical lines, each decoded on its own so that an encoding error is reported on the
    row it is in."""
    readline = stream.readline
    line = readline(MAX_LINE_BYTES + 1)
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    while line:
        if len(line) > MAX_LINE_BYTES:
            raise _LineTooLong
        yield line.decode()
        line = readline(MAX_LINE_BYTES + 1)


def _is_blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def count_rows(stream: BinaryIO, max_rows: int) -> int | None:
    """The file's data rows, then rewind; ``TooManyRows`` past ``max_rows``.

    A plain CSV pass, validating nothing, so that an import over the limit is refused before
    any row is written (and before a transaction waits on it). Rows count as ``CsvRows`` counts
    them: blank lines do not, a quoted field spanning lines is one row. It stops counting at
    anything that makes the file unreadable (encoding, quoting, an overlong line), which the
    validating pass then reports at the same place. A stream that cannot rewind is left to
    that pass, which stops at the row crossing the limit. None when the count stopped short.
    """
    if not stream.seekable():
        return None
    start = stream.tell()
    try:
        lines = _physical_lines(stream)
        header = next(lines, "")
        reader = csv.reader(lines, delimiter=_sniff_delimiter(header), strict=True)
        rows = 0
        for cells in reader:
            if _is_blank(cells):
                continue
            rows += 1
            if rows > max_rows:
                raise TooManyRows
    except (UnicodeDecodeError, _LineTooLong, csv.Error):
        return None
    finally:
        stream.seek(start)
    return rows


class CsvRows:
    """Iterate validated rows; collect row errors in ``errors`` instead of raising.

    ``errors`` keeps the first ``MAX_REPORTED_ERRORS``; ``error_count`` counts them all.
    """

    def __init__(self, stream: BinaryIO, *, default_currency: str, max_rows: int) -> None:
        self._stream = stream
        self._default = (default_currency, minor_digits(default_currency))
        self._max_rows = max_rows
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows_read = 0
        self._names: list[str] = []
        self._columns: dict[str, int] = {}

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def _error(self, row: int, field: str, message: str) -> None:
        self.add_error(RowError(row=row, field=field, message=message))

    def _lines(self) -> Iterator[str]:
        return _physical_lines(self._stream)

    def _read_header(self, lines: Iterator[str]) -> Iterator[list[str]]:
        try:
            first_line = next(lines, "")
        except UnicodeDecodeError as exc:
            raise FileRejected(1, "file", "is not UTF-8 text") from exc
        except _LineTooLong as exc:
            raise FileRejected(
                1, "file", f"the header row is longer than {MAX_LINE_BYTES} bytes"
            ) from exc
        if not first_line.strip():
            raise FileRejected(1, "file", "is empty; a header row is required")
        if "\x00" in first_line:
            raise FileRejected(1, "file", "is not a text CSV file")
        delimiter = _sniff_delimiter(first_line)
        try:
            header = next(csv.reader([first_line], delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            raise FileRejected(1, "file", f"header row: {_csv_problem(exc)}") from exc
        self._names = [fold_key(name) for name in header]
        for position, name in enumerate(self._names):
            if name not in REQUIRED and name not in OPTIONAL and name not in IGNORED:
                raise FileRejected(
                    1,
                    _shown(name) or f"column {position + 1}",
                    "unknown column; expected date, type, category, amount "
                    "and optionally notes, currency, external_id, account",
                )
            if name in self._columns:
                raise FileRejected(1, name, "column appears twice")
            self._columns[name] = position
        missing = [name for name in REQUIRED if name not in self._columns]
        if missing:
            raise FileRejected(1, missing[0], f"required column missing: {', '.join(missing)}")
        return csv.reader(lines, delimiter=delimiter, strict=True)

    def __iter__(self) -> Iterator[ImportRow]:
        lines = self._lines()
        reader = self._read_header(lines)
        width = len(self._names)
        validate = self._validator()
        row_number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise FileRejected(row_number + 1, "file", "is not UTF-8 text") from exc
            except _LineTooLong as exc:
                raise FileRejected(
                    row_number + 1, "file", f"has a line longer than {MAX_LINE_BYTES} bytes"
                ) from exc
            except csv.Error as exc:
                raise FileRejected(row_number + 1, "file", _csv_problem(exc)) from exc
            row_number += 1
            if _is_blank(cells):
                continue
            self.rows_read += 1
            if self.rows_read > self._max_rows:
                raise TooManyRows
            if len(cells) != width:
                self._error(row_number, "row", f"has {len(cells)} cells, the header has {width}")
                continue
            parsed = validate(row_number, cells)
            if parsed is not None:
                yield parsed

    def _clean(self, row: int, cells: list[str]) -> list[str] | None:
        """Cells with CRLF inside quoted fields read as newlines; None if a control
        character remains (reported per column)."""
        cells = [cell.replace("\r\n", "\n") for cell in cells]
        clean = True
        for name, cell in zip(self._names, cells, strict=True):
            if CONTROL_CHARACTERS.search(cell):
                self._error(row, name, "must not contain control characters")
                clean = False
        return cells if clean else None

    def _validator(self) -> Callable[[int, list[str]], ImportRow | None]:  # noqa: PLR0915
        """The row check, with everything it uses bound to locals: it runs once per row, so
        attribute and global lookups are a measurable part of an import's time."""
        columns = self._columns
        at_date, at_type, at_category, at_amount = (columns[name] for name in REQUIRED)
        at_notes, at_currency, at_external_id, at_account = (columns.get(name) for name in OPTIONAL)
        default_currency = self._default
        error = self._error
        clean = self._clean
        has_control = CONTROL_CHARACTERS.search
        parse_date = _date
        key_of = _category_key
        currency_of = _currency
        amount_of = _amount
        unescape = unescape_cell
        content_hash = fingerprint
        date_type = dt.date
        make_row = ImportRow

        def validate(row: int, cells: list[str]) -> ImportRow | None:  # noqa: PLR0912, PLR0915
            if has_control("\t".join(cells)):
                cleaned = clean(row, cells)
                if cleaned is None:
                    return None
                cells = cleaned
            valid = True
            date = parse_date(cells[at_date].strip())
            if type(date) is not date_type:
                error(row, "date", str(date))
                valid = False
            kind = cells[at_type]
            if kind not in TYPES:
                kind = kind.strip().lower()
                if kind not in TYPES:
                    error(row, "type", "must be income or expense")
                    valid = False
            category = cells[at_category].strip()
            if category[:1] == "'":
                category = unescape(category)
            category_key = key_of(category)
            if not 0 < len(category) <= MAX_CATEGORY_CHARS:
                error(row, "category", f"must be 1-{MAX_CATEGORY_CHARS} characters")
                valid = False
            elif len(category_key) > MAX_CATEGORY_CHARS:
                error(row, "category", "is too long once case-folded")
                valid = False
            currency_text = cells[at_currency].strip() if at_currency is not None else ""
            currency = currency_of(currency_text) if currency_text else default_currency
            amount: int | str = 0
            if type(currency) is str:
                error(row, "currency", currency)
                valid = False
            else:
                amount = amount_of(cells[at_amount].strip(), *currency)
                if type(amount) is str:
                    error(row, "amount", amount)
                    valid = False
            notes = cells[at_notes] if at_notes is not None else ""
            if notes[:1] == "'":
                notes = unescape(notes)
            if len(notes) > MAX_NOTES_CHARS:
                error(row, "notes", f"must be at most {MAX_NOTES_CHARS} characters")
                valid = False
            external_id = cells[at_external_id].strip() if at_external_id is not None else ""
            if len(external_id) > MAX_EXTERNAL_ID_CHARS:
                error(row, "external_id", f"must be at most {MAX_EXTERNAL_ID_CHARS} characters")
                valid = False
            account = cells[at_account].strip() if at_account is not None else ""
            if account[:1] == "'":
                account = unescape(account)
            if len(account) > MAX_ACCOUNT_CHARS:
                error(row, "account", f"must be at most {MAX_ACCOUNT_CHARS} characters")
                valid = False
            if not valid:
                return None
            assert isinstance(date, date_type)
            assert isinstance(amount, int)
            assert not isinstance(currency, str)
            code = currency[0]
            return make_row(
                row,
                date,
                kind,
                category,
                category_key,
                amount,
                code,
                notes or None,
                external_id or None,
                None
                if external_id
                else content_hash(date, kind, category_key, amount, code, notes),
                account or None,
            )

        return validate
