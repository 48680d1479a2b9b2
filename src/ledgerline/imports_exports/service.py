"""CSV import and export. An import is one transaction: every row or none, deduplicated, with
the dashboard aggregates and one audit entry changed alongside."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import itertools
import json
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.closing import require_open
from ledgerline.accounts.models import Account
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.db import (
    is_postgresql,
    lift_statement_timeout,
    read_in_snapshot,
    upsert_insert,
    utcnow,
)
from ledgerline.core.errors import AppError, ContentTooLarge
from ledgerline.core.ids import new_id
from ledgerline.core.money import format_amount
from ledgerline.dashboard import aggregates
from ledgerline.imports_exports import bulk
from ledgerline.imports_exports.accounts import RowAccounts
from ledgerline.imports_exports.parsing import (
    CsvRows,
    FileRejected,
    ImportRow,
    TooManyRows,
    count_rows,
    escape_cell,
)
from ledgerline.imports_exports.schemas import ImportReport, RowError
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.records import queries as record_queries
from ledgerline.records.models import Category, Record
from ledgerline.records.schemas import RecordFilters

BATCH_SIZE = 5_000
ANALYZE_AFTER_ROWS = 10_000
EXPORT_BATCH = 2_000
EXPORT_COLUMNS = (
    "id",
    "date",
    "type",
    "category",
    "amount",
    "currency",
    "account",
    "notes",
    "external_id",
    "created_at",
    "updated_at",
)

Progress = Callable[[int], None]


class RowSource(Protocol):
    """Validated rows to import, and the errors met reading them: ``CsvRows`` for our own
    CSV layout, ``statement_import.StatementRows`` for a bank's statement."""

    errors: list[RowError]
    error_count: int
    rows_read: int

    def __iter__(self) -> Iterator[ImportRow]: ...

    def add_error(self, error: RowError) -> None: ...


class ImportRejected(AppError):
    """Some rows are invalid, so nothing was written; the body carries the row report."""

    status = 422
    title = "Import rejected"

    def __init__(self, report: ImportReport, error_count: int) -> None:
        super().__init__(
            f"{error_count} problem(s) found; nothing was imported",
            extra=report.model_dump(mode="json"),
        )
        self.report = report


class Categories:
    """The org's category ids by folded name, created on first use, cached for the import."""

    def __init__(self, session: AsyncSession, org_id: uuid.UUID) -> None:
        self._session = session
        self._org_id = org_id
        self._ids: dict[str, uuid.UUID] = {}

    async def resolve(self, rows: Iterable[ImportRow]) -> dict[str, uuid.UUID]:
        wanted: dict[str, str] = {}
        for row in rows:
            wanted.setdefault(row.category_key, row.category)
        missing = {key: name for key, name in wanted.items() if key not in self._ids}
        if missing:
            await self._session.execute(
                upsert_insert(self._session)(Category)
                .values(
                    [
                        {"id": new_id(), "org_id": self._org_id, "name": name, "name_key": key}
                        for key, name in sorted(missing.items())
                    ]
                )
                .on_conflict_do_nothing(index_elements=["org_id", "name_key"])
            )
            found = await self._session.execute(
                select(Category.name_key, Category.id).where(
                    Category.org_id == self._org_id, Category.name_key.in_(missing)
                )
            )
            self._ids.update({key: category_id for key, category_id in found})  # noqa: C416
        return self._ids

    @property
    def ids(self) -> Mapping[str, uuid.UUID]:
        """Every category resolved so far, by folded name."""
        return self._ids


def among(
    session: AsyncSession, column: InstrumentedAttribute[str | None], values: set[str]
) -> ColumnElement[bool]:
    """``column IN values`` as one array (PostgreSQL) or JSON (SQLite) parameter: an IN list of
    thousands of parameters costs more to compile than the query takes to run."""
    if is_postgresql(session):
        return column == any_(bindparam(None, sorted(values), type_=postgresql.ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(sorted(values)))).table_valued("value")
    return column.in_(select(listed.c.value))


async def _existing(
    session: AsyncSession, org_id: uuid.UUID, import_id: uuid.UUID | None, batch: list[ImportRow]
) -> tuple[set[str], set[str]]:
    """External ids already in the org, and fingerprints of rows from earlier imports."""
    external_ids = {row.external_id for row in batch if row.external_id}
    fingerprints = {row.fingerprint for row in batch if row.fingerprint}
    known_ids: set[str] = set()
    known_fingerprints: set[str] = set()
    if external_ids:
        known_ids = set(
            await session.scalars(
                select(Record.external_id).where(
                    Record.org_id == org_id,
                    Record.external_id.is_not(None),
                    among(session, Record.external_id, external_ids),
                )
            )
        )
    if fingerprints:
        known_fingerprints = set(
            await session.scalars(
                select(Record.fingerprint).where(
                    Record.org_id == org_id,
                    Record.fingerprint.is_not(None),
                    among(session, Record.fingerprint, fingerprints),
                    Record.import_id.is_distinct_from(import_id),
                )
            )
        )
    return known_ids, known_fingerprints


def _import_lock_key(org_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(b"imports:" + org_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def serialise_imports(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Make this transaction the org's only importing one until it ends.

    The duplicate check reads committed rows only: two imports of one file running side by
    side would each find nothing and each write every row. On PostgreSQL a transaction-level
    advisory lock, taken before the first check, makes the second wait for the first to commit
    and then see its rows. SQLite writers hold the database's write lock from ``BEGIN
    IMMEDIATE`` on, so they are serialised already.
    """
    if is_postgresql(session):
        await session.execute(select(func.pg_advisory_xact_lock(_import_lock_key(org_id))))


async def import_csv(
    session: AsyncSession,
    ctx: OrgContext,
    stream: BinaryIO,
    *,
    dry_run: bool,
    max_rows: int,
    max_bytes: int,
    size: int | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
    account_id: uuid.UUID | None = None,
) -> ImportReport:
    """Validate and import a CSV; on any row error nothing is written (``ImportRejected``).

    A file over ``max_rows`` is refused (413) after a plain counting pass, before any row is
    validated or written, and before waiting for the org's other imports.

    Rows stream in batches: each batch is checked for duplicates and, unless this is a dry
    run or an error was already seen, inserted at once. Memory holds two batches and the
    category cache (and, in a dry run, the external ids seen). Nothing is committed here: a
    rejected import leaves only changes the caller's rollback undoes.
    """
    await checked_row_count(stream, max_rows=max_rows, max_bytes=max_bytes, size=size)
    await lift_statement_timeout(session)
    import_id = new_id()
    file_account = (
        await accounts_service.account_for_record(session, ctx.org_id, account_id, None)
        if account_id is not None
        else None
    )
    default_currency = file_account.currency if file_account is not None else ctx.org.currency
    rows = CsvRows(stream, default_currency=default_currency, max_rows=max_rows)
    tally = Tally(accounts=RowAccounts(session, ctx.org_id, file_account))
    categories = Categories(session, ctx.org_id)
    try:
        if dry_run:
            await run_batches(
                session, ctx, rows, tally, categories, import_id=None, progress=progress
            )
        else:
            await serialise_imports(session, ctx.org_id)
            async with bulk.tuned_for_writing(session):
                await run_batches(
                    session, ctx, rows, tally, categories, import_id=import_id, progress=progress
                )
    except FileRejected as exc:
        rows.add_error(exc.error)
    except TooManyRows as exc:
        raise _too_many_rows(max_rows) from exc
    if rows.error_count:
        report = report_of(0, tally.duplicates, rows.errors, rows.error_count, dry_run)
        raise ImportRejected(report, rows.error_count)
    if not dry_run and tally.created:
        await record_import(session, ctx, import_id, tally, categories.ids, file_name)
    return report_of(tally.created, tally.duplicates, [], 0, dry_run)


def _too_many_rows(max_rows: int) -> ContentTooLarge:
    return ContentTooLarge(f"the file has more than {max_rows} rows")


async def checked_row_count(
    stream: BinaryIO, *, max_rows: int, max_bytes: int, size: int | None
) -> int | None:
    """The file's data rows (None if it is unreadable before its end), or 413 at once when the
    file is larger than ``max_bytes`` or has more than ``max_rows`` rows."""
    if size is not None and size > max_bytes:
        raise ContentTooLarge(f"the file is larger than {max_bytes} bytes")
    try:
        return await asyncio.to_thread(count_rows, stream, max_rows)
    except TooManyRows as exc:
        raise _too_many_rows(max_rows) from exc


@dataclass
class Tally:
    accounts: RowAccounts
    created: int = 0
    duplicates: int = 0
    sums: bulk.BucketSums = field(default_factory=bulk.BucketSums)


async def run_batches(
    session: AsyncSession,
    ctx: OrgContext,
    rows: RowSource,
    tally: Tally,
    categories: Categories,
    *,
    import_id: uuid.UUID | None,
    progress: Progress | None,
    on_fresh: Callable[[list[ImportRow]], None] | None = None,
) -> None:
    """Count each batch's new rows and duplicates and, given an ``import_id`` and no error so
    far, write the new ones: the database writes one batch while the next is being parsed.
    ``on_fresh`` sees each batch's new rows (written or, in a dry run, not)."""
    # External ids of this file's rows that are not in the database: those of a written batch
    # are found by ``_existing`` like any other, so only unwritten rows (a dry run, or rows
    # after an error) make this set grow.
    seen_external_ids: set[str] = set()
    now = utcnow()
    writing: asyncio.Task[None] | None = None
    try:
        async with contextlib.aclosing(_parsed_batches(rows)) as batches:
            async for batch in batches:
                if writing is not None:
                    await writing
                    writing = None
                known = await _existing(session, ctx.org_id, import_id, batch)
                fresh = _without_duplicates(batch, known, seen_external_ids)
                tally.duplicates += len(batch) - len(fresh)
                tally.created += len(fresh)
                if on_fresh is not None:
                    on_fresh(fresh)
                await tally.accounts.check(fresh, rows.add_error)
                if import_id is not None and not rows.error_count and fresh:
                    category_ids = await categories.resolve(fresh)
                    account_ids = await tally.accounts.ids(fresh)
                    await require_open(
                        session, ctx.org_id, zip(account_ids, (r.date for r in fresh), strict=True)
                    )
                    records = bulk.record_rows(
                        fresh,
                        org_id=ctx.org_id,
                        user_id=ctx.user_id,
                        import_id=import_id,
                        category_ids=category_ids,
                        account_ids=account_ids,
                        now=now,
                    )
                    tally.sums.add(fresh, account_ids)
                    writing = asyncio.create_task(bulk.insert_records(session, records))
                    seen_external_ids.clear()
                if progress is not None:
                    progress(rows.rows_read)
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            # The connection is mid-COPY: let it finish before anyone rolls back. Its own
            # failure, if any, is secondary to the one being raised.
            await asyncio.wait([writing])
            if not writing.cancelled():
                writing.exception()


def _without_duplicates(
    batch: list[ImportRow], known: tuple[set[str], set[str]], seen_external_ids: set[str]
) -> list[ImportRow]:
    """Drop rows whose external id is known (or repeats in this file) or whose content
    matches a row of an earlier import."""
    known_ids, known_fingerprints = known
    fresh: list[ImportRow] = []
    for row in batch:
        if row.external_id:
            if row.external_id in known_ids or row.external_id in seen_external_ids:
                continue
            seen_external_ids.add(row.external_id)
        elif row.fingerprint in known_fingerprints:
            continue
        fresh.append(row)
    return fresh


async def record_import(
    session: AsyncSession,
    ctx: OrgContext,
    import_id: uuid.UUID,
    tally: Tally,
    category_ids: Mapping[str, uuid.UUID],
    file_name: str | None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Add the imported rows to the aggregates and audit the import (``details``: more of
    what the audit entry says, such as a statement's format and account)."""
    await aggregates.apply(session, tally.sums.deltas(ctx.org_id, category_ids))
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=AuditAction.RECORDS_IMPORTED,
        entity_type=EntityType.RECORD,
        entity_id=import_id,
        changes={
            "created": [None, tally.created],
            "duplicates": [None, tally.duplicates],
            "file": [None, file_name],
            **{name: [None, value] for name, value in (details or {}).items()},
        },
    )
    await session.flush()
    if tally.created >= ANALYZE_AFTER_ROWS:
        await bulk.refresh_statistics(session)


def _batches(rows: RowSource) -> Iterator[list[ImportRow]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, BATCH_SIZE)):
        yield batch


async def _parsed_batches(rows: RowSource) -> AsyncGenerator[list[ImportRow]]:
    """Batches parsed in a worker thread: the event loop stays free for other requests, and
    for the database write of the previous batch, which runs meanwhile."""
    batches = _batches(rows)
    empty: list[ImportRow] = []
    while batch := await asyncio.to_thread(next, batches, empty):
        yield batch


def report_of(
    created: int, duplicates: int, errors: list[RowError], error_count: int, dry_run: bool
) -> ImportReport:
    shown = list(errors)
    if error_count > len(shown):
        shown.append(
            RowError(
                row=shown[-1].row,
                field="file",
                message=f"{error_count - len(shown)} more errors not shown",
            )
        )
    return ImportReport(
        created=0 if errors else created,
        duplicates=duplicates,
        errors=shown,
        dry_run=dry_run,
    )


def _safe_cell(text: str | None) -> str:
    return escape_cell(text) if text else ""


async def export_csv(
    session: AsyncSession, ctx: OrgContext, filters: RecordFilters
) -> AsyncIterator[bytes]:
    """Stream the filtered records as CSV, newest first, with constant memory: the database
    hands over ``EXPORT_BATCH`` rows at a time (a server-side cursor on PostgreSQL), and each
    batch is written out before the next is fetched."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    statement = (
        record_queries.filtered_records(ctx.org_id, filters)
        .where(Record.transfer_id.is_(None))
        .with_only_columns(
            Record.id,
            Record.date,
            Record.type,
            Category.name,
            Record.amount_minor,
            Record.currency,
            Account.name,
            Record.notes,
            Record.external_id,
            Record.created_at,
            Record.updated_at,
        )
        .join(Account, Account.id == Record.account_id)
        .order_by(Record.date.desc(), Record.id.desc())
        .execution_options(yield_per=EXPORT_BATCH)
    )
    await read_in_snapshot(session)
    result = await session.stream(statement)
    try:
        async for partition in result.partitions():
            writer.writerows(
                (
                    record_id,
                    day.isoformat(),
                    kind,
                    _safe_cell(category),
                    format_amount(amount_minor, currency),
                    currency,
                    _safe_cell(account),
                    _safe_cell(notes),
                    _safe_cell(external_id),
                    created_at.isoformat(),
                    updated_at.isoformat(),
                )
                for (
                    record_id,
                    day,
                    kind,
                    category,
                    amount_minor,
                    currency,
                    account,
                    notes,
                    external_id,
                    created_at,
                    updated_at,
                ) in partition
            )
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    finally:
        await result.close()
    if buffer.tell():
        yield buffer.getvalue().encode()
