"""A record's create on PostgreSQL as one statement (``records/create_statement.py``), and the
creates it leaves to a transaction: whichever way a create goes, it answers, audits and counts
the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from ledgerline.core.db import Database
from tests.accounts.helpers import create_account
from tests.factories import World
from tests.records.helpers import Json, audit_log, create_record, record_body, records_url
from tests.statements import statements_counted

TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK"})


@asynccontextmanager
async def transaction_control(database: Database) -> AsyncIterator[list[str]]:
    """The ``BEGIN``, ``COMMIT`` and ``ROLLBACK`` asyncpg sends while the block runs, which
    SQLAlchemy's cursor events do not see (its query loggers do, called soon after; they skip
    prepared statements, which is how every other statement goes)."""
    sent: list[str] = []
    logged: list[Any] = []

    def log(record: Any) -> None:
        if record.query.split()[0].rstrip(";").upper() in TRANSACTION_CONTROL:
            sent.append(record.query)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(log)
        logged.append(driver)

    engine = database.engine.sync_engine
    event.listen(engine, "checkout", on_checkout)
    try:
        yield sent
        await asyncio.sleep(0)
    finally:
        event.remove(engine, "checkout", on_checkout)
        for driver in logged:
            driver.remove_query_logger(log)


async def test_a_create_on_postgresql_is_two_statements_and_no_transaction_control(
    client: httpx.AsyncClient, world: World, database: Database, backend: str
) -> None:
    """The guard's read and the write, each a transaction of its own: no ``BEGIN``, no
    ``COMMIT``, once the account and category exist. With an idempotency key, a transaction."""
    if backend != "postgresql":
        pytest.skip("SQLite's creates take its one writer's transaction")
    await create_record(client, org_id=world.org_id, actor=world.analyst)
    url, headers = records_url(world.org_id), world.analyst.headers
    async with transaction_control(database) as control:
        with statements_counted(database) as statements:
            response = await client.post(url, json=record_body(), headers=headers)
    assert response.status_code == 201, response.text
    assert control == []
    assert len(statements) == 2, statements
    assert statements[1].lstrip().startswith("WITH target AS"), statements[1]
    async with transaction_control(database) as control:
        keyed = {**headers, "Idempotency-Key": "one-statement-control"}
        response = await client.post(url, json=record_body(), headers=keyed)
    assert response.status_code == 201, response.text
    assert [query.split()[0].rstrip(";").upper() for query in control] == ["BEGIN", "COMMIT"]


async def test_every_way_of_creating_answers_audits_and_counts_the_same(
    client: httpx.AsyncClient, world: World
) -> None:
    """A category new to the org, the same again, spelled otherwise; a named account with and
    without its currency: on PostgreSQL the second and the fourth are one statement, the others
    a transaction, and nothing tells them apart."""
    account = (await create_account(client, world.org_id, world.admin, name="Card"))["id"]
    bodies = [
        record_body(category="Rent", amount="100.00"),
        record_body(category="Rent", amount="20.05", notes="second"),
        record_body(category="rent", amount="3.00"),
        record_body(category="Rent", amount="0.40", account_id=account, currency="USD"),
        record_body(category="Rent", amount="5.00", account_id=account, type="income"),
    ]
    created: list[Json] = []
    for body in bodies:
        created.append(
            await create_record(client, org_id=world.org_id, actor=world.analyst, **body)
        )
    assert {record["category"] for record in created} == {"Rent"}
    default = created[0]["account_id"]
    assert [record["account_id"] for record in created] == [default] * 3 + [account] * 2
    entries = {
        entry["entity_id"]: entry["changes"]
        for entry in await audit_log(client, org_id=world.org_id, admin=world.admin)
        if entry["action"] == "record.created"
    }
    for record in created:
        changes = entries[record["id"]]
        assert list(changes) == [
            "amount", "currency", "type", "category", "date", "notes", "account_id"
        ]  # fmt: skip
        assert changes == {
            field: [None, record[field]]
            for field in ("amount", "currency", "type", "category", "date", "notes", "account_id")
        }
    summary = await client.get(
        f"/orgs/{world.org_id}/dashboard/summary", headers=world.analyst.headers
    )
    assert summary.status_code == 200, summary.text
    assert summary.json()["total_income"] == "5.00"
    assert summary.json()["total_expense"] == "123.45"
    balances = await client.get(
        f"/orgs/{world.org_id}/accounts/{account}", headers=world.analyst.headers
    )
    assert balances.json()["balance"] == "4.60"
    assert uuid.UUID(default) != uuid.UUID(account)
