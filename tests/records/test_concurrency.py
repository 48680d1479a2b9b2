"""Concurrent writes: no update is lost, If-Match lets exactly one writer win, and the dashboard
aggregates still equal a recount. The requests really overlap: each has its own session and
connection, so on PostgreSQL they contend for row locks; on SQLite writers queue."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.dashboard.aggregates import find_drift
from tests.factories import World, problem
from tests.records.helpers import (
    Json,
    audit_log,
    create_record,
    get_record,
    record_body,
    record_total,
    records_url,
)

WRITERS = 20


async def assert_no_drift(database: Database, world: World) -> None:
    async with database.sessions() as session:
        assert await find_drift(session, world.org_id) == []


async def update_entries(client: httpx.AsyncClient, world: World, record_id: str) -> list[Json]:
    return await audit_log(
        client, org_id=world.org_id, admin=world.admin, entity_id=record_id, action="record.updated"
    )


class TestConcurrentUpdates:
    async def test_updates_without_if_match_are_never_lost(
        self, app: FastAPI, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.analyst, amount="1")
        url = records_url(world.org_id, record["id"])
        amounts = [f"{100 + n}.00" for n in range(WRITERS)]
        responses = await asyncio.gather(
            *(
                client.patch(url, json={"amount": amount}, headers=world.analyst.headers)
                for amount in amounts
            )
        )
        assert [response.status_code for response in responses] == [200] * WRITERS
        versions = sorted(response.json()["version"] for response in responses)
        assert versions == list(range(2, WRITERS + 2)), "two updates saw the same version"
        final = (
            await get_record(client, org_id=world.org_id, actor=world.admin, record_id=record["id"])
        ).json()
        assert final["version"] == 1 + WRITERS
        last = max(responses, key=lambda response: response.json()["version"]).json()
        assert final["amount"] == last["amount"]
        entries = await update_entries(client, world, record["id"])
        assert len(entries) == WRITERS
        # Each update saw its predecessor's amount: the entries chain from "1.00" to the final one.
        after = {entry["changes"]["amount"][0]: entry["changes"]["amount"][1] for entry in entries}
        chain, amount = [], "1.00"
        while amount in after:
            amount = after.pop(amount)
            chain.append(amount)
        assert sorted(chain, key=Decimal) == amounts
        assert chain[-1] == final["amount"]
        await assert_no_drift(database, world)

    async def test_updates_of_different_fields_all_land(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.analyst)
        url = records_url(world.org_id, record["id"])
        changes: list[Json] = [
            {"amount": "77.70"},
            {"category": "Travel"},
            {"notes": "train"},
            {"date": "2025-01-02"},
            {"type": "income"},
            {"currency": "EUR"},
        ]
        responses = await asyncio.gather(
            *(client.patch(url, json=change, headers=world.admin.headers) for change in changes)
        )
        assert [response.status_code for response in responses] == [200] * len(changes)
        final = (
            await get_record(client, org_id=world.org_id, actor=world.admin, record_id=record["id"])
        ).json()
        for change in changes:
            assert {key: final[key] for key in change} == change
        assert final["version"] == 1 + len(changes)
        assert len(await update_entries(client, world, record["id"])) == len(changes)
        await assert_no_drift(database, world)

    async def test_same_if_match_lets_exactly_one_writer_win(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.analyst, amount="1")
        url = records_url(world.org_id, record["id"])
        headers = {**world.analyst.headers, "If-Match": '"1"'}
        responses = await asyncio.gather(
            *(
                client.patch(url, json={"amount": f"{n + 2}"}, headers=headers)
                for n in range(WRITERS)
            )
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * (WRITERS - 1)
        for response in responses:
            if response.status_code == 412:
                problem(response, 412)
        winner = next(response.json() for response in responses if response.status_code == 200)
        final = (
            await get_record(client, org_id=world.org_id, actor=world.admin, record_id=record["id"])
        ).json()
        assert final == winner
        assert final["version"] == 2
        assert len(await update_entries(client, world, record["id"])) == 1
        await assert_no_drift(database, world)


class TestConcurrentDeletesAndCreates:
    async def test_concurrent_deletes_remove_the_record_once(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.analyst)
        url = records_url(world.org_id, record["id"])
        responses = await asyncio.gather(
            *(client.delete(url, headers=world.admin.headers) for _ in range(8))
        )
        assert sorted(response.status_code for response in responses) == [204] + [404] * 7
        deletions = await audit_log(
            client, org_id=world.org_id, admin=world.admin, action="record.deleted"
        )
        assert len(deletions) == 1
        await assert_no_drift(database, world)

    async def test_concurrent_creates_all_land_with_their_audit_and_exact_aggregates(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        """Many writers in one aggregate bucket at once (SQLite: queued on the write lock, each
        reading who it is before it queues; PostgreSQL: on the bucket's rows)."""
        responses = await asyncio.gather(
            *(
                client.post(
                    records_url(world.org_id),
                    json=record_body(amount=f"{n}.25"),
                    headers=world.analyst.headers,
                )
                for n in range(1, WRITERS + 1)
            )
        )
        assert [response.status_code for response in responses] == [201] * WRITERS
        created = sorted(response.json()["id"] for response in responses)
        assert len(set(created)) == WRITERS
        entries = await audit_log(
            client, org_id=world.org_id, admin=world.admin, action="record.created"
        )
        assert sorted(entry["entity_id"] for entry in entries) == created
        await assert_no_drift(database, world)
        summary = await client.get(
            f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers
        )
        assert summary.status_code == 200, summary.text
        expected = sum(Decimal(f"{n}.25") for n in range(1, WRITERS + 1))
        assert Decimal(summary.json()["total_expense"]) == expected
        assert summary.json()["record_count"] == WRITERS

    async def test_concurrent_retries_with_one_idempotency_key_create_one_record(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        headers = {**world.analyst.headers, "Idempotency-Key": "retry-storm"}
        responses = await asyncio.gather(
            *(
                client.post(records_url(world.org_id), json=record_body(), headers=headers)
                for _ in range(8)
            )
        )
        assert [response.status_code for response in responses] == [201] * 8
        assert len({response.json()["id"] for response in responses}) == 1
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 1
        await assert_no_drift(database, world)

    async def test_concurrent_first_uses_of_a_category_create_it_once(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        spellings = ["Groceries", "groceries", "GROCERIES", " Groceries ", "groceries"]
        responses = await asyncio.gather(
            *(
                client.post(
                    records_url(world.org_id),
                    json=record_body(category=spelling),
                    headers=world.analyst.headers,
                )
                for spelling in spellings
            )
        )
        assert [response.status_code for response in responses] == [201] * len(spellings)
        assert len({response.json()["category"] for response in responses}) == 1
        categories = await client.get(
            f"/orgs/{world.org_id}/categories", headers=world.viewer.headers
        )
        assert [(c["name"].casefold(), c["record_count"]) for c in categories.json()] == [
            ("groceries", len(spellings))
        ]
        await assert_no_drift(database, world)
