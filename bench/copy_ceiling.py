"""What PostgreSQL's ``COPY`` alone costs per imported row, with and without the records table's
indexes and foreign keys: the ceiling an import cannot pass, whatever the importer does.

In a fresh, migrated database with one org, its user and 20 categories, it ``COPY``s the same
generated rows (an import's columns: a third with an ``external_id``, the rest with a content
fingerprint, batches of 5,000 as the importer sends them) into each variant of the table,
inside a transaction that is rolled back, ``--repeat`` times, and prints the median wall time
and the backend's CPU time:

- ``bare``: a table like ``records`` with its check constraints only;
- ``indexes``: with every index of ``records``, no foreign key;
- ``foreign keys``: with every foreign key of ``records`` (read from the catalog), no index;
- ``records``: the ``records`` table itself, as migrated.

    .venv/bin/python -m bench.copy_ceiling \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.dashboard import CATEGORIES, create_org
from bench.imports_exports import _cpu_seconds, fresh_database
from ledgerline.core.db import Database
from ledgerline.core.text import fold_key
from ledgerline.imports_exports.bulk import COLUMNS, new_ids
from ledgerline.imports_exports.parsing import fingerprint
from ledgerline.imports_exports.service import BATCH_SIZE
from ledgerline.records.service import search_key

LAB = "copy_ceiling_lab"
Setup = Callable[[asyncpg.Connection], Awaitable[str]]


def generate(
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    category_ids: dict[str, uuid.UUID],
    account_id: uuid.UUID,
    count: int,
) -> list[list[tuple[Any, ...]]]:
    """``count`` rows in ``bulk.COLUMNS`` order, in batches of the importer's size."""
    rng = random.Random(count)
    now, import_id = dt.datetime.now(dt.UTC), uuid.uuid4()
    names = list(category_ids)
    rows: list[tuple[Any, ...]] = []
    for record_id, n in zip(new_ids(count), range(count), strict=True):
        category = names[int(rng.paretovariate(1.2)) % len(names)]
        kind = "income" if category in ("Salary", "Consulting") else "expense"
        minor = int(rng.lognormvariate(8, 1.5)) + 1
        day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(731))
        notes = f"note {n}" if n % 10 < 7 else None
        external_id = f"bank-{n}" if n % 3 == 0 else None
        content = (
            None if external_id else fingerprint(day, kind, fold_key(category), minor, "USD", notes)
        )
        rows.append(
            (
                record_id, org_id, minor, minor * 10**10, "USD", kind, category_ids[category],
                account_id, day, notes, search_key(category, notes), external_id, content,
                import_id,
                user_id, user_id, 1, now, now,
            )
        )  # fmt: skip
    return [rows[i : i + BATCH_SIZE] for i in range(0, len(rows), BATCH_SIZE)]


async def _bare(connection: asyncpg.Connection) -> str:
    await connection.execute(
        f"CREATE TABLE {LAB} (LIKE records INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    return LAB


async def _indexes(connection: asyncpg.Connection) -> str:
    await connection.execute(f"CREATE TABLE {LAB} (LIKE records INCLUDING ALL)")
    return LAB


async def _foreign_keys(connection: asyncpg.Connection) -> str:
    await _bare(connection)
    definitions = await connection.fetch(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'records'::regclass AND contype = 'f' ORDER BY conname"
    )
    for (definition,) in definitions:
        await connection.execute(f"ALTER TABLE {LAB} ADD {definition}")
    return LAB


async def _records(_connection: asyncpg.Connection) -> str:
    return "records"


VARIANTS: dict[str, Setup] = {
    "bare": _bare,
    "indexes": _indexes,
    "foreign keys": _foreign_keys,
    "records": _records,
}


async def time_copy(
    connection: asyncpg.Connection, setup: Setup, batches: list[list[tuple[Any, ...]]]
) -> tuple[float, float]:
    """Wall and backend CPU seconds of COPYing every batch, in a transaction rolled back; the
    dead rows the rollback leaves in ``records`` are vacuumed, so every run starts empty."""
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    transaction = connection.transaction()
    await transaction.start()
    try:
        table = await setup(connection)
        cpu, started = _cpu_seconds(pid), time.perf_counter()
        for batch in batches:
            await connection.copy_records_to_table(table, records=batch, columns=COLUMNS)
        return time.perf_counter() - started, _cpu_seconds(pid) - cpu
    finally:
        await transaction.rollback()
        await connection.execute("VACUUM records")


async def run(url: str, rows: int, repeat: int) -> None:
    async with fresh_database(url, Path("."), "copy_ceiling") as database_url:
        database = Database(database_url)
        try:
            org = await create_org(database)
        finally:
            await database.dispose()
        assert len(org.category_ids) == len(CATEGORIES)
        batches = generate(org.org_id, org.user_id, org.category_ids, org.account_ids["USD"], rows)
        plain = make_url(database_url).set(drivername="postgresql")
        connection = await asyncpg.connect(plain.render_as_string(hide_password=False))
        try:
            print(f"COPY of {rows:,} rows, median of {repeat}\n")
            print("| table | wall s | rows/s | backend CPU s |\n|---|---:|---:|---:|")
            for name, setup in VARIANTS.items():
                runs = [await time_copy(connection, setup, batches) for _ in range(repeat)]
                wall = statistics.median(seconds for seconds, _ in runs)
                cpu = statistics.median(seconds for _, seconds in runs)
                print(f"| {name} | {wall:.2f} | {rows / wall:,.0f} | {cpu:.2f} |")
        finally:
            await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL admin URL")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL")
    asyncio.run(run(args.database_url, args.rows, args.repeat))


if __name__ == "__main__":
    main()
