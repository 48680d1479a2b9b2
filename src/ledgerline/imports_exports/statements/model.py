"""What every statement format reads into: rows, statements, and the errors it raises.

A row's amount is signed from the account holder's side: negative is money out of the
account (an expense), positive is money in (an income), in the currency's minor unit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from ledgerline.core.money import MoneyError, normalize_currency

RowType = Literal["income", "expense"]
MAX_SHOWN_CHARS = 40
MAX_BANK_ID_CHARS = 255
MAX_CATEGORY_CHARS = 64
"""A record's limits for its external_id and category."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(text: str) -> str:
    """A value as an error message quotes it: hostile input stays short."""
    text = text.strip()
    return repr(text if len(text) <= MAX_SHOWN_CHARS else f"{text[:MAX_SHOWN_CHARS]}...")


class StatementError(Exception):
    """A file that cannot be read as a statement; the message says where and what was expected.

    ``line`` is the physical line (or, for CSV, the row) the problem is on when there is one.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class UnsupportedFormat(StatementError):
    """The content is no statement format this package reads (an HTTP 415)."""


class StatementTooLarge(StatementError):
    """The file is larger than the reader's byte limit (an HTTP 413)."""


class MappingRequired(StatementError):
    """A CSV can only be read with a mapping saying which column holds what."""


@dataclass(frozen=True, slots=True)
class StatementRow:
    line: int
    """Line (CSV: row) of the file where the transaction starts, for reports."""
    date: dt.date
    amount_minor: int
    """Signed: negative is money out of the account."""
    currency: str
    description: str
    bank_id: str | None = None
    """The bank's own transaction id (OFX FITID, CAMT AcctSvcrRef/EndToEndId, MT940 reference)."""
    category: str | None = None

    def __post_init__(self) -> None:
        for what, value, limit in (
            ("transaction id", self.bank_id, MAX_BANK_ID_CHARS),
            ("category", self.category, MAX_CATEGORY_CHARS),
        ):
            if value is None:
                continue
            if len(value) > limit:
                raise StatementError(f"{what}: expected at most {limit} characters", line=self.line)
            if _CONTROL.search(value):
                message = f"{what}: expected text without control characters"
                raise StatementError(message, line=self.line)

    @property
    def type(self) -> RowType:
        return "expense" if self.amount_minor < 0 else "income"

    @property
    def amount(self) -> int:
        """The unsigned amount in minor units, as a record stores it next to its type."""
        return abs(self.amount_minor)


@dataclass(frozen=True, slots=True)
class Statement:
    rows: list[StatementRow]
    account: str | None = None
    """The account the statement is of: IBAN, or the bank's account number."""
    currency: str | None = None
    closing_balance_minor: int | None = None
    closing_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class StatementFile:
    format: str
    statements: list[Statement]
    skipped: int = 0
    """Rows deliberately not imported: pending, without a date, or of amount zero."""
    rows: list[StatementRow] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", [row for s in self.statements for row in s.rows])

    @property
    def accounts(self) -> list[str]:
        """The distinct account identifiers the file states, in order of appearance."""
        return list(dict.fromkeys(s.account for s in self.statements if s.account))


MAX_DESCRIPTION_CHARS = 1_000
"""A record's notes hold at most this; a longer bank text is cut, not refused."""
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def describe(*parts: str | None) -> str:
    """Payee, memo and the like as one description: whitespace and control characters
    collapsed to single spaces, empty and repeated parts dropped, joined by `` / ``."""
    kept: list[str] = []
    for part in parts:
        if not part:
            continue
        if part.isprintable() and "  " not in part:
            text = part.strip()
        else:
            text = _SPACE.sub(" ", part).strip()
        if text and text not in kept:
            kept.append(text)
    return " / ".join(kept)[:MAX_DESCRIPTION_CHARS]


@lru_cache(maxsize=256)
def _currency(text: str) -> str | None:
    try:
        return normalize_currency(text)
    except MoneyError:
        return None


def currency_of(stated: str | None, default: str | None, *, line: int | None = None) -> str:
    """The row's currency: the one the file states, else the account's."""
    text = (stated or "").strip() or default
    if not text:
        raise StatementError(
            "the file states no currency; the account's currency is needed", line=line
        )
    code = _currency(text)
    if code is None:
        message = f"expected an ISO 4217 currency code, found {shown(text)}"
        raise StatementError(message, line=line)
    return code
