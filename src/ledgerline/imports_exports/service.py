"""CSV import and export. An import is one transaction: every row or none, deduplicated, with
the dashboard aggregates and one audit entry changed alongside."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.db import utcnow
from ledgerline.core.errors import AppError, ContentTooLarge
from ledgerline.core.ids import new_id
from ledgerline.core.money import format_amount
from ledgerline.dashboard import aggregates
from ledgerline.imports_exports.parsing import CsvRows, FileRejected, ImportRow, TooManyRows
from ledgerline.imports_exports.schemas import ImportReport, RowError
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.records import queries as record_queries
from ledgerline.records.models import Category, Record
from ledgerline.records.schemas import RecordFilters
from ledgerline.records.service import scaled_amount, search_key

BATCH_SIZE = 5_000
MAX_REPORTED_ERRORS = 1_000
EXPORT_COLUMNS = (
    "id",
    "date",
    "type",
    "category",
    "amount",
    "currency",
    "notes",
    "created_at",
    "updated_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int], None]


class ImportRejected(AppError):
    """Some rows are invalid, so nothing was written; the body carries the row report."""

    status = 422
    title = "Import rejected"

    def __init__(self, report: ImportReport) -> None:
        count = len(report.errors)
        super().__init__(
            f"{count} problem(s) found; nothing was imported",
            extra=report.model_dump(mode="json"),
        )
        self.report = report


class _Categories:
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
            dialect = self._session.bind.dialect.name if self._session.bind else "sqlite"
            upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await self._session.execute(
                upsert(Category)
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


async def _existing(
    session: AsyncSession, org_id: uuid.UUID, import_id: uuid.UUID, batch: list[ImportRow]
) -> tuple[set[str], set[str]]:
    """External ids already in the org, and fingerprints of rows from earlier imports."""
    external_ids = {row.external_id for row in batch if row.external_id}
    fingerprints = {row.fingerprint for row in batch if not row.external_id}
    known_ids: set[str] = set()
    known_fingerprints: set[str] = set()
    if external_ids:
        known_ids = set(
            await session.scalars(
                select(Record.external_id).where(
                    Record.org_id == org_id, Record.external_id.in_(external_ids)
                )
            )
        )
    if fingerprints:
        known_fingerprints = set(
            await session.scalars(
                select(Record.fingerprint).where(
                    Record.org_id == org_id,
                    Record.fingerprint.in_(fingerprints),
                    Record.import_id != import_id,
                )
            )
        )
    return known_ids, known_fingerprints


def _record_values(
    ctx: OrgContext, import_id: uuid.UUID, row: ImportRow, category_id: uuid.UUID
) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "org_id": ctx.org_id,
        "amount_minor": row.amount_minor,
        "amount_scaled": scaled_amount(row.amount_minor, row.currency),
        "currency": row.currency,
        "type": row.type,
        "category_id": category_id,
        "date": row.date,
        "notes": row.notes,
        "search_key": search_key(row.category, row.notes),
        "external_id": row.external_id,
        "fingerprint": None if row.external_id else row.fingerprint,
        "import_id": import_id,
        "created_by": ctx.user.id,
        "updated_by": ctx.user.id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def _insert(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL, one executemany on SQLite."""
    if not values:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        columns = list(values[0])
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            Record.__tablename__,
            records=[tuple(v[c] for c in columns) for v in values],
            columns=columns,
        )
    else:
        await session.execute(insert(Record), values)


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
) -> ImportReport:
    """Validate and import a CSV; on any row error nothing is written (``ImportRejected``).

    Rows stream in batches: each batch is checked for duplicates and, unless this is a dry
    run or an error was already seen, inserted at once. Memory holds one batch, the category
    cache and the external ids seen in this file.
    """
    if size is not None and size > max_bytes:
        raise ContentTooLarge(f"the file is larger than {max_bytes} bytes")
    import_id = new_id()
    rows = CsvRows(stream, default_currency=ctx.org.currency, max_rows=max_rows)
    categories = _Categories(session, ctx.org_id)
    created = duplicates = 0
    seen_external_ids: set[str] = set()
    try:
        for batch_iter in _batches(rows):
            batch = list(batch_iter)
            known = await _existing(session, ctx.org_id, import_id, batch)
            fresh = _without_duplicates(batch, known, seen_external_ids)
            duplicates += len(batch) - len(fresh)
            created += len(fresh)
            if not dry_run and not rows.errors and fresh:
                ids = await categories.resolve(fresh)
                await _insert(
                    session,
                    [_record_values(ctx, import_id, r, ids[r.category_key]) for r in fresh],
                )
            if progress is not None:
                progress(rows.rows_read)
    except FileRejected as exc:
        rows.errors.append(exc.error)
    except TooManyRows as exc:
        raise ContentTooLarge(f"the file has more than {max_rows} rows") from exc
    finally:
        rows.close()
    if rows.errors:
        raise ImportRejected(_report(0, duplicates, rows.errors, dry_run))
    if not dry_run and created:
        await _record_import(session, ctx, import_id, created, duplicates, file_name)
    return _report(created, duplicates, [], dry_run)


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


async def _record_import(
    session: AsyncSession,
    ctx: OrgContext,
    import_id: uuid.UUID,
    created: int,
    duplicates: int,
    file_name: str | None,
) -> None:
    """Add the imported rows to the aggregates (summed by the database) and audit the import."""
    await aggregates.add_from_records(
        session,
        select(Record).where(Record.org_id == ctx.org_id, Record.import_id == import_id),
    )
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user.id,
        action=AuditAction.RECORDS_IMPORTED,
        entity_type=EntityType.RECORD,
        entity_id=import_id,
        changes={
            "created": [None, created],
            "duplicates": [None, duplicates],
            "file": [None, file_name],
        },
    )
    await session.flush()


def _batches(rows: CsvRows) -> Iterable[Iterable[ImportRow]]:
    iterator = iter(rows)
    while True:
        batch = list(itertools.islice(iterator, BATCH_SIZE))
        if not batch:
            return
        yield batch


def _report(created: int, duplicates: int, errors: list[RowError], dry_run: bool) -> ImportReport:
    shown = errors[:MAX_REPORTED_ERRORS]
    if len(errors) > MAX_REPORTED_ERRORS:
        last = errors[MAX_REPORTED_ERRORS - 1].row
        shown.append(
            RowError(
                row=last,
                field="file",
                message=f"{len(errors) - MAX_REPORTED_ERRORS} more errors not shown",
            )
        )
    return ImportReport(
        created=0 if errors else created,
        duplicates=duplicates,
        errors=shown,
        dry_run=dry_run,
    )


def _safe_cell(text: str | None) -> str:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ gets a leading apostrophe."""
    if not text:
        return ""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


async def export_csv(
    session: AsyncSession, ctx: OrgContext, filters: RecordFilters
) -> AsyncIterator[bytes]:
    """Stream the filtered records as CSV, newest first, with constant memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    statement = record_queries.filtered_records(ctx.org_id, filters).order_by(
        Record.date.desc(), Record.id.desc()
    )
    result = await session.stream(statement.execution_options(yield_per=2_000))
    async for partition in result.partitions():
        for record, category in partition:
            writer.writerow(
                (
                    record.id,
                    record.date.isoformat(),
                    record.type,
                    _safe_cell(category),
                    format_amount(record.amount_minor, record.currency),
                    record.currency,
                    _safe_cell(record.notes),
                    record.created_at.isoformat(),
                    record.updated_at.isoformat(),
                )
            )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if not buffer.tell():
        return
    yield buffer.getvalue().encode()
