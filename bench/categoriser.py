"""The category rules' "same description as last time" lookup on PostgreSQL: its plan and speed.

Creates a scratch database, migrates it, fills one org with ``--records`` records whose notes
repeat (``--distinct`` different descriptions, 2% soft-deleted) plus another org, runs ANALYZE,
prints ``EXPLAIN`` of one batched lookup of 1,000 descriptions, then asks a ``Categoriser``
(with 20 rules) for the categories of a ``--rows``-row statement in batches of 1,000, as the
statement import does, and prints rows per second. The database is dropped at the end:

    .venv/bin/python bench/categoriser.py --records 200000 --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.imports_exports.category_rules.models import CategoryRule
from ledgerline.imports_exports.category_rules.service import Categoriser, last_categories_query

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 1_000
CATEGORIES = ["Rent", "Food", "Travel", "Salary", "Utilities", "Health", "Fun", "Tax"]

FILL_SQL = """
INSERT INTO users (id, email, email_key, full_name, password_hash, password_changed_at,
                   created_at, updated_at)
VALUES (:user_id, 'bench@example.com', 'bench@example.com', 'Bench', '-', now(), now(), now());
INSERT INTO orgs (id, name, currency, is_default, created_at, updated_at)
VALUES (:org_id, 'Big', 'USD', false, now(), now()),
       (:other_id, 'Other', 'USD', false, now(), now());
INSERT INTO accounts (id, org_id, name, name_key, kind, currency, opening_balance_minor,
                      archived, is_default, version, created_at, updated_at)
SELECT gen_random_uuid(), o.id, 'Main USD', 'main usd', 'other', 'USD', 0, false, true, 1,
       now(), now()
FROM orgs o;
INSERT INTO categories (id, org_id, name, name_key)
SELECT gen_random_uuid(), o.id, c.name, lower(c.name)
FROM unnest(CAST(:categories AS text[])) AS c(name) CROSS JOIN orgs o;
INSERT INTO records (id, org_id, amount_minor, amount_scaled, currency, type, category_id,
                     account_id, date, notes, search_key, created_by, updated_by, version,
                     deleted_at, created_at, updated_at)
SELECT gen_random_uuid(), r.org_id, r.minor, r.minor * 100, 'USD', 'expense', c.id, a.id, r.day,
       r.notes, lower(c.name || chr(10) || r.notes), :user_id, :user_id, 1,
       CASE WHEN r.n % 50 = 0 THEN now() END, r.created, r.created
FROM (
    SELECT n,
           CASE WHEN n % 5 = 0 THEN CAST(:other_id AS uuid) ELSE CAST(:org_id AS uuid) END
               AS org_id,
           1 + (random() * 250000)::bigint AS minor,
           DATE '2024-06-01' + (random() * 730)::int AS day,
           'CARD PAYMENT TO MERCHANT ' || (n % :distinct) || ' LONDON GB' AS notes,
           (CAST(:categories AS text[]))[1 + (n * 7919) % 8] AS category,
           now() - make_interval(secs => n) AS created
    FROM generate_series(1, :records) AS n
) AS r
JOIN categories c ON c.org_id = r.org_id AND c.name = r.category
JOIN accounts a ON a.org_id = r.org_id
"""


async def admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fill(database: Database, records: int, distinct: int) -> uuid.UUID:
    org_id = uuid.uuid4()
    params = {
        "user_id": uuid.uuid4(),
        "org_id": org_id,
        "other_id": uuid.uuid4(),
        "categories": CATEGORIES,
        "records": records,
        "distinct": distinct,
    }
    async with database.engine.begin() as connection:
        for statement in filter(str.strip, FILL_SQL.split(";")):
            used = {k: v for k, v in params.items() if f":{k}" in statement}
            await connection.execute(text(statement), used)
    async with database.sessions() as session:
        session.add_all(
            CategoryRule(
                org_id=org_id,
                position=n,
                match="contains",
                pattern=f"shop number {n}",
                case_sensitive=False,
                category="Shopping",
            )
            for n in range(1, 21)
        )
        await session.commit()
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("ANALYZE")
    return org_id


def statement_rows(rows: int, distinct: int) -> list[str]:
    """A statement's descriptions: half seen before in the org, half new; many repeat."""
    chooser = random.Random(7)
    known = [f"CARD PAYMENT TO MERCHANT {n} LONDON GB" for n in range(distinct)]
    return [
        chooser.choice(known) if chooser.random() < 0.5 else f"NEW PAYEE {chooser.randrange(rows)}"
        for _ in range(rows)
    ]


async def run(url: str, records: int, distinct: int, rows: int) -> None:
    database = Database(url)
    try:
        org_id = await fill(database, records, distinct)
        descriptions = statement_rows(rows, distinct)
        sample = list(dict.fromkeys(descriptions))[:BATCH]
        compiled = last_categories_query(org_id, sample, arrays=True).compile(
            dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        async with database.sessions() as session:
            plan = await session.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}"))
            print("```")
            for (line,) in plan:
                print(line)
            print("```")
        async with database.sessions() as session:
            started = time.perf_counter()
            categoriser = await Categoriser.load(session, org_id)
            found = 0
            for start in range(0, rows, BATCH):
                answers = await categoriser.categories_for(descriptions[start : start + BATCH])
                found += sum(answer is not None for answer in answers)
            elapsed = time.perf_counter() - started
        print(
            f"{rows} rows ({len(set(descriptions))} distinct descriptions) in {elapsed:.2f} s: "
            f"{rows / elapsed:,.0f} rows/s; {found} categorised by an earlier record"
        )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--admin-url", default=os.environ.get("LEDGERLINE_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--distinct", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    args = parser.parse_args()
    name = f"ledgerline_categoriser_{os.getpid()}"
    admin_url = make_url(args.admin_url).set(drivername="postgresql")
    plain_admin = admin_url.render_as_string(hide_password=False)
    asyncio.run(admin(plain_admin, f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(url)
        asyncio.run(run(url, args.records, args.distinct, args.rows))
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            asyncio.run(admin(plain_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
