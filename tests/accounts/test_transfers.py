"""Transfers: two legs of type transfer, counted in balances and never in income or expense."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.accounts.helpers import balance_of, create_account
from tests.factories import World, error_fields, problem
from tests.records.helpers import audit_log, create_record, records_url, walk_records

Json = dict[str, Any]


def transfers_url(world: World, transfer_id: str | None = None) -> str:
    base = f"/orgs/{world.org_id}/transfers"
    return base if transfer_id is None else f"{base}/{transfer_id}"


@pytest.fixture
async def accounts(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    checking = await create_account(client, world.org_id, world.admin, name="Checking")
    savings = await create_account(client, world.org_id, world.admin, name="Savings")
    euros = await create_account(client, world.org_id, world.admin, name="Euros", currency="EUR")
    return {"checking": checking["id"], "savings": savings["id"], "euros": euros["id"]}


async def transfer(
    client: httpx.AsyncClient, world: World, source: str, target: str, **fields: object
) -> Json:
    body: Json = {"from_account_id": source, "to_account_id": target, "amount": "40.00"}
    body.setdefault("date", "2026-03-02")
    body.update(fields)
    response = await client.post(transfers_url(world), json=body, headers=world.analyst.headers)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


class TestCreate:
    async def test_two_legs_move_the_balances_and_no_income_or_expense(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=accounts["checking"],
            type="income", amount="100.00", date="2026-03-01",
        )  # fmt: skip
        response = await client.post(
            transfers_url(world),
            json={"from_account_id": accounts["checking"], "to_account_id": accounts["savings"],
                  "amount": "40.00", "date": "2026-03-02", "notes": "rainy day"},
            headers=world.analyst.headers,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["Location"].endswith(f"/transfers/{created['id']}")
        assert (created["amount"], created["to_amount"], created["to_currency"]) == (
            "40.00",
            "40.00",
            "USD",
        )
        assert await balance_of(client, world.org_id, world.viewer, accounts["checking"]) == "60.00"
        assert await balance_of(client, world.org_id, world.viewer, accounts["savings"]) == "40.00"
        legs = [
            r
            for r in await walk_records(client, org_id=world.org_id, actor=world.viewer)
            if r["transfer_id"] == created["id"]
        ]
        assert sorted(r["id"] for r in legs) == sorted(created["record_ids"])
        assert {(r["type"], r["category"], r["account_id"]) for r in legs} == {
            ("transfer", None, accounts["checking"]),
            ("transfer", None, accounts["savings"]),
        }
        summary = await client.get(
            f"/orgs/{world.org_id}/dashboard/summary", headers=world.viewer.headers
        )
        assert (summary.json()["total_income"], summary.json()["total_expense"]) == (
            "100.00",
            "0.00",
        )
        assert summary.json()["record_count"] == 1
        recent = await client.get(
            f"/orgs/{world.org_id}/dashboard/recent", headers=world.viewer.headers
        )
        assert [r["type"] for r in recent.json()] == ["income"]
        fetched = await client.get(
            transfers_url(world, created["id"]), headers=world.viewer.headers
        )
        assert fetched.json() == created
        assert fetched.headers["ETag"] == '"1"'

    async def test_between_currencies_to_amount_is_required(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        body = {"from_account_id": accounts["checking"], "to_account_id": accounts["euros"],
                "amount": "10.00", "date": "2026-03-02"}  # fmt: skip
        missing = await client.post(transfers_url(world), json=body, headers=world.analyst.headers)
        assert error_fields(missing) == {"to_amount"}
        done = await transfer(
            client, world, accounts["checking"], accounts["euros"], amount="10.00", to_amount="9.20"
        )
        assert (done["currency"], done["to_amount"], done["to_currency"]) == ("USD", "9.20", "EUR")
        assert await balance_of(client, world.org_id, world.admin, accounts["euros"]) == "9.20"

    async def test_invalid_transfers_answer_422(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        checking, savings = accounts["checking"], accounts["savings"]
        for fields, field in [
            ({"to_account_id": checking}, "to_account_id"),
            ({"to_amount": "41.00"}, "to_amount"),
            ({"currency": "EUR"}, "currency"),
            ({"amount": "0"}, "amount"),
            ({"to_account_id": "00000000-0000-0000-0000-000000000000"}, "to_account_id"),
            ({"category": "Food"}, "category"),
        ]:
            body = {"from_account_id": checking, "to_account_id": savings, "amount": "40.00",
                    "date": "2026-03-02", **fields}  # fmt: skip
            response = await client.post(
                transfers_url(world), json=body, headers=world.analyst.headers
            )
            assert field in error_fields(response), (fields, response.text)

    async def test_idempotency_key_replays_and_creates_once(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        body = {"from_account_id": accounts["checking"], "to_account_id": accounts["savings"],
                "amount": "5.00", "date": "2026-03-02"}  # fmt: skip
        headers = {**world.analyst.headers, "Idempotency-Key": "move-1"}
        first = await client.post(transfers_url(world), json=body, headers=headers)
        again = await client.post(transfers_url(world), json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json()
        assert await balance_of(client, world.org_id, world.admin, accounts["savings"]) == "5.00"


class TestLegsAndChanges:
    async def test_legs_cannot_be_changed_through_records(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        done = await transfer(client, world, accounts["checking"], accounts["savings"])
        leg = records_url(world.org_id, done["record_ids"][0])
        patched = await client.patch(leg, json={"amount": "1"}, headers=world.admin.headers)
        assert "transfer" in problem(patched, 409)["detail"]
        problem(await client.delete(leg, headers=world.admin.headers), 409)

    async def test_patch_changes_both_legs_and_balances(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        done = await transfer(client, world, accounts["checking"], accounts["savings"])
        url = transfers_url(world, done["id"])
        stale = await client.patch(
            url, json={"amount": "1"}, headers={**world.analyst.headers, "If-Match": '"7"'}
        )
        problem(stale, 412)
        response = await client.patch(
            url,
            json={"amount": "12.00", "date": "2026-04-01", "notes": "less"},
            headers={**world.analyst.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text
        changed = response.json()
        assert (changed["amount"], changed["to_amount"], changed["version"]) == (
            "12.00",
            "12.00",
            2,
        )
        savings = accounts["savings"]
        assert await balance_of(client, world.org_id, world.admin, savings) == "12.00"
        on = {"on": "2026-03-31"}
        assert await balance_of(client, world.org_id, world.admin, savings, **on) == "0.00"
        legs = [
            r
            for r in await walk_records(client, org_id=world.org_id, actor=world.admin)
            if r["transfer_id"] == done["id"]
        ]
        assert {(r["amount"], r["date"], r["notes"]) for r in legs} == {
            ("12.00", "2026-04-01", "less")
        }

    async def test_delete_and_restore_take_both_legs(
        self, client: httpx.AsyncClient, world: World, accounts: dict[str, str]
    ) -> None:
        done = await transfer(client, world, accounts["checking"], accounts["savings"])
        url = transfers_url(world, done["id"])
        problem(await client.delete(url, headers=world.analyst.headers), 403)
        assert (await client.delete(url, headers=world.admin.headers)).status_code == 204
        assert await balance_of(client, world.org_id, world.admin, accounts["checking"]) == "0.00"
        problem(await client.get(url, headers=world.admin.headers), 404)
        listed = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert not [r for r in listed if r["transfer_id"] == done["id"]]
        restored = await client.post(f"{url}/restore", headers=world.admin.headers)
        assert restored.status_code == 200, restored.text
        assert await balance_of(client, world.org_id, world.admin, accounts["checking"]) == "-40.00"
        problem(await client.post(f"{url}/restore", headers=world.admin.headers), 409)
        actions = [
            e["action"]
            for e in await audit_log(client, org_id=world.org_id, admin=world.admin)
            if e["entity_type"] == "transfer"
        ]
        assert actions == ["transfer.restored", "transfer.deleted", "transfer.created"]
