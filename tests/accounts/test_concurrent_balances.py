"""Balances under concurrent writers (PostgreSQL): records created, moved between accounts,
deleted and restored, and transfers made, all at once leave every balance equal to a recount
of the records; and the ``aggregates`` command checks and rebuilds balances like the
dashboard's sums."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import case, func, select, update
from typer.testing import CliRunner

from ledgerline.accounts.models import AccountDailyBalance, Transfer
from ledgerline.cli import app as cli_app
from ledgerline.core.config import get_settings
from ledgerline.core.db import Database
from ledgerline.dashboard import aggregates
from ledgerline.records.models import Record
from tests.accounts.helpers import create_account, list_accounts
from tests.factories import Actor, World

WRITERS = 8
OPERATIONS = 20
DAYS = ["2026-01-31", "2026-02-01", "2026-02-02"]


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL matter: SQLite takes one writer at a time")


async def recount(database: Database, org_id: uuid.UUID) -> dict[str, int]:
    """Account id -> income minus expense, plus transfers in minus out, of its live records,
    from the records table."""
    signed = case(
        (Record.type == "income", Record.amount_minor),
        (Record.type == "expense", -Record.amount_minor),
        (Record.account_id == Transfer.from_account_id, -Record.amount_minor),
        else_=Record.amount_minor,
    )
    async with database.sessions() as session:
        rows = await session.execute(
            select(Record.account_id, func.sum(signed))
            .outerjoin(Transfer, Transfer.id == Record.transfer_id)
            .where(Record.org_id == org_id, Record.deleted_at.is_(None))
            .group_by(Record.account_id)
        )
        return {str(account_id): int(total) for account_id, total in rows}


async def writer(
    client: httpx.AsyncClient,
    org_id: uuid.UUID,
    admin: Actor,
    accounts: list[str],
    shared: list[str],
    seed: int,
) -> None:
    rng = random.Random(seed)
    base = f"/orgs/{org_id}/records"
    for _ in range(OPERATIONS):
        action = rng.choice(
            ["create", "create", "move", "move", "update", "delete", "restore", "transfer"]
        )
        if action == "transfer":
            source, target = rng.sample(accounts, 2)
            response = await client.post(
                f"/orgs/{org_id}/transfers",
                json={"from_account_id": source, "to_account_id": target,
                      "amount": f"{rng.randint(1, 10**5)}.00", "date": rng.choice(DAYS)},
                headers=admin.headers,
            )  # fmt: skip
            assert response.status_code == 201, response.text
            continue
        if action == "create" or not shared:
            body = {
                "amount": f"{rng.randint(1, 10**6)}.{rng.randint(0, 99):02d}",
                "type": rng.choice(["income", "expense"]),
                "category": "Food",
                "date": rng.choice(DAYS),
                "account_id": rng.choice(accounts),
            }
            response = await client.post(base, json=body, headers=admin.headers)
            assert response.status_code == 201, response.text
            shared.append(response.json()["id"])
            continue
        record_id = rng.choice(shared)
        if action == "move":
            response = await client.patch(
                f"{base}/{record_id}",
                json={"account_id": rng.choice(accounts), "date": rng.choice(DAYS)},
                headers=admin.headers,
            )
        elif action == "update":
            response = await client.patch(
                f"{base}/{record_id}",
                json={"amount": f"{rng.randint(1, 10**6)}.00", "type": "income"},
                headers=admin.headers,
            )
        elif action == "delete":
            response = await client.delete(f"{base}/{record_id}", headers=admin.headers)
        else:
            response = await client.post(f"{base}/{record_id}/restore", headers=admin.headers)
        assert response.status_code in (200, 204, 404, 409), response.text


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
async def test_concurrent_moves_lose_no_change_of_any_balance(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    first = await create_account(client, world.org_id, world.admin, name="First")
    second = await create_account(client, world.org_id, world.admin, name="Second")
    [main] = [a for a in await list_accounts(client, world.org_id, world.admin) if a["is_default"]]
    accounts = [first["id"], second["id"], main["id"]]
    shared: list[str] = []
    await asyncio.gather(
        *(
            writer(client, world.org_id, world.admin, accounts, shared, seed)
            for seed in range(WRITERS)
        )
    )
    counted = await recount(database, world.org_id)
    listed = await list_accounts(client, world.org_id, world.admin, on="2026-12-31")
    assert {a["id"]: a["balance"] for a in listed} == {
        account: str(Decimal(counted.get(account, 0)).scaleb(-2)) for account in accounts
    }
    async with database.sessions() as session:
        assert await aggregates.find_drift(session, world.org_id) == []


class TestAggregatesCommandCoversBalances:
    @pytest.fixture
    def cli(self, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[CliRunner]:
        monkeypatch.setenv("LEDGERLINE_DATABASE_URL", database_url)
        get_settings.cache_clear()
        yield CliRunner()
        get_settings.cache_clear()

    async def test_check_reports_a_drifted_balance_and_rebuild_repairs_it(
        self, cli: CliRunner, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        account = await create_account(client, world.org_id, world.admin, name="Drifting")
        response = await client.post(
            f"/orgs/{world.org_id}/records",
            json={"date": "2026-03-01", "type": "income", "category": "Pay", "amount": "10.00",
                  "account_id": account["id"]},
            headers=world.admin.headers,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        async with database.sessions() as session:
            await session.execute(
                update(AccountDailyBalance)
                .where(AccountDailyBalance.org_id == world.org_id)
                .values(total_low=AccountDailyBalance.total_low + 5)
            )
            await session.commit()

        async def run(*args: str) -> Any:
            return await asyncio.to_thread(
                cli.invoke, cli_app, ["aggregates", *args, "--org", str(world.org_id)]
            )

        drifted = await run("check")
        assert drifted.exit_code == 1, drifted.output
        report = " ".join(drifted.output.split())
        assert f"account_daily_balances: 2026-03-01 account {account['id']}" in report
        assert "stored 1005 minor units in 1 records, records say 1000 in 1" in report
        assert "account_monthly_balances" not in report
        rebuilt = await run("rebuild")
        assert rebuilt.exit_code == 0, rebuilt.output
        assert (await run("check")).exit_code == 0
        listed = await list_accounts(client, world.org_id, world.admin, on="2026-03-01")
        assert {a["id"]: a["balance"] for a in listed}[account["id"]] == "10.00"
