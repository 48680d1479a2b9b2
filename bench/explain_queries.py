"""PostgreSQL plans of the record-list and audit-log statements, on realistic data.

Creates a scratch database, migrates it, generates records (one big org, one small) and audit
entries with plain SQL, runs ANALYZE, then calls the real read services while capturing the
statements they send, and prints ``EXPLAIN`` of each as Markdown. The database is dropped at the
end. The output is what docs/query-plans.md shows:

    .venv/bin/python bench/explain_queries.py --rows 50000 > /tmp/plans.md

``--admin-url`` (default: ``LEDGERLINE_TEST_POSTGRES_URL`` or postgres@127.0.0.1:5432) must be
allowed to create databases. ``--analyze`` runs ``EXPLAIN (ANALYZE, BUFFERS)`` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditQuery
from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.records import queries as record_queries
from ledgerline.records.schemas import RecordListQuery

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CATEGORIES = ["Rent", "Food", "Travel", "Salary", "Utilities", "Health", "Fun", "Tax"]
WORDS = ["coffee", "lunch", "taxi", "groceries", "invoice", "refund", "train", "hotel", "gift"]


async def admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


FILL_SQL = """
INSERT INTO users (id, email, email_key, full_name, password_hash, password_changed_at,
                   created_at, updated_at)
VALUES (:user_id, 'bench@example.com', 'bench@example.com', 'Bench', '-', now(), now(), now());
INSERT INTO orgs (id, name, currency, is_default, created_at, updated_at)
VALUES (:org_id, 'Big', 'USD', false, now(), now()),
       (:other_id, 'Small', 'USD', false, now(), now());
INSERT INTO categories (id, org_id, name, name_key)
SELECT gen_random_uuid(), o.id, c.name, lower(c.name)
FROM unnest(CAST(:categories AS text[])) AS c(name) CROSS JOIN orgs o;
INSERT INTO accounts (id, org_id, name, name_key, kind, currency, opening_balance_minor,
                      archived, is_default, version, created_at, updated_at)
SELECT gen_random_uuid(), o.id, 'Main ' || c.code, lower('main ' || c.code), 'checking',
       c.code, 0, false, true, 1, now(), now()
FROM orgs o CROSS JOIN unnest(ARRAY['USD', 'EUR']) AS c(code);
INSERT INTO records (id, org_id, amount_minor, amount_scaled, currency, type, category_id, date,
                     notes, search_key, account_id, created_by, updated_by, version, deleted_at,
                     created_at, updated_at)
SELECT gen_random_uuid(), r.org_id, r.minor, r.minor * 100, r.currency, r.type, c.id, r.day,
       r.notes, lower(c.name || chr(10) || coalesce(r.notes, '')), a.id, :user_id, :user_id, 1,
       CASE WHEN r.n % 50 = 0 THEN now() END, r.created, r.created
FROM (
    SELECT n,
           CASE WHEN n % 5 = 0 THEN CAST(:other_id AS uuid) ELSE CAST(:org_id AS uuid) END
               AS org_id,
           1 + (random() * 250000)::bigint AS minor,
           CASE WHEN n % 7 = 0 THEN 'EUR' ELSE 'USD' END AS currency,
           CASE WHEN n % 6 = 0 THEN 'income' ELSE 'expense' END AS type,
           DATE '2024-06-01' + (random() * 730)::int AS day,
           CASE WHEN n % 3 = 0 THEN NULL
                ELSE (CAST(:words AS text[]))[1 + n % 9] || ' ' || n END AS notes,
           (CAST(:category_names AS text[]))[1 + (n * 7919) % 8] AS category,
           now() - make_interval(secs => n) AS created
    FROM generate_series(1, :rows) AS n
) AS r
JOIN categories c ON c.org_id = r.org_id AND c.name = r.category
JOIN accounts a ON a.org_id = r.org_id AND a.currency = r.currency;
INSERT INTO audit_entries (id, org_id, at, actor_id, action, entity_type, entity_id, changes,
                           request_id)
SELECT gen_random_uuid(), CASE WHEN n % 5 = 0 THEN CAST(:other_id AS uuid)
                               ELSE CAST(:org_id AS uuid) END,
       now() - make_interval(secs => n * 3), :user_id, 'record.updated', 'record',
       gen_random_uuid()::text, CAST('{"amount": ["1.00", "2.00"]}' AS json), md5(n::text)
FROM generate_series(1, :rows / 2) AS n;
"""


async def fill(database: Database, rows: int) -> uuid.UUID:
    org_id = uuid.uuid4()
    params = {
        "user_id": uuid.uuid4(),
        "org_id": org_id,
        "other_id": uuid.uuid4(),
        "categories": CATEGORIES,
        "category_names": CATEGORIES,
        "words": WORDS,
        "rows": rows,
    }
    async with database.engine.begin() as connection:
        for statement in filter(str.strip, FILL_SQL.split(";")):
            used = {k: v for k, v in params.items() if f":{k}" in statement}
            await connection.execute(text(statement), used)
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.exec_driver_sql("ANALYZE")
    return org_id


Read = Callable[[AsyncSession], Awaitable[Any]]


async def captured(database: Database, read: Read) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements ``read`` sends, with their parameters."""
    statements: list[tuple[str, tuple[Any, ...]]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, tuple(parameters or ())))

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with database.sessions() as session:
            await read(session)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
    return statements


async def explain(
    database: Database, statement: str, parameters: tuple[Any, ...], *, analyze: bool
) -> str:
    options = "(ANALYZE, BUFFERS)" if analyze else "(COSTS)"
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        rows = await driver.fetch(f"EXPLAIN {options} {statement}", *parameters)
    return "\n".join(row[0] for row in rows)


async def cursor_after(session: AsyncSession, org_id: uuid.UUID, offset: int) -> str:
    page = await record_queries.list_page(session, org_id, RecordListQuery(limit=50, offset=offset))
    assert page.next_cursor is not None
    return page.next_cursor


async def audit_cursor_after(session: AsyncSession, org_id: uuid.UUID, pages: int) -> str:
    query = AuditQuery(limit=200)
    for _ in range(pages):
        page = await audit_service.list_entries(session, org_id, query)
        assert page.next_cursor is not None
        query = AuditQuery(limit=200, cursor=page.next_cursor)
    assert query.cursor is not None
    return query.cursor


async def report(database: Database, org_id: uuid.UUID, *, analyze: bool) -> None:
    async with database.sessions() as session:
        deep_cursor = await cursor_after(session, org_id, 10_000)
        audit_cursor = await audit_cursor_after(session, org_id, 40)

    def records(**query: Any) -> Read:
        return lambda session: record_queries.list_page(
            session, org_id, RecordListQuery.model_validate(query)
        )

    cases: list[tuple[str, str, Read]] = [
        ("Default list (sort -date)", "GET /records", records()),
        ("Category filter", "GET /records?category=food", records(category=["food"])),
        ("Amount sort", "GET /records?sort=-amount", records(sort="-amount")),
        (
            "Cursor continuation, 10,000 rows deep",
            "GET /records?cursor=…",
            records(cursor=deep_cursor),
        ),
        (
            "Date range with total",
            "GET /records?date_from=2025-01-01&date_to=2025-03-31&include_total=true",
            records(date_from="2025-01-01", date_to="2025-03-31", include_total=True),
        ),
        (
            "Audit log, newest first",
            "GET /audit",
            lambda session: audit_service.list_entries(session, org_id, AuditQuery()),
        ),
        (
            "Audit log, cursor 8,000 entries deep",
            "GET /audit?cursor=…",
            lambda session: audit_service.list_entries(
                session, org_id, AuditQuery(cursor=audit_cursor)
            ),
        ),
    ]
    for title, request, read in cases:
        print(f"### {title}\n\n`{request}`\n")
        for statement, parameters in await captured(database, read):
            print("```sql")
            print(statement.strip())
            print("```\n")
            print("```")
            print(await explain(database, statement, parameters, analyze=analyze))
            print("```\n")


async def run(url: str, rows: int, *, analyze: bool) -> None:
    database = Database(url)
    try:
        org_id = await fill(database, rows)
        await report(database, org_id, analyze=analyze)
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("LEDGERLINE_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL),
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--analyze", action="store_true")
    args = parser.parse_args()
    name = f"ledgerline_explain_{os.getpid()}"
    admin_url = make_url(args.admin_url).set(drivername="postgresql")
    plain_admin = admin_url.render_as_string(hide_password=False)
    asyncio.run(admin(plain_admin, f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrations.upgrade(url)
        asyncio.run(run(url, args.rows, analyze=args.analyze))
    finally:
        asyncio.run(admin(plain_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
