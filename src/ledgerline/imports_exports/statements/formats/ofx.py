"""OFX bank and credit card statements: 1.x (SGML, unclosed leaf tags) and 2.x (XML),
Quicken's QFX included (OFX with an ``<INTU.BID>``).

Each ``<STMTRS>``/``<CCSTMTRS>`` is a statement: its ``<CURDEF>``, the account's
``<ACCTID>``, the ``<STMTTRN>`` rows (``<TRNAMT>`` is signed, ``<FITID>`` is the bank's id,
``<NAME>``/``<PAYEE>`` and ``<MEMO>`` the description), and ``<LEDGERBAL>`` as the closing
balance.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Final

from ledgerline.imports_exports.statements.amounts import AmountError, parse_signed
from ledgerline.imports_exports.statements.dates import checked_date
from ledgerline.imports_exports.statements.formats.ofx_tree import (
    Element,
    parse_ofx_body,
    refuse_declarations,
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
from ledgerline.imports_exports.statements.text import decode

_OFX_START: Final = re.compile(rb"<OFX>", re.IGNORECASE)
_SGML_CHARSET: Final = re.compile(rb"^CHARSET:\s*([A-Za-z0-9-]+)", re.MULTILINE)
_SGML_ENCODING: Final = re.compile(rb"^ENCODING:\s*([A-Za-z0-9-]+)", re.MULTILINE)
_XML_ENCODING: Final = re.compile(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9_-]+)")
_OFX_DATE: Final = re.compile(r"\A([0-9]{4})([0-9]{2})([0-9]{2})")
_CHARSETS: Final = {"1252": "cp1252", "ISO-8859-1": "iso-8859-1", "8859-1": "iso-8859-1"}


def _encoding(data: bytes, header: bytes) -> str | None:
    """The encoding the OFX header states (1.x ``ENCODING``/``CHARSET``, 2.x XML declaration).

    A file that decodes as UTF-8 is read as UTF-8 whatever its 1.x header says: banks often
    keep ``CHARSET:1252`` in the header of files they write in UTF-8, and 1252 text with
    accents is almost never valid UTF-8."""
    with contextlib.suppress(UnicodeDecodeError):
        data.decode("utf-8")
        return "utf-8-sig"
    xml = _XML_ENCODING.search(header)
    if xml is not None:
        return xml.group(1).decode("ascii").lower()
    declared = _SGML_ENCODING.search(header)
    if declared is not None and declared.group(1).upper() in {b"UTF-8", b"UNICODE"}:
        return "utf-8"
    charset = _SGML_CHARSET.search(header)
    if charset is not None:
        return _CHARSETS.get(charset.group(1).decode("ascii").upper())
    return None


def _parse_date(text: str, tag: str, line: int) -> dt.date:
    match = _OFX_DATE.match(text)
    value = checked_date(*map(int, match.groups())) if match else None
    if value is None:
        raise StatementError(f"<{tag}>: expected a date YYYYMMDD, found {shown(text)}", line=line)
    return value


def _amount(parent: Element, tag: str, currency: str) -> int:
    leaf = parent.find(tag)
    text = leaf.text if leaf is not None else ""
    line = leaf.line if leaf is not None else parent.line
    if not text:
        raise StatementError(f"expected a <{tag}> amount in <{parent.tag}>", line=line)
    separator = "," if "," in text and "." not in text else "."
    try:
        return parse_signed(text, currency, decimal_separator=separator)
    except AmountError as exc:
        raise StatementError(f"<{tag}>: {exc}, found {shown(text)}", line=line) from exc


def _row(transaction: Element, statement_currency: str) -> StatementRow | None:
    line = transaction.line
    posted = transaction.find("DTPOSTED") or transaction.find("DTUSER")
    if posted is None or not posted.text:
        raise StatementError("expected a <DTPOSTED> date in <STMTTRN>", line=line)
    currency = currency_of(transaction.text_of("CURRENCY", "CURSYM"), statement_currency, line=line)
    amount = _amount(transaction, "TRNAMT", currency)
    if amount == 0:
        return None
    if amount > 0 and (transaction.text_of("TRNTYPE") or "").upper() == "DEBIT":
        amount = -amount
    return StatementRow(
        line=line,
        date=_parse_date(posted.text, posted.tag, posted.line),
        amount_minor=amount,
        currency=currency,
        description=describe(
            transaction.text_of("NAME") or transaction.text_of("PAYEE", "NAME"),
            transaction.text_of("MEMO"),
        ),
        bank_id=transaction.text_of("FITID"),
    )


def _statement(response: Element, options: ReadOptions) -> tuple[Statement, int]:
    currency = currency_of(response.text_of("CURDEF"), options.default_currency, line=response.line)
    account = response.text_of("BANKACCTFROM", "ACCTID") or response.text_of("CCACCTFROM", "ACCTID")
    rows: list[StatementRow] = []
    skipped = 0
    transactions = response.find("BANKTRANLIST")
    for transaction in transactions.children if transactions is not None else []:
        if transaction.tag != "STMTTRN":
            continue
        row = _row(transaction, currency)
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    balance = response.find("LEDGERBAL")
    closing: int | None = None
    closing_date: dt.date | None = None
    if balance is not None:
        closing = _amount(balance, "BALAMT", currency)
        as_of = balance.text_of("DTASOF")
        closing_date = _parse_date(as_of, "DTASOF", balance.line) if as_of else None
    return Statement(rows, account, currency, closing, closing_date), skipped


def _parse(data: bytes, options: ReadOptions) -> Parsed:
    start = _OFX_START.search(data)
    if start is None:
        raise StatementError("expected an <OFX> element after the OFX header")
    text = decode(data, _encoding(data, data[: start.start()]))
    refuse_declarations(text)
    body_at = text.upper().find("<OFX>")
    ofx = parse_ofx_body(text[body_at:], text.count("\n", 0, body_at) + 1)
    responses = list(ofx.outermost("STMTRS", "CCSTMTRS"))
    if not responses:
        raise StatementError("expected a bank or credit card statement (<STMTRS>) in the OFX file")
    statements: list[Statement] = []
    skipped = 0
    for response in responses:
        statement, statement_skipped = _statement(response, options)
        statements.append(statement)
        skipped += statement_skipped
    return Parsed(statements, skipped)


def _sniff(head: str) -> bool:
    start = head.lstrip()[:4_096].upper()
    return start.startswith("OFXHEADER") or "<OFX>" in start


FORMAT = StatementFormat(
    name="ofx", title="OFX 1.x/2.x (QFX included)", order=10, sniff=_sniff, parse=_parse
)
