"""Reconciliation and closed periods: a reconciled account's records up to its date stay as
they are, whatever the write and however concurrent."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerline.accounts import closing
from ledgerline.accounts.schemas import ReconcileRequest
from ledgerline.core.db import Database
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import OrgRead
from ledgerline.records import service as records_service
from ledgerline.records.schemas import RecordCreate
from ledgerline.records.types import RecordType
from tests.accounts.helpers import accounts_url, balance_of, create_account
from tests.factories import Actor, World, error_fields, problem
from tests.imports_exports.helpers import upload
from tests.records.helpers import audit_log, create_record, records_url

Json = dict[str, Any]
WRITERS, WRITES, ATTEMPTS = 4, 12, 40


async def reconcile(
    client: httpx.AsyncClient, world: World, account_id: str, actor: Actor, **body: object
) -> httpx.Response:
    return await client.post(
        f"{accounts_url(world.org_id, account_id)}/reconcile", json=body, headers=actor.headers
    )


@pytest.fixture
async def account(client: httpx.AsyncClient, world: World) -> str:
    created = await create_account(client, world.org_id, world.admin, opening_balance="100.00")
    for day, kind, amount in [("2026-02-10", "expense", "30.00"), ("2026-03-05", "income", "5")]:
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=created["id"],
            date=day, type=kind, amount=amount,
        )  # fmt: skip
    account_id: str = created["id"]
    return account_id


class TestReconcile:
    async def test_a_difference_is_reported_and_locks_nothing(
        self, client: httpx.AsyncClient, world: World, account: str
    ) -> None:
        response = await reconcile(
            client, world, account, world.analyst,
            statement_date="2026-02-28", statement_balance="75.50", lock=True,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.json() == {
            "statement_date": "2026-02-28",
            "statement_balance": "75.50",
            "computed_balance": "70.00",
            "difference": "5.50",
            "locked": False,
            "reconciled_through": None,
        }

    async def test_a_match_with_lock_closes_the_period_and_is_audited(
        self, client: httpx.AsyncClient, world: World, account: str
    ) -> None:
        response = await reconcile(
            client, world, account, world.analyst,
            statement_date="2026-02-28", statement_balance="70", lock=True,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        assert (response.json()["locked"], response.json()["reconciled_through"]) == (
            True,
            "2026-02-28",
        )
        fetched = await client.get(
            accounts_url(world.org_id, account), headers=world.viewer.headers
        )
        assert fetched.json()["reconciled_through"] == "2026-02-28"
        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        reconciled = next(e for e in entries if e["action"] == "account.reconciled")
        assert reconciled["changes"]["reconciled_through"] == [None, "2026-02-28"]

    async def test_invalid_statements_answer_422(
        self, client: httpx.AsyncClient, world: World, account: str
    ) -> None:
        for body, field in [
            ({"statement_date": "2026-02-30", "statement_balance": "1"}, "statement_date"),
            ({"statement_date": "2026-02-28", "statement_balance": "1.001"}, "statement_balance"),
            ({"statement_date": "2026-02-28"}, "statement_balance"),
        ]:
            response = await reconcile(client, world, account, world.analyst, **body)
            assert field in error_fields(response), (body, response.text)


class TestClosedPeriods:
    @pytest.fixture
    async def closed(self, client: httpx.AsyncClient, world: World, account: str) -> str:
        response = await reconcile(
            client, world, account, world.analyst,
            statement_date="2026-02-28", statement_balance="70.00", lock=True,
        )  # fmt: skip
        assert response.json()["locked"] is True
        return account

    async def test_no_write_reaches_a_closed_record(
        self, client: httpx.AsyncClient, world: World, closed: str
    ) -> None:
        base = {"type": "expense", "category": "Food", "amount": "1.00", "account_id": closed}
        created = await client.post(
            records_url(world.org_id), json={**base, "date": "2026-02-28"},
            headers=world.analyst.headers,
        )  # fmt: skip
        detail = problem(created, 409)["detail"]
        assert "Checking" in detail
        assert "2026-02-28" in detail
        later = await create_record(
            client, org_id=world.org_id, actor=world.analyst, **{**base, "date": "2026-03-01"}
        )
        moved_in = await client.patch(
            records_url(world.org_id, later["id"]), json={"date": "2026-01-01"},
            headers=world.analyst.headers,
        )  # fmt: skip
        problem(moved_in, 409)
        [old] = [
            r
            for r in (
                await client.get(
                    records_url(world.org_id), params={"date_to": "2026-02-28"},
                    headers=world.admin.headers,
                )
            ).json()["items"]
            if r["account_id"] == closed
        ]  # fmt: skip
        url = records_url(world.org_id, old["id"])
        problem(await client.patch(url, json={"notes": "x"}, headers=world.admin.headers), 409)
        problem(await client.delete(url, headers=world.admin.headers), 409)
        other = await create_account(client, world.org_id, world.admin, name="Other")
        moved_out = await client.patch(
            url, json={"account_id": other["id"]}, headers=world.admin.headers
        )
        problem(moved_out, 409)
        transfer = await client.post(
            f"/orgs/{world.org_id}/transfers",
            json={"from_account_id": other["id"], "to_account_id": closed, "amount": "1",
                  "date": "2026-02-01"},
            headers=world.analyst.headers,
        )  # fmt: skip
        problem(transfer, 409)
        assert await balance_of(client, world.org_id, world.admin, closed, on="2026-02-28") == (
            "70.00"
        )

    async def test_an_import_with_a_closed_date_writes_nothing(
        self, client: httpx.AsyncClient, world: World, closed: str
    ) -> None:
        main = await client.patch(
            accounts_url(world.org_id, closed), json={"name": "Main USD"},
            headers=world.admin.headers,
        )  # fmt: skip
        problem(main, 409)
        [default] = [
            a
            for a in (
                await client.get(accounts_url(world.org_id), headers=world.admin.headers)
            ).json()
            if a["is_default"]
        ]
        response = await reconcile(
            client, world, default["id"], world.analyst,
            statement_date="2026-01-31", statement_balance="0", lock=True,
        )  # fmt: skip
        assert response.json()["locked"] is True
        content = (
            b"date,type,category,amount\n2026-03-01,expense,Food,1.00\n2026-01-31,expense,Food,2\n"
        )
        refused = await upload(client, world.org_id, world.analyst, content)
        assert "2026-01-31" in problem(refused, 409)["detail"]
        assert await balance_of(client, world.org_id, world.admin, default["id"]) == "0.00"

    async def test_an_admin_reopens_by_moving_the_date_back(
        self, client: httpx.AsyncClient, world: World, closed: str
    ) -> None:
        url = accounts_url(world.org_id, closed)
        forward = await client.patch(
            url, json={"reconciled_through": "2026-03-31"}, headers=world.admin.headers
        )
        assert error_fields(forward) == {"reconciled_through"}
        back = await client.patch(
            url, json={"reconciled_through": "2026-01-31"}, headers=world.admin.headers
        )
        assert back.status_code == 200, back.text
        assert back.json()["reconciled_through"] == "2026-01-31"
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=closed, date="2026-02-15"
        )
        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        updated = next(e for e in entries if e["action"] == "account.updated")
        assert updated["changes"] == {"reconciled_through": ["2026-02-28", "2026-01-31"]}
        cleared = await client.patch(
            url, json={"reconciled_through": None}, headers=world.admin.headers
        )
        assert cleared.json()["reconciled_through"] is None


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL matter: SQLite takes one writer at a time")


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
async def test_a_record_written_during_reconciliation_is_counted_or_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    """Writers keep adding records while a reconciler reads the balance at the statement date
    and locks with exactly it: the locked balance must still be the balance after every writer
    is done, so no record slipped in behind the reconciliation."""
    account = (await create_account(client, world.org_id, world.admin))["id"]
    day, after = "2026-02-28", "2026-03-01"
    refused: list[int] = []

    async def write(seed: int) -> None:
        """Mostly records after the statement date (which leave its balance alone, so the
        reconciler gets to lock meanwhile), some on it."""
        rng = random.Random(seed)
        for _ in range(WRITES):
            on = day if rng.random() < 0.1 else after
            response = await client.post(
                records_url(world.org_id),
                json={"account_id": account, "date": on, "type": "income", "category": "Pay",
                      "amount": f"{rng.randint(1, 999)}.00"},
                headers=world.analyst.headers,
            )  # fmt: skip
            if response.status_code == 409:
                refused.append(seed)
                continue
            assert response.status_code == 201, response.text

    async def reconcile_until_locked() -> Json:
        for _ in range(ATTEMPTS):
            seen = await reconcile(
                client, world, account, world.analyst, statement_date=day, statement_balance="0"
            )
            response = await reconcile(
                client, world, account, world.analyst, statement_date=day,
                statement_balance=seen.json()["computed_balance"], lock=True,
            )  # fmt: skip
            if response.json()["locked"]:
                result: Json = response.json()
                return result
        pytest.fail("never locked")

    locked, *_ = await asyncio.gather(reconcile_until_locked(), *(write(s) for s in range(WRITERS)))
    final = await balance_of(client, world.org_id, world.admin, account, on=day)
    assert final == locked["computed_balance"]
    assert refused, "no writer met the closed period"


WRITER_CHECKS = [
    "require_open",
    "create in the account",
    "create in the account, its currency given",
    "create in the default account",
    "create in one statement",
]
"""``require_open`` alone, and a record's create: the way that reads the account first (its
currency unknown), and the one statement (``records/create_statement.py``) in the writer's
transaction or as a transaction of its own (the API's session for a create)."""


@pytest.mark.postgres_only
@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize("writer", WRITER_CHECKS)
async def test_a_writer_checking_during_an_uncommitted_reconciliation_waits_and_is_refused(
    client: httpx.AsyncClient, world: World, database: Database, writer: str
) -> None:
    """The interleaving the lock exists for, step by step: a reconciliation has locked the
    period but not committed; a writer's check meanwhile must wait for it and then refuse,
    never read the old date and go ahead. A record's create takes the lock as it finds its
    account and reads the period in its write statement (``closing.UncheckedPeriod``), or in
    one statement through ``closing.closed_through``. Its category exists, so a create that read
    the old date would insert."""
    by_default = writer in ("create in the default account", "create in one statement")
    if by_default:
        first = await create_record(client, org_id=world.org_id, actor=world.analyst)
        account = uuid.UUID(first["account_id"])
    else:
        account = uuid.UUID((await create_account(client, world.org_id, world.admin))["id"])
    await create_record(
        client, org_id=world.org_id, actor=world.analyst, account_id=str(account),
        category="Pay", date="2026-03-10",
    )  # fmt: skip
    day = dt.date(2026, 2, 28)
    sessions = database.sessions
    if writer == "create in one statement":
        assert database.one_statement_sessions is not None
        sessions = database.one_statement_sessions
    async with database.sessions() as reconciling, sessions() as writing:
        ctx = OrgContext(
            org=OrgRead.model_validate(await reconciling.get_one(Org, world.org_id)),
            user_id=world.admin.user_id,
            role=Role.ADMIN,
        )
        result = await closing.reconcile(
            reconciling,
            ctx,
            account,
            ReconcileRequest(statement_date=day, statement_balance="0", lock=True),
        )
        assert result.locked
        if writer == "require_open":
            write = closing.require_open(writing, world.org_id, [(account, day)])
        else:
            new = RecordCreate(
                amount=Decimal("1.00"),
                type=RecordType.INCOME,
                category="Pay",
                date=day,
                account_id=None if by_default else account,
                currency="USD" if writer == "create in the account, its currency given" else None,
            )
            write = records_service.create_record(writing, ctx, new)
        check = asyncio.create_task(write)
        done, _ = await asyncio.wait([check], timeout=1)
        assert not done, "the writer read the period while the reconciliation was uncommitted"
        await reconciling.commit()
        with pytest.raises(closing.PeriodClosed):
            await check
