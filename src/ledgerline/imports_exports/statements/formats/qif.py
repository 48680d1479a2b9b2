"""Quicken Interchange Format: ``!Type:Bank`` (or ``CCard``, ``Cash``, ``Oth A``/``Oth L``)
lists of records, one field a line (``D`` date, ``T``/``U`` amount, ``P`` payee, ``M`` memo,
``L`` category), each record ending with ``^``.

Dates are read month first, Quicken's convention (``D03/12'26`` is 12 March 2026: the
apostrophe separates a 2000s year), unless the caller names a date format. Lists of other
types (categories, memorized transactions, investments) are not statements and are passed
over. QIF states no currency, bank id nor balance.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Final

from ledgerline.imports_exports.statements.amounts import AmountError, parse_signed
from ledgerline.imports_exports.statements.dates import (
    DateFormat,
    century,
    checked_date,
    parse_date,
)
from ledgerline.imports_exports.statements.model import (
    Statement,
    StatementError,
    StatementRow,
    currency_of,
    describe,
    shown,
)
from ledgerline.imports_exports.statements.registry import Parsed, ReadOptions, StatementFormat
from ledgerline.imports_exports.statements.text import check_line_lengths, decode

BANK_TYPES: Final = frozenset({"bank", "ccard", "cash", "oth a", "oth l"})
_NUMERIC_DATE: Final = re.compile(
    r"\A(?P<a>[0-9 ]{1,2})\s*[/.-]\s*(?P<b>[0-9 ]{1,2})\s*"
    r"(?P<sep>[/.'-])\s*(?P<y>[0-9]{2}|[0-9]{4})\Z"
)
_DAY_FIRST: Final = frozenset({"DD.MM.YYYY", "DD/MM/YYYY", "DD-MM-YYYY", "DD/MM/YY"})
_MONTH_FIRST: Final = frozenset({"MM/DD/YYYY", "MM/DD/YY"})


def qif_date(text: str, date_format: DateFormat | None) -> dt.date | None:
    """A QIF date: month first by default, ``'`` marking a 2000s two-digit year."""
    if date_format is not None and date_format not in _DAY_FIRST | _MONTH_FIRST:
        return parse_date(text, date_format)
    match = _NUMERIC_DATE.match(text.strip())
    if match is None:
        return None
    first, second = int(match["a"].replace(" ", "0")), int(match["b"].replace(" ", "0"))
    month, day = (second, first) if date_format in _DAY_FIRST else (first, second)
    year = int(match["y"])
    if len(match["y"]) == 2:
        year = 2000 + year if match["sep"] == "'" else century(year)
    return checked_date(year, month, day)


def qif_amount(text: str, currency: str) -> int:
    """``-1,234.56`` or ``-1.234,56``: the last separator followed by one or two digits is the
    decimal one; any other separator groups thousands."""
    value = text.strip()
    last = max(value.rfind("."), value.rfind(","))
    decimal_comma = value[last] == "," and len(value) - last - 1 <= 2
    grouping_dots = value[last] == "." and value.count(".") > 1
    decimal = "," if last >= 0 and (decimal_comma or grouping_dots) else "."
    thousands = "," if decimal == "." else "."
    return parse_signed(value, currency, decimal_separator=decimal, thousands_separator=thousands)


@dataclass(slots=True)
class _Record:
    line: int
    fields: dict[str, str] = field(default_factory=dict)


def _records(text: str) -> tuple[list[_Record], str | None]:
    """The bank-type records of the file, and the account name an ``!Account`` block gives.
    Some programs leave out the ``^`` after the last record; it is read all the same."""
    records: list[_Record] = []
    account: str | None = None
    in_bank_list = in_account_block = False
    current: _Record | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("!"):
            header = line[1:].casefold()
            in_account_block = header == "account"
            if header.startswith("type:"):
                in_bank_list = header[5:].strip() in BANK_TYPES
            current = None
            continue
        if line == "^":
            if current is not None and in_bank_list and not in_account_block:
                records.append(current)
            current = None
            continue
        if current is None:
            current = _Record(number)
        code, value = line[0], line[1:].strip()
        if in_account_block and code == "N":
            account = value or account
        current.fields.setdefault(code, value)
    if current is not None and in_bank_list and not in_account_block:
        records.append(current)
    return records, account


def _row(record: _Record, options: ReadOptions, currency: str) -> StatementRow | None:
    date_text = record.fields.get("D")
    if not date_text:
        raise StatementError("expected a D (date) line in the record", line=record.line)
    expected = options.date_format or "MM/DD/YY (D03/12'26)"
    date = qif_date(date_text, options.date_format)
    if date is None:
        message = f"D: expected a date {expected}, found {shown(date_text)}"
        raise StatementError(message, line=record.line)
    amount_text = record.fields.get("T") or record.fields.get("U")
    if amount_text is None:
        raise StatementError("expected a T (amount) line in the record", line=record.line)
    try:
        amount = qif_amount(amount_text, currency)
    except AmountError as exc:
        raise StatementError(f"T: {exc}, found {shown(amount_text)}", line=record.line) from exc
    if amount == 0:
        return None
    category = record.fields.get("L") or None
    return StatementRow(
        line=record.line,
        date=date,
        amount_minor=amount,
        currency=currency,
        description=describe(record.fields.get("P"), record.fields.get("M")),
        category=None if category is None or category.startswith("[") else category,
    )


def _parse(data: bytes, options: ReadOptions) -> Parsed:
    text = decode(data)
    check_line_lengths(text)
    records, account = _records(text)
    currency = currency_of(None, options.default_currency)
    rows: list[StatementRow] = []
    skipped = 0
    for record in records:
        row = _row(record, options, currency)
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return Parsed([Statement(rows, account, currency)], skipped)


def _sniff(head: str) -> bool:
    first = next((line.strip() for line in head.splitlines() if line.strip()), "")
    return first.casefold().startswith(("!type:", "!account", "!option:", "!clear:"))


FORMAT = StatementFormat(name="qif", title="QIF", order=20, sniff=_sniff, parse=_parse)
