"""Importing a bank statement into an account: the file read by ``statements`` (any format),
its rows turned into the CSV import's rows, and written by the CSV import's batches, so that
limits, duplicates, closed periods, aggregates and the audit entry behave the same.

- Each row becomes a record of the account: the sign gives the type, the amount its absolute
  value, the description its notes, the bank's transaction id its ``external_id``.
- A row without bank id gets a fingerprint of (account, date, amount, type, description,
  occurrence): re-importing the statement, or one overlapping it, finds its rows again, while
  the same content in another account is another transaction.
- Categories: the file's own (QIF ``L``, a mapping's ``category_column``), else the org's
  category rules, else the description's last category in the org (``categorise``), else
  ``Uncategorized``.
- The whole file or nothing: any problem answers before anything is written (or rolls back).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import balances
from ledgerline.accounts.models import Account
from ledgerline.accounts.service import account_in_org
from ledgerline.core.db import lift_statement_timeout
from ledgerline.core.errors import (
    ContentTooLarge,
    FieldError,
    UnsupportedMediaType,
    ValidationFailed,
)
from ledgerline.core.ids import new_id
from ledgerline.core.money import format_amount, max_minor
from ledgerline.core.schemas import MAX_DATE, MIN_DATE
from ledgerline.core.text import CONTROL_CHARACTERS, fold_key
from ledgerline.imports_exports import bulk
from ledgerline.imports_exports import service as imports
from ledgerline.imports_exports.accounts import RowAccounts
from ledgerline.imports_exports.categorise import categorise
from ledgerline.imports_exports.parsing import MAX_REPORTED_ERRORS, ImportRow
from ledgerline.imports_exports.profiles.service import mapping_of
from ledgerline.imports_exports.schemas import RowError, StatementReport
from ledgerline.imports_exports.statements import (
    CsvMapping,
    DateFormat,
    MappingRequired,
    ReadOptions,
    RowIdentity,
    Statement,
    StatementError,
    StatementFile,
    StatementRow,
    StatementTooLarge,
    UnsupportedFormat,
    detect,
    read_limited,
    read_statements,
    row_identities,
)
from ledgerline.imports_exports.statements.registry import supported
from ledgerline.orgs.dependencies import OrgContext

UNCATEGORIZED = "Uncategorized"


@dataclass(frozen=True, slots=True)
class StatementOptions:
    """What the request says of the file besides its bytes."""

    mapping: CsvMapping | None = None
    """How to read a CSV (other formats ignore it)."""
    source_account: str | None = None
    """The one bank account to import from a file holding statements of several."""
    date_format: DateFormat | None = None
    """Overrides QIF's month-first dates."""
    profile_id: uuid.UUID | None = None
    """A saved mapping of the org (import profile), instead of ``mapping``."""
    file_name: str | None = None


class StatementRejected(imports.ImportRejected):
    """The statement cannot be imported as it is; nothing was written (422 with the report)."""

    report: StatementReport


class StatementRows:
    """The statement's rows as the CSV import's ``RowSource``: each made an ``ImportRow`` as
    the import reads it (in its worker thread, while the previous batch is written). A row
    out of a record's range is a row error; the import then writes nothing more, and the
    caller's rollback undoes what it wrote."""

    def __init__(
        self,
        rows: Sequence[StatementRow],
        identities: Sequence[RowIdentity],
        categories: Sequence[str | None],
        currency: str,
    ) -> None:
        self._rows = rows
        self._identities = identities
        self._categories = categories
        self._currency = currency
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows_read = 0

    def __iter__(self) -> Iterator[ImportRow]:
        currency = self._currency
        largest = max_minor(currency)
        keys: dict[str, str] = {}
        for row, identity, category in zip(
            self._rows, self._identities, self._categories, strict=True
        ):
            self.rows_read += 1
            if not MIN_DATE <= row.date <= MAX_DATE:
                message = "the date must be between 1900-01-01 and 2199-12-31"
                self.add_error(RowError(row=row.line or 1, field="date", message=message))
                continue
            amount = row.amount
            if amount > largest:
                message = f"the amount is larger than {format_amount(largest, currency)}"
                self.add_error(RowError(row=row.line or 1, field="amount", message=message))
                continue
            name = _clean(category) if category else UNCATEGORIZED
            key = keys.get(name)
            if key is None:
                key = keys[name] = fold_key(name)
            yield ImportRow(
                row=row.line,
                date=row.date,
                type=row.type,
                category=name,
                category_key=key,
                amount_minor=amount,
                currency=currency,
                notes=_clean(row.description) or None,
                external_id=identity.bank_id,
                fingerprint=identity.fingerprint,
            )

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


@dataclass
class _Facts:
    """What the answer says besides the counts."""

    format: str
    account: Account
    skipped: int
    dry_run: bool

    def report(
        self, created: int, duplicates: int, errors: list[RowError], error_count: int
    ) -> StatementReport:
        base = imports.report_of(created, duplicates, errors, error_count, self.dry_run)
        return StatementReport(
            **base.model_dump(),
            format=self.format,
            account_id=self.account.id,
            skipped=self.skipped,
        )

    def reject(self, errors: list[RowError], error_count: int | None = None) -> StatementRejected:
        count = len(errors) if error_count is None else error_count
        report = self.report(0, 0, errors, count)
        rejected = StatementRejected(report, count)
        rejected.detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:3])
        return rejected


async def import_statement(
    session: AsyncSession,
    ctx: OrgContext,
    account_id: uuid.UUID,
    stream: BinaryIO,
    *,
    options: StatementOptions,
    dry_run: bool,
    max_rows: int,
    max_bytes: int,
    progress: imports.Progress | None = None,
    on_total: imports.Progress | None = None,
) -> StatementReport:
    """Import every row of the statement file into the account; 404 for an account not in the
    org, 413 over the limits, 415 for no readable format, 422 (``StatementRejected``, nothing
    written) for a malformed file, another currency, several bank accounts, a missing mapping.
    ``progress`` hears the rows done after each batch, ``on_total`` the rows to import once
    the file is read. Nothing is committed here."""
    account = await account_in_org(session, ctx.org_id, account_id)
    options = await _with_profile(session, ctx.org_id, options)
    data = await _read(stream, max_bytes)
    facts = _Facts(format="", account=account, skipped=0, dry_run=dry_run)
    statement_file = await _parsed(data, account, options, facts)
    facts.format = statement_file.format
    facts.skipped = statement_file.skipped
    statements = _chosen(statement_file, options.source_account, facts)
    rows = [row for statement in statements for row in statement.rows]
    if len(rows) > max_rows:
        raise ContentTooLarge(f"the file has more than {max_rows} rows")
    _check_currency(statements, rows, account, facts)
    if on_total is not None:
        on_total(len(rows))
    await lift_statement_timeout(session)
    # The rows' identities (a hash each) are computed in a worker thread while the categories
    # are looked up in the database.
    identities, categories = await asyncio.gather(
        asyncio.to_thread(row_identities, rows, scope=str(account.id)),
        categorise(session, ctx.org_id, rows),
    )
    source = StatementRows(rows, identities, categories, account.currency)
    tally = imports.Tally(accounts=RowAccounts(session, ctx.org_id, account))
    category_cache = imports.Categories(session, ctx.org_id)
    closing = _closing(statements, account)
    pending = _PendingSum(closing[1] if closing is not None else None)
    import_id = None if dry_run else new_id()
    if import_id is not None:
        await imports.serialise_imports(session, ctx.org_id)
    async with bulk.tuned_for_writing(session):
        await imports.run_batches(
            session,
            ctx,
            source,
            tally,
            category_cache,
            import_id=import_id,
            progress=progress,
            on_fresh=pending.add if dry_run else None,
        )
    if source.error_count:
        raise facts.reject(source.errors, source.error_count)
    if import_id is not None and tally.created:
        await imports.record_import(
            session,
            ctx,
            import_id,
            tally,
            category_cache.ids,
            options.file_name,
            details={"format": facts.format, "account_id": str(account.id)},
        )
    report = facts.report(tally.created, tally.duplicates, [], 0)
    if closing is not None:
        balance_minor, day = closing
        computed = (await balances.balances_on(session, [account], day))[account.id]
        difference = balance_minor - computed - pending.total
        report.closing_balance = format_amount(balance_minor, account.currency)
        report.closing_balance_date = day
        report.balance_difference = format_amount(difference, account.currency)
    return report


async def _with_profile(
    session: AsyncSession, org_id: uuid.UUID, options: StatementOptions
) -> StatementOptions:
    """The options with the mapping of their ``profile_id`` (422 on ``profile_id`` for a
    profile not in the org, or sent with a ``mapping`` too)."""
    if options.profile_id is None:
        return options
    if options.mapping is not None:
        message = "give either profile_id or mapping, not both"
        raise ValidationFailed([FieldError("profile_id", message)])
    mapping = await mapping_of(session, org_id, options.profile_id)
    return replace(options, mapping=mapping)


async def _read(stream: BinaryIO, max_bytes: int) -> bytes:
    try:
        return await asyncio.to_thread(read_limited, stream, max_bytes)
    except StatementTooLarge as exc:
        raise ContentTooLarge(exc.message) from exc


async def _parsed(
    data: bytes, account: Account, options: StatementOptions, facts: _Facts
) -> StatementFile:
    read_options = ReadOptions(
        default_currency=account.currency,
        date_format=options.date_format,
        mapping=options.mapping,
    )
    if not data.strip():
        raise facts.reject([RowError(row=1, field="file", message="the file is empty")])
    try:
        statement_format = detect(data)
    except StatementError as exc:
        raise unreadable(exc) from exc
    facts.format = statement_format.name
    try:
        return await asyncio.to_thread(read_statements, data, read_options)
    except StatementTooLarge as exc:
        raise ContentTooLarge(exc.message) from exc
    except MappingRequired as exc:
        raise facts.reject([_file_error(exc, "mapping")]) from exc
    except StatementError as exc:
        raise facts.reject([_file_error(exc, "file")]) from exc


def unreadable(exc: StatementError) -> UnsupportedMediaType:
    """415 for a file in no format read (binary data, a PDF...), naming those that are."""
    if isinstance(exc, UnsupportedFormat):
        return UnsupportedMediaType(exc.message)
    return UnsupportedMediaType(f"{exc.message}; this server reads {supported()}")


def _file_error(exc: StatementError, field: str) -> RowError:
    return RowError(row=exc.line or 1, field=field, message=exc.message)


def _identifier(text: str) -> str:
    return "".join(text.split()).upper()


def _chosen(
    statement_file: StatementFile, source_account: str | None, facts: _Facts
) -> list[Statement]:
    """The statements to import: all of them when the file is of one bank account, else
    those of ``source_account`` (422 listing the accounts found otherwise)."""
    found = statement_file.accounts
    if source_account is None or not source_account.strip():
        if len(found) > 1:
            listed = ", ".join(found)
            message = f"the file holds statements of several accounts ({listed}): name one"
            raise facts.reject([RowError(row=1, field="source_account", message=message)])
        return statement_file.statements
    wanted = _identifier(source_account)
    chosen = [
        statement
        for statement in statement_file.statements
        if statement.account and _identifier(statement.account) == wanted
    ]
    if not chosen:
        listed = ", ".join(found) or "none"
        message = f"the file holds no statement of this account; it holds: {listed}"
        raise facts.reject([RowError(row=1, field="source_account", message=message)])
    return chosen


def _check_currency(
    statements: list[Statement], rows: list[StatementRow], account: Account, facts: _Facts
) -> None:
    """A statement in another currency than the account's is refused whole."""
    errors: list[RowError] = []
    for statement in statements:
        if statement.currency is not None and statement.currency != account.currency:
            line = statement.rows[0].line if statement.rows else 1
            errors.append(_currency_error(line, statement.currency, account))
            break
    if not errors:
        for row in rows:
            if row.currency != account.currency:
                errors.append(_currency_error(row.line, row.currency, account))
                break
    if errors:
        raise facts.reject(errors)


def _currency_error(line: int, currency: str, account: Account) -> RowError:
    message = (
        f"the statement is in {currency}; the account '{account.name}' holds {account.currency}"
    )
    return RowError(row=line or 1, field="currency", message=message)


def _clean(text: str) -> str:
    """Text without the control characters a record refuses (C1 from a wrong code page)."""
    return CONTROL_CHARACTERS.sub(" ", text) if CONTROL_CHARACTERS.search(text) else text


def _closing(statements: list[Statement], account: Account) -> tuple[int, dt.date] | None:
    """The latest closing balance the statements state, with its date (a statement stating a
    balance but no date: its last row's)."""
    latest: tuple[int, dt.date] | None = None
    for statement in statements:
        if statement.closing_balance_minor is None:
            continue
        day = statement.closing_date or max(
            (row.date for row in statement.rows), default=balances.today()
        )
        if latest is None or day >= latest[1]:
            latest = (statement.closing_balance_minor, day)
    return latest


class _PendingSum:
    """In a dry run, the signed sum of the new rows dated on or before the closing date: what
    the account's balance there would gain."""

    def __init__(self, day: dt.date | None) -> None:
        self._day = day
        self.total = 0

    def add(self, rows: list[ImportRow]) -> None:
        if self._day is None:
            return
        day = self._day
        self.total += sum(
            row.amount_minor if row.type == "income" else -row.amount_minor
            for row in rows
            if row.date <= day
        )


def parse_mapping(text: str) -> CsvMapping:
    """A mapping sent as JSON text; 422 naming ``mapping.<field>`` for each problem."""
    try:
        return CsvMapping.model_validate_json(text)
    except ValidationError as exc:
        errors = [
            FieldError(
                ".".join(["mapping", *(str(part) for part in error["loc"])]),
                _mapping_message(error),
            )
            for error in exc.errors(include_url=False)
        ]
        raise ValidationFailed(errors) from exc


def _mapping_message(error: ErrorDetails) -> str:
    if error["type"] == "json_invalid":
        return "must be a JSON object (the CSV mapping)"
    return error["msg"].removeprefix("Value error, ")
