"""The aggregates under concurrent writers (PostgreSQL), and the ``aggregates`` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from ledgerline.cli import app as cli_app
from ledgerline.core.config import get_settings
from ledgerline.core.db import Database
from ledgerline.dashboard import aggregates
from ledgerline.dashboard.cli import check_org, rebuild_org
from ledgerline.dashboard.models import DailyTotal, MonthlyTotal
from ledgerline.records.models import Record
from tests.factories import Actor, World

Json = dict[str, Any]
WRITERS = 8
OPERATIONS = 25
DAYS = ["2026-02-27", "2026-02-28", "2026-03-01"]
CATEGORIES = ["Food", "food", "Rent"]


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL matter: SQLite takes one writer at a time")


async def recount(database: Database, org_id: uuid.UUID) -> dict[tuple[str, str], list[int]]:
    """(currency, type) -> [sum, count] over the live records, straight from the records table."""
    async with database.sessions() as session:
        rows = await session.execute(
            select(Record.currency, Record.type, func.sum(Record.amount_minor), func.count())
            .where(Record.org_id == org_id, Record.deleted_at.is_(None))
            .group_by(Record.currency, Record.type)
        )
        return {(currency, kind): [int(total), int(n)] for currency, kind, total, n in rows}


def summary_figures(summary: Json) -> dict[tuple[str, str], int]:
    figures = {}
    for entry in summary["by_currency"]:
        for kind in ("income", "expense"):
            total = int(Decimal(entry[f"total_{kind}"]) * 100)
            if total:
                figures[(entry["currency"], kind)] = total
    return figures


async def writer(
    client: httpx.AsyncClient, org_id: uuid.UUID, admin: Actor, shared: list[str], seed: int
) -> None:
    """Creates, updates, deletes and restores records, most of them in a few hot buckets and
    many of them records another writer also touches."""
    rng = random.Random(seed)
    base = f"/orgs/{org_id}/records"
    for _ in range(OPERATIONS):
        action = rng.choice(["create", "create", "update", "update", "delete", "restore"])
        if action == "create" or not shared:
            body = {
                "amount": f"{rng.randint(1, 10**6)}.{rng.randint(0, 99):02d}",
                "type": rng.choice(["income", "expense"]),
                "category": rng.choice(CATEGORIES),
                "date": rng.choice(DAYS),
                "currency": rng.choice(["USD", "EUR"]),
            }
            response = await client.post(base, json=body, headers=admin.headers)
            assert response.status_code == 201, response.text
            shared.append(response.json()["id"])
            continue
        record_id = rng.choice(shared)
        if action == "update":
            body = rng.choice(
                [
                    {"amount": f"{rng.randint(1, 10**6)}.00"},
                    {"date": rng.choice(DAYS), "type": rng.choice(["income", "expense"])},
                    {"category": rng.choice(CATEGORIES), "currency": rng.choice(["USD", "EUR"])},
                ]
            )
            response = await client.patch(f"{base}/{record_id}", json=body, headers=admin.headers)
        elif action == "delete":
            response = await client.delete(f"{base}/{record_id}", headers=admin.headers)
        else:
            response = await client.post(f"{base}/{record_id}/restore", headers=admin.headers)
        # Another writer may have deleted it first (404 for update/delete), or restored it
        # first (409: only a deleted record can be restored).
        assert response.status_code in (200, 204, 404, 409), response.text


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
class TestConcurrentWriters:
    async def test_no_increment_is_lost_and_checks_meanwhile_see_no_drift(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        shared: list[str] = []
        checks: list[list[aggregates.Drift]] = []

        async def check_meanwhile() -> None:
            for _ in range(5):
                checks.append(await check_org(database, world.org_id))
                await asyncio.sleep(0.02)

        await asyncio.gather(
            check_meanwhile(),
            *(writer(client, world.org_id, world.admin, shared, seed) for seed in range(WRITERS)),
        )
        assert checks == [[]] * 5, "a check during writes saw one snapshot"

        async with database.sessions() as session:
            assert await aggregates.find_drift(session, world.org_id) == []
        response = await client.get(
            f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers
        )
        counted = await recount(database, world.org_id)
        assert summary_figures(response.json()) == {key: v[0] for key, v in counted.items()}
        assert sum(e["record_count"] for e in response.json()["by_currency"]) == sum(
            n for _, n in counted.values()
        )

    async def test_a_rebuild_during_writes_loses_nothing(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        shared: list[str] = []
        await writer(client, world.org_id, world.admin, shared, seed=99)
        async with database.sessions() as session:
            await session.execute(delete(DailyTotal).where(DailyTotal.org_id == world.org_id))
            await session.commit()

        async def rebuilds() -> None:
            for _ in range(10):
                await rebuild_org(database, world.org_id)

        await asyncio.gather(
            rebuilds(),
            rebuilds(),
            *(writer(client, world.org_id, world.admin, shared, seed) for seed in range(WRITERS)),
        )
        async with database.sessions() as session:
            assert await aggregates.find_drift(session, world.org_id) == []


class TestAggregatesCommand:
    @pytest.fixture
    def cli(self, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[CliRunner]:
        monkeypatch.setenv("LEDGERLINE_DATABASE_URL", database_url)
        get_settings.cache_clear()
        yield CliRunner()
        get_settings.cache_clear()

    async def test_check_finds_a_corrupted_bucket_and_rebuild_repairs_it(
        self, cli: CliRunner, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        for day, amount in [("2026-03-01", "10.00"), ("2026-03-01", "5.00"), ("2026-03-02", "1")]:
            response = await client.post(
                f"/orgs/{world.org_id}/records",
                json={"date": day, "type": "expense", "category": "Food", "amount": amount},
                headers=world.admin.headers,
            )
            assert response.status_code == 201, response.text

        async def run(*args: str) -> Any:
            return await asyncio.to_thread(
                cli.invoke, cli_app, ["aggregates", *args, "--org", str(world.org_id)]
            )

        consistent = await run("check")
        assert consistent.exit_code == 0, consistent.output
        assert "match" in consistent.output

        async with database.sessions() as session:
            await session.execute(
                update(DailyTotal)
                .where(DailyTotal.org_id == world.org_id, DailyTotal.day == dt.date(2026, 3, 1))
                .values(total_low=DailyTotal.total_low + 7, record_count=3)
            )
            await session.execute(delete(MonthlyTotal).where(MonthlyTotal.org_id == world.org_id))
            await session.commit()

        drifted = await run("check")
        assert drifted.exit_code == 1, drifted.output
        report = " ".join(drifted.output.split())
        assert "daily_totals: 2026-03-01 expense USD" in report
        assert "stored 1507 minor units in 3 records, records say 1500 in 2" in report
        assert "monthly_totals: 2026-03-01 expense USD" in report
        assert "stored 0 minor units in 0 records, records say 1600 in 3" in report
        assert "2026-03-02" not in report
        assert "daily_type_totals" not in report

        rebuilt = await run("rebuild")
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "2 row(s) had drifted" in rebuilt.output
        again = await run("check")
        assert again.exit_code == 0, again.output
        summary = await client.get(
            f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers
        )
        assert summary.json()["total_expense"] == "16.00"

    async def test_an_unknown_org_is_a_usage_error(self, cli: CliRunner, app: FastAPI) -> None:
        result = await asyncio.to_thread(
            cli.invoke, cli_app, ["aggregates", "check", "--org", str(uuid.uuid4())]
        )
        assert result.exit_code == 2
        assert "no organization" in result.output
