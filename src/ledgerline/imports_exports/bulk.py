"""Writing a batch of imported rows: COPY on PostgreSQL, one executemany on SQLite.

This is an import's hot path, so rows become plain tuples in one pass, with the per-org,
per-batch and per-currency values computed once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Dialect, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.errors import Conflict
from ledgerline.core.money import MAX_FRACTION_DIGITS, minor_digits
from ledgerline.dashboard import aggregates
from ledgerline.imports_exports.parsing import ImportRow
from ledgerline.records.models import Record
from ledgerline.records.schemas import SCALE
from ledgerline.records.service import search_key

COLUMNS = (
    "id",
    "org_id",
    "amount_minor",
    "amount_scaled",
    "currency",
    "type",
    "category_id",
    "account_id",
    "date",
    "notes",
    "search_key",
    "external_id",
    "fingerprint",
    "import_id",
    "created_by",
    "updated_by",
    "version",
    "created_at",
    "updated_at",
)
assert SCALE % 10**MAX_FRACTION_DIGITS == 0, "amount_scaled must be an exact multiple"
SQLITE_IMPORT_CACHE_KIB = 65_536

_TIMESTAMP_MASK = 0xFFFF_FFFF_FFFF
_VERSION_7 = 0x7 << 76
_VARIANT_RFC_4122 = 0b10 << 62


def new_ids(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s laid out like ``core.ids.new_id``, from a single read of randomness
    (``new_id`` reads twice per id, which costs more than the rest of a row's insert)."""
    randomness = os.urandom(10 * count)
    prefix = (time.time_ns() // 1_000_000 & _TIMESTAMP_MASK) << 80 | _VERSION_7 | _VARIANT_RFC_4122
    from_bytes = int.from_bytes
    return [
        uuid.UUID(
            int=prefix
            | (from_bytes(randomness[i : i + 2]) & 0xFFF) << 64
            | from_bytes(randomness[i + 2 : i + 10]) & 0x3FFF_FFFF_FFFF_FFFF
        )
        for i in range(0, 10 * count, 10)
    ]


def record_rows(
    rows: list[ImportRow],
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    import_id: uuid.UUID,
    category_ids: Mapping[str, uuid.UUID],
    account_ids: Sequence[uuid.UUID],
    now: dt.datetime,
) -> list[tuple[Any, ...]]:
    """The ``records`` rows (in ``COLUMNS`` order) of a batch of imported rows; the n-th goes
    to the n-th of ``account_ids``."""
    scale = {
        currency: SCALE // 10 ** minor_digits(currency) for currency in {r.currency for r in rows}
    }
    return [
        (
            record_id,
            org_id,
            row.amount_minor,
            row.amount_minor * scale[row.currency],
            row.currency,
            row.type,
            category_ids[row.category_key],
            account_id,
            row.date,
            row.notes,
            search_key(row.category, row.notes),
            row.external_id,
            row.fingerprint,
            import_id,
            user_id,
            user_id,
            1,
            now,
            now,
        )
        for record_id, row, account_id in zip(new_ids(len(rows)), rows, account_ids, strict=True)
    ]


class BucketSums:
    """The imported rows' amounts summed per bucket as the rows are parsed, rather than read
    back from the records afterwards. A bucket's halves are the sums of its amounts' halves,
    as ``aggregates.Deltas.add`` keeps them; categories are still keys here, their ids known
    only once every batch has been resolved."""

    def __init__(self) -> None:
        self._sums: dict[tuple[dt.date, str, str, str, uuid.UUID], list[int]] = {}

    def add(self, rows: list[ImportRow], account_ids: Sequence[uuid.UUID]) -> None:
        sums, half = self._sums, aggregates.HALF
        for row, account_id in zip(rows, account_ids, strict=True):
            key = (row.date, row.type, row.category_key, row.currency, account_id)
            figures = sums.get(key)
            if figures is None:
                figures = sums[key] = [0, 0, 0]
            figures[0] += row.amount_minor // half
            figures[1] += row.amount_minor % half
            figures[2] += 1

    def deltas(self, org_id: uuid.UUID, category_ids: Mapping[str, uuid.UUID]) -> aggregates.Deltas:
        deltas = aggregates.Deltas()
        for (day, kind, category_key, currency, account), (high, low, count) in self._sums.items():
            bucket = aggregates.Bucket(
                org_id, day, kind, category_ids[category_key], currency, account
            )
            deltas.add_sums(bucket, high, low, count)
        return deltas


@contextlib.asynccontextmanager
async def tuned_for_writing(session: AsyncSession) -> AsyncIterator[None]:
    """On SQLite, a larger page cache while an import writes: the records' indexes soon outgrow
    the default 2 MB, and then every insert reads pages back. Restored afterwards, since the
    connection goes back to the pool."""
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = int((await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one())
    await connection.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        await connection.exec_driver_sql(f"PRAGMA cache_size = {previous}")


async def refresh_statistics(session: AsyncSession) -> None:
    """Update PostgreSQL's statistics of the records table within the importing transaction.

    Until autovacuum analyzes it (a minute or more after the commit), the planner takes a table
    that just grew by a million rows for the nearly empty one it last saw, and answers the first
    page of a list, or starts an export, by hashing and sorting every record of the org: seconds
    instead of a millisecond. ANALYZE samples a fixed number of rows, whatever the table's size.
    Without the privilege to analyze, PostgreSQL only warns.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql(f"ANALYZE {Record.__tablename__}")


UNIQUE_VIOLATION = "23505"
CONCURRENT_IMPORT = (
    "another import of rows with the same external_id was committed meanwhile; "
    "nothing was imported, and importing the file again skips those rows"
)


async def insert_records(session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL; on SQLite one executemany of values already in SQLite's form.

    The duplicate check before it cannot see another transaction's uncommitted rows: when two
    imports of the same ``external_id`` race, the unique index stops the second (409).
    """
    if not records:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        try:
            await driver.copy_records_to_table(
                Record.__tablename__, records=records, columns=COLUMNS
            )
        except Exception as exc:  # asyncpg's own exceptions: the driver is used directly
            if getattr(exc, "sqlstate", None) == UNIQUE_VIOLATION:
                raise Conflict(CONCURRENT_IMPORT) from exc
            raise
        return
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(map(quote, COLUMNS))
    placeholders = ", ".join("?" * len(COLUMNS))
    # Table and column names are this module's constants; the values are parameters.
    statement = f"INSERT INTO {quote(Record.__tablename__)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    try:
        await connection.exec_driver_sql(statement, _bound(records, connection.dialect))
    except IntegrityError as exc:
        raise Conflict(CONCURRENT_IMPORT) from exc


def _bound(records: list[tuple[Any, ...]], dialect: Dialect) -> list[tuple[Any, ...]]:
    """``records`` through each column type's bind processor (UUIDs to text, dates...), as
    SQLAlchemy would, but remembering the results for the values that repeat from row to row
    (org, user, category, day): its own per-row parameter handling costs more than SQLite's
    insert."""
    table = cast(Table, Record.__table__)
    conversions: list[tuple[int, Callable[[Any], Any], dict[Any, Any] | None]] = []
    for position, name in enumerate(COLUMNS):
        bind_processor = table.c[name].type.bind_processor(dialect)
        if bind_processor is not None:
            conversions.append((position, bind_processor, None if name == "id" else {}))
    bound: list[tuple[Any, ...]] = []
    for record in records:
        values = list(record)
        for position, processor, memo in conversions:
            value = values[position]
            if memo is None:
                values[position] = processor(value)
            else:
                converted = memo.get(value)
                if converted is None:
                    converted = memo[value] = processor(value)
                values[position] = converted
        bound.append(tuple(values))
    return bound
