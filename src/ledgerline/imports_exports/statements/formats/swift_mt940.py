"""SWIFT MT940 customer statements, read by the ``mt-940`` library.

A file holds one statement per ``:20:`` block (banks often send one a day). ``:25:`` is the
account, ``:61:`` a transaction (its ``//`` bank reference the bank's id), the ``:86:`` after
it the description (the structured ``?20``-``?29`` purpose and ``?32`` name subfields when
the bank uses them, the raw text otherwise), ``:62F:`` the closing balance.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from decimal import InvalidOperation
from typing import Any, Final

import mt940
from mt940 import processors

from ledgerline.imports_exports.statements.amounts import AmountError, decimal_to_minor
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

_TRANSACTION_LINE: Final = re.compile(r"^:61:", re.MULTILINE)
_STATEMENT_START: Final = re.compile(r"^:20:", re.MULTILINE)
_ACCOUNT: Final = re.compile(r"^:25:", re.MULTILINE)
_OPTIONS: Final = mt940.Options.all()
"""Every fix of the library switched on: ``?31`` read as the IBAN, not glued to the name;
``:86:`` details never truncated; a reversed credit negative."""
_PROCESSORS: Final[dict[str, list[Callable[..., dict[str, Any]]]]] = {
    "post_transaction_details": [
        functools.partial(processors.transaction_details_post_processor, space=True)
    ]
}
"""Structured ``:86:`` subfields joined with spaces (``?20``/``?21`` purpose lines)."""


def _line_of(text: str, fragment: str) -> int | None:
    at = text.find(fragment.strip()[:60]) if fragment.strip() else -1
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _line_numbers(text: str, pattern: re.Pattern[str]) -> list[int]:
    """The line of each match, counted incrementally (a file may hold 100,000 of them)."""
    lines: list[int] = []
    line, position = 1, 0
    for match in pattern.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        lines.append(line)
    return lines


def _minor(amount: Any, currency: str, line: int | None) -> int:
    try:
        return decimal_to_minor(amount.amount, currency)
    except AmountError as exc:
        raise StatementError(f":61: {exc}", line=line) from exc


def _description(data: dict[str, Any]) -> str:
    name = data.get("applicant_name") or data.get("recipient_name")
    purpose = data.get("purpose")
    if name or purpose:
        return describe(name, purpose, data.get("additional_purpose"))
    return describe(data.get("transaction_details"), data.get("extra_details"))


def _statement(block: Any, lines: list[int], default: str | None) -> tuple[Statement, int]:
    info: dict[str, Any] = block.data
    closing = info.get("final_closing_balance")
    currency = currency_of(
        closing.amount.currency if closing is not None else block.currency, default
    )
    rows: list[StatementRow] = []
    skipped = 0
    for transaction, line in zip(block, lines, strict=True):
        data: dict[str, Any] = transaction.data
        row_currency = currency_of(data.get("currency"), currency, line=line)
        amount = _minor(data["amount"], row_currency, line)
        if amount == 0:
            skipped += 1
            continue
        date: dt.date = data["date"]
        reference = data.get("bank_reference")
        rows.append(
            StatementRow(
                line=line,
                date=dt.date(date.year, date.month, date.day),
                amount_minor=amount,
                currency=row_currency,
                description=_description(data),
                bank_id=reference.strip() or None if isinstance(reference, str) else None,
            )
        )
    balance = None if closing is None else _minor(closing.amount, currency, None)
    closing_date = None if closing is None else dt.date(*closing.date.timetuple()[:3])
    account = info.get("account_identification")
    return Statement(rows, account, currency, balance, closing_date), skipped


def _parse(data: bytes, options: ReadOptions) -> Parsed:
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
    check_line_lengths(text)
    try:
        blocks = mt940.parse_statements(io.StringIO(text), processors=_PROCESSORS, options=_OPTIONS)
    except RuntimeError as exc:
        value = str(exc.args[2]) if len(exc.args) > 2 else ""
        where = _line_of(text, value)
        raise StatementError(f"expected an MT940 field, found {shown(value)}", line=where) from exc
    except (ValueError, InvalidOperation) as exc:
        raise StatementError(f"expected MT940 fields: {exc}") from exc
    transaction_lines = _line_numbers(text, _TRANSACTION_LINE)
    statements: list[Statement] = []
    skipped = 0
    start = 0
    for block in blocks:
        lines = transaction_lines[start : start + len(block)]
        start += len(block)
        if len(lines) != len(block):
            raise StatementError("expected one :61: line per transaction")
        statement, statement_skipped = _statement(block, lines, options.default_currency)
        statements.append(statement)
        skipped += statement_skipped
    if start != len(transaction_lines):
        unread = transaction_lines[start] if start < len(transaction_lines) else None
        raise StatementError("expected this :61: line inside a :20: statement", line=unread)
    return Parsed(statements, skipped)


def _sniff(head: str) -> bool:
    return bool(_STATEMENT_START.search(head) and _ACCOUNT.search(head))


FORMAT = StatementFormat(name="mt940", title="SWIFT MT940", order=40, sniff=_sniff, parse=_parse)
