"""ISO 20022 bank-to-customer cash management: CAMT.053 statements, CAMT.052 account
reports and CAMT.054 debit/credit notifications (any version: elements are matched by their
local name, whatever the namespace).

Each ``Stmt``/``Rpt``/``Ntfctn`` is a statement. An entry (``Ntry``) is one row, unless it is
a batch whose ``NtryDtls`` list several ``TxDtls`` with their own amounts: then each of those
is a row. Entries not booked (``Sts`` PDNG or INFO) are skipped and counted. The XML is parsed
by defusedxml with document type declarations forbidden, so entity expansion (billion
laughs) and external entities are refused before anything is expanded or fetched.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException

from ledgerline.imports_exports.statements.amounts import AmountError, decimal_to_minor
from ledgerline.imports_exports.statements.dates import checked_date
from ledgerline.imports_exports.statements.formats.camt_xml import line_of, read_camt
from ledgerline.imports_exports.statements.model import (
    Statement,
    StatementError,
    StatementRow,
    currency_of,
    describe,
    shown,
)
from ledgerline.imports_exports.statements.registry import Parsed, ReadOptions, StatementFormat

STATEMENT_TAGS: Final = ("Stmt", "Rpt", "Ntfctn")
CLOSING_BALANCES: Final = ("CLBD", "CLAV")
"""Closing booked balance, else closing available, whatever their order in the file."""
NOT_PROVIDED: Final = "NOTPROVIDED"
_ISO_DATE: Final = re.compile(r"\A([0-9]{4}-[0-9]{2}-[0-9]{2})")
_PLAIN: Final = re.compile(r"\A-?[0-9]{1,18}(?:\.[0-9]{1,5})?\Z")


def _child(element: Element | None, *path: str) -> Element | None:
    return None if element is None else element.find("/".join(path))


def _children(element: Element | None, name: str) -> list[Element]:
    return [] if element is None else element.findall(name)


def _text(element: Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _date(element: Element | None, where: str, line: int | None) -> dt.date | None:
    """The ``Dt`` or ``DtTm`` inside ``element`` (a time of day is dropped)."""
    text = _text(element, "Dt") or _text(element, "DtTm")
    if text is None:
        return None
    match = _ISO_DATE.match(text)
    value = checked_date(*map(int, match.group(1).split("-"))) if match else None
    if value is None:
        raise StatementError(f"{where}: expected a date YYYY-MM-DD, found {shown(text)}", line=line)
    return value


def _money(
    amount: Element | None, indicator: str | None, where: str, line: int | None
) -> tuple[int, str]:
    """Signed minor units and currency of an ``Amt Ccy=".."`` with its ``CdtDbtInd``."""
    if amount is None or not amount.text:
        raise StatementError(f"{where}: expected an Amt element with an amount", line=line)
    currency = currency_of(amount.get("Ccy"), None, line=line_of(amount))
    if indicator not in {"CRDT", "DBIT"}:
        message = f"{where}: expected CdtDbtInd CRDT or DBIT, found {shown(indicator or '')}"
        raise StatementError(message, line=line)
    text = amount.text.strip()
    try:
        minor = decimal_to_minor(Decimal(text), currency) if _PLAIN.match(text) else None
    except AmountError as exc:
        raise StatementError(f"{where}: {exc}, found {shown(text)}", line=line_of(amount)) from exc
    if minor is None:
        message = f"{where}: expected an amount like 1234.56, found {shown(text)}"
        raise StatementError(message, line=line_of(amount))
    return (-abs(minor) if indicator == "DBIT" else abs(minor)), currency


def _reference(*candidates: str | None) -> str | None:
    return next((c for c in candidates if c and c.upper() != NOT_PROVIDED), None)


def _party_name(details: Element | None) -> str | None:
    parties = _child(details, "RltdPties")
    for role in ("Cdtr", "Dbtr"):
        name = _text(parties, role, "Nm") or _text(parties, role, "Pty", "Nm")
        if name:
            return name
    return None


def _remittance(details: Element | None) -> str | None:
    lines = [(u.text or "").strip() for u in _children(_child(details, "RmtInf"), "Ustrd")]
    return " ".join(line for line in lines if line) or None


def _transaction_amount(details: Element) -> Element | None:
    amount = _child(details, "AmtDtls", "TxAmt", "Amt")
    return amount if amount is not None else _child(details, "Amt")


def _entry_rows(entry: Element, where: str) -> list[StatementRow]:
    line = line_of(entry)
    booked = _date(_child(entry, "BookgDt"), f"{where} BookgDt", line) or _date(
        _child(entry, "ValDt"), f"{where} ValDt", line
    )
    if booked is None:
        raise StatementError(f"{where}: expected a BookgDt or ValDt date", line=line)
    entry_amount, currency = _money(_child(entry, "Amt"), _text(entry, "CdtDbtInd"), where, line)
    entry_ref = _text(entry, "AcctSvcrRef")
    note = _text(entry, "AddtlNtryInf")
    details = [tx for d in _children(entry, "NtryDtls") for tx in _children(d, "TxDtls")]
    amounts = [_transaction_amount(tx) for tx in details]
    if len(details) <= 1 or any(a is None for a in amounts):
        tx = details[0] if details else None
        refs = _child(tx, "Refs")
        bank_id = _reference(_text(refs, "AcctSvcrRef"), entry_ref, _text(refs, "EndToEndId"))
        text = describe(_party_name(tx), _remittance(tx), note)
        return [StatementRow(line or 0, booked, entry_amount, currency, text, bank_id)]
    rows = []
    for number, (tx, amount) in enumerate(zip(details, amounts, strict=True), start=1):
        indicator = _text(tx, "CdtDbtInd") or _text(entry, "CdtDbtInd")
        tx_line = line_of(tx)
        minor, tx_currency = _money(amount, indicator, f"{where}, TxDtls {number}", tx_line)
        refs = _child(tx, "Refs")
        own = _reference(_text(refs, "AcctSvcrRef"), _text(refs, "EndToEndId"))
        bank_id = own or (f"{entry_ref}/{number}" if entry_ref else None)
        text = describe(_party_name(tx), _remittance(tx), note)
        rows.append(StatementRow(tx_line or 0, booked, minor, tx_currency, text, bank_id))
    return rows


def _closing_balance(statement: Element, where: str) -> tuple[int | None, dt.date | None]:
    balances = {_text(b, "Tp", "CdOrPrtry", "Cd"): b for b in _children(statement, "Bal")}
    for code in CLOSING_BALANCES:
        balance = balances.get(code)
        if balance is not None:
            line = line_of(balance)
            indicator = _text(balance, "CdtDbtInd")
            amount, _ = _money(_child(balance, "Amt"), indicator, where, line)
            return amount, _date(_child(balance, "Dt"), where, line)
    return None, None


@dataclass(slots=True)
class _Entries:
    """The rows read so far from one statement's entries."""

    rows: list[StatementRow] = field(default_factory=list)
    read: int = 0
    skipped: int = 0

    def add(self, entry: Element) -> None:
        self.read += 1
        status = _text(entry, "Sts") or _text(entry, "Sts", "Cd") or "BOOK"
        if status != "BOOK":
            self.skipped += 1
            return
        entry_rows = _entry_rows(entry, f"Ntry {self.read} of its statement")
        self.rows.extend(row for row in entry_rows if row.amount_minor != 0)
        self.skipped += sum(1 for row in entry_rows if row.amount_minor == 0)


class _Collector:
    def __init__(self) -> None:
        self.by_statement: dict[int, _Entries] = {}

    def __call__(self, statement: Element, entry: Element) -> None:
        entries = self.by_statement.get(id(statement))
        if entries is None:
            entries = _Entries()
            self.by_statement[id(statement)] = entries
        entries.add(entry)


def _statement(element: Element, number: int, entries: _Entries | None) -> Statement:
    account = _child(element, "Acct")
    identifier = _text(account, "Id", "IBAN") or _text(account, "Id", "Othr", "Id")
    closing, closing_date = _closing_balance(element, f"statement {number} closing balance")
    rows = entries.rows if entries is not None else []
    return Statement(rows, identifier, _text(account, "Ccy"), closing, closing_date)


def _parse(data: bytes, options: ReadOptions) -> Parsed:
    del options
    collector = _Collector()
    try:
        document = read_camt(data, collector)
    except DefusedXmlException as exc:
        raise StatementError(
            "the XML declares a document type or entities, which CAMT files never do; refused"
        ) from exc
    except ParseError as exc:
        line, column = exc.position
        raise StatementError(f"expected well-formed XML (column {column + 1})", line=line) from exc
    message = next(iter(document), None)
    found = [c for c in (message if message is not None else []) if c.tag in STATEMENT_TAGS]
    if not found:
        raise StatementError("expected a Stmt, Rpt or Ntfctn element in the CAMT document")
    entries = [collector.by_statement.get(id(element)) for element in found]
    statements = [
        _statement(element, number, statement_entries)
        for number, (element, statement_entries) in enumerate(zip(found, entries, strict=True), 1)
    ]
    return Parsed(statements, sum(e.skipped for e in entries if e is not None))


def _sniff(head: str) -> bool:
    return "urn:iso:std:iso:20022:tech:xsd:camt.05" in head or "<BkToCstmr" in head


FORMAT = StatementFormat(
    name="camt", title="ISO 20022 CAMT.052/053/054", order=30, sniff=_sniff, parse=_parse
)
