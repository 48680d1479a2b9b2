"""Accounts: default accounts, creating and changing them, records in them, balances at a date
and over time."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ledgerline.core.db import Database
from tests.accounts.helpers import accounts_url, balance_of, create_account, list_accounts
from tests.factories import World, error_fields, problem
from tests.records.helpers import audit_log, create_record, records_url
from tests.statements import TRANSACTION_CONTROL, statements_counted

ACCOUNT_FIELDS = {
    "id",
    "org_id",
    "name",
    "kind",
    "currency",
    "institution",
    "opening_balance",
    "opening_date",
    "archived",
    "is_default",
    "balance",
    "reconciled_through",
    "created_at",
    "updated_at",
    "version",
}


class TestDefaultAccounts:
    async def test_a_new_org_has_a_default_account_in_its_currency(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        [main] = await list_accounts(client, world.org_id, world.viewer)
        assert set(main) == ACCOUNT_FIELDS
        assert (main["name"], main["currency"], main["is_default"], main["balance"]) == (
            "Main USD",
            "USD",
            True,
            "0.00",
        )

    async def test_a_record_without_account_goes_to_its_currencys_default_created_on_first_use(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        usd = await create_record(client, org_id=world.org_id, actor=world.analyst)
        eur = await create_record(
            client, org_id=world.org_id, actor=world.analyst, currency="EUR", amount="3.00"
        )
        accounts = {a["name"]: a for a in await list_accounts(client, world.org_id, world.admin)}
        assert set(accounts) == {"Main USD", "Main EUR"}
        assert usd["account_id"] == accounts["Main USD"]["id"]
        assert eur["account_id"] == accounts["Main EUR"]["id"]
        assert accounts["Main EUR"]["balance"] == "-3.00"
        assert usd["external_id"] is None

    async def test_a_users_account_named_like_the_default_leaves_the_default_another_name(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        mine = await create_account(client, world.org_id, world.admin, name="main eur")
        assert mine["currency"] == "USD"
        eur = await create_record(client, org_id=world.org_id, actor=world.analyst, currency="EUR")
        names = {a["id"]: a["name"] for a in await list_accounts(client, world.org_id, world.admin)}
        assert names[eur["account_id"]] == "Main EUR 2"


class TestAccountLifecycle:
    async def test_create_answers_201_with_location_etag_and_audit(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            accounts_url(world.org_id),
            json={
                "name": "Card",
                "kind": "credit_card",
                "currency": "eur",
                "institution": "Acme Bank",
                "opening_balance": "-250.10",
                "opening_date": "2026-01-01",
            },
            headers=world.admin.headers,
        )
        assert response.status_code == 201, response.text
        account = response.json()
        assert response.headers["Location"].endswith(f"/accounts/{account['id']}")
        assert response.headers["ETag"] == '"1"'
        assert (account["currency"], account["opening_balance"], account["balance"]) == (
            "EUR",
            "-250.10",
            "-250.10",
        )
        assert account["is_default"] is False
        [entry] = [
            e
            for e in await audit_log(client, org_id=world.org_id, admin=world.admin)
            if e["entity_type"] == "account"
        ]
        assert (entry["action"], entry["entity_id"]) == ("account.created", account["id"])
        assert entry["changes"]["name"] == [None, "Card"]

    async def test_names_are_unique_case_insensitively(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await create_account(client, world.org_id, world.admin, name="Savings")
        response = await client.post(
            accounts_url(world.org_id), json={"name": " SAVINGS "}, headers=world.admin.headers
        )
        problem(response, 409)

    async def test_invalid_fields_answer_422(self, client: httpx.AsyncClient, world: World) -> None:
        for body, field in [
            ({"name": ""}, "name"),
            ({"name": "X", "kind": "piggy"}, "kind"),
            ({"name": "X", "currency": "ZZZ"}, "currency"),
            ({"name": "X", "opening_balance": "1.001"}, "opening_balance"),
            ({"name": "X", "currency": "JPY", "opening_balance": "1.5"}, "opening_balance"),
            ({"name": "X", "opening_balance": 1.5}, "opening_balance"),
            ({"name": "X", "balance": "3"}, "balance"),
        ]:
            response = await client.post(
                accounts_url(world.org_id), json=body, headers=world.admin.headers
            )
            assert field in error_fields(response), (body, response.text)

    async def test_idempotency_key_replays_the_first_answer(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        headers = {**world.admin.headers, "Idempotency-Key": "acct-1"}
        body = {"name": "Cash", "kind": "cash"}
        first = await client.post(accounts_url(world.org_id), json=body, headers=headers)
        again = await client.post(accounts_url(world.org_id), json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json()
        other = await client.post(
            accounts_url(world.org_id), json={"name": "Other"}, headers=headers
        )
        problem(other, 409)

    async def test_patch_honours_if_match_and_audits_the_change(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account = await create_account(client, world.org_id, world.admin)
        url = accounts_url(world.org_id, account["id"])
        stale = await client.patch(
            url, json={"name": "X"}, headers={**world.admin.headers, "If-Match": '"9"'}
        )
        problem(stale, 412)
        response = await client.patch(
            url,
            json={"name": "Everyday", "archived": True},
            headers={**world.admin.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text
        assert (response.json()["name"], response.json()["version"]) == ("Everyday", 2)
        assert response.headers["ETag"] == '"2"'
        listed = await list_accounts(client, world.org_id, world.admin)
        assert account["id"] not in {a["id"] for a in listed}
        archived = await list_accounts(client, world.org_id, world.admin, include_archived="true")
        assert account["id"] in {a["id"] for a in archived}
        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        updated = next(e for e in entries if e["action"] == "account.updated")
        assert updated["changes"] == {"name": ["Checking", "Everyday"], "archived": [False, True]}

    async def test_currency_is_fixed_once_the_account_has_records(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account = await create_account(client, world.org_id, world.admin, opening_balance="5")
        url = accounts_url(world.org_id, account["id"])
        changed = await client.patch(url, json={"currency": "JPY"}, headers=world.admin.headers)
        assert changed.status_code == 200, changed.text
        assert changed.json()["opening_balance"] == "5"
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=account["id"], amount="7"
        )
        refused = await client.patch(url, json={"currency": "USD"}, headers=world.admin.headers)
        assert "JPY" in problem(refused, 409)["detail"]

    async def test_delete_only_without_records_even_deleted_ones(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        empty = await create_account(client, world.org_id, world.admin, name="Empty")
        used = await create_account(client, world.org_id, world.admin, name="Used")
        record = await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=used["id"]
        )
        deleted = await client.delete(
            records_url(world.org_id, record["id"]), headers=world.admin.headers
        )
        assert deleted.status_code == 204
        refused = await client.delete(
            accounts_url(world.org_id, used["id"]), headers=world.admin.headers
        )
        assert "archive" in problem(refused, 409)["detail"]
        gone = await client.delete(
            accounts_url(world.org_id, empty["id"]), headers=world.admin.headers
        )
        assert gone.status_code == 204
        missing = await client.get(
            accounts_url(world.org_id, empty["id"]), headers=world.admin.headers
        )
        problem(missing, 404)
        actions = [
            e["action"] for e in await audit_log(client, org_id=world.org_id, admin=world.admin)
        ]
        assert "account.deleted" in actions

    async def test_another_orgs_account_is_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        theirs = await create_account(client, world.outsider_org_id, world.outsider)
        response = await client.get(
            accounts_url(world.org_id, theirs["id"]), headers=world.admin.headers
        )
        problem(response, 404)
        record = await client.post(
            records_url(world.org_id),
            json={"amount": "1", "type": "expense", "category": "F", "date": "2026-01-01",
                  "account_id": theirs["id"]},
            headers=world.admin.headers,
        )  # fmt: skip
        assert error_fields(record) == {"account_id"}


class TestRecordsInAccounts:
    async def test_a_record_must_be_in_its_accounts_currency(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        card = await create_account(client, world.org_id, world.admin, name="Card", currency="EUR")
        response = await client.post(
            records_url(world.org_id),
            json={"amount": "1", "type": "expense", "category": "F", "date": "2026-01-01",
                  "account_id": card["id"], "currency": "USD"},
            headers=world.analyst.headers,
        )  # fmt: skip
        body = problem(response, 422)
        [error] = body["errors"]
        assert "EUR" in error["message"]
        assert "USD" in error["message"]
        taken = await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=card["id"]
        )
        assert taken["currency"] == "EUR"

    async def test_moving_a_record_moves_its_amount_between_balances(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        savings = await create_account(client, world.org_id, world.admin, name="Savings")
        record = await create_record(
            client, org_id=world.org_id, actor=world.analyst, amount="30.00", type="income"
        )
        main = record["account_id"]
        assert await balance_of(client, world.org_id, world.admin, main) == "30.00"
        moved = await client.patch(
            records_url(world.org_id, record["id"]),
            json={"account_id": savings["id"]},
            headers=world.analyst.headers,
        )
        assert moved.status_code == 200, moved.text
        assert await balance_of(client, world.org_id, world.admin, main) == "0.00"
        assert await balance_of(client, world.org_id, world.admin, savings["id"]) == "30.00"
        to_eur = await client.patch(
            records_url(world.org_id, record["id"]),
            json={"currency": "EUR"},
            headers=world.analyst.headers,
        )
        assert to_eur.status_code == 200, to_eur.text
        names = {a["id"]: a for a in await list_accounts(client, world.org_id, world.admin)}
        assert names[to_eur.json()["account_id"]]["name"] == "Main EUR"
        assert names[savings["id"]]["balance"] == "0.00"
        wrong = await client.patch(
            records_url(world.org_id, record["id"]),
            json={"account_id": savings["id"]},
            headers=world.analyst.headers,
        )
        problem(wrong, 422)


class TestBalances:
    @pytest.fixture
    async def account(self, client: httpx.AsyncClient, world: World) -> str:
        account = await create_account(
            client,
            world.org_id,
            world.admin,
            opening_balance="100.00",
            opening_date="2026-01-15",
        )
        for day, kind, amount in [
            ("2026-01-20", "income", "50.00"),
            ("2026-02-03", "expense", "20.25"),
            ("2026-02-28", "expense", "4.75"),
            ("2026-04-01", "income", "1.00"),
        ]:
            await create_record(
                client,
                org_id=world.org_id,
                actor=world.analyst,
                account_id=account["id"],
                date=day,
                type=kind,
                amount=amount,
            )
        account_id: str = account["id"]
        return account_id

    async def test_balance_at_a_date_counts_opening_and_records_on_or_before_it(
        self, client: httpx.AsyncClient, world: World, account: str
    ) -> None:
        for on, expected in [
            ("2026-01-14", "0.00"),
            ("2026-01-15", "100.00"),
            ("2026-01-20", "150.00"),
            ("2026-02-27", "129.75"),
            ("2026-03-31", "125.00"),
            ("2026-04-01", "126.00"),
        ]:
            assert await balance_of(client, world.org_id, world.viewer, account, on=on) == expected
        listed = await list_accounts(client, world.org_id, world.viewer, on="2026-02-28")
        assert {a["id"]: a["balance"] for a in listed}[account] == "125.00"

    async def test_an_account_and_its_balance_are_read_in_one_statement(
        self, client: httpx.AsyncClient, world: World, account: str, database: Database
    ) -> None:
        """So a balance never mixes an opening balance and changes read at two moments."""
        for url in (accounts_url(world.org_id), accounts_url(world.org_id, account)):
            with statements_counted(database) as statements:
                response = await client.get(url, headers=world.viewer.headers)
            assert response.status_code == 200
            work = [sql for sql in statements if sql not in TRANSACTION_CONTROL]
            assert len(work) == 2, f"the guard's and the answer's: {work}"

    async def test_deleted_records_leave_the_balance_and_restored_ones_return(
        self, client: httpx.AsyncClient, world: World, account: str
    ) -> None:
        record = await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=account, amount="9.00",
            date="2026-01-31",
        )  # fmt: skip
        url = records_url(world.org_id, record["id"])
        assert (await client.delete(url, headers=world.admin.headers)).status_code == 204
        assert await balance_of(client, world.org_id, world.admin, account) == "126.00"
        restored = await client.post(f"{url}/restore", headers=world.admin.headers)
        assert restored.status_code == 200
        assert await balance_of(client, world.org_id, world.admin, account) == "117.00"

    async def test_series_of_end_of_period_balances(
        self, client: httpx.AsyncClient, world: World, account: str
    ) -> None:
        url = f"{accounts_url(world.org_id, account)}/balances"
        monthly = await client.get(url, headers=world.viewer.headers)
        assert monthly.status_code == 200, monthly.text
        assert monthly.json() == [
            {"period": "2026-01", "balance": "150.00"},
            {"period": "2026-02", "balance": "125.00"},
            {"period": "2026-03", "balance": "125.00"},
            {"period": "2026-04", "balance": "126.00"},
        ]
        daily = await client.get(
            url,
            params={"granularity": "day", "date_from": "2026-02-27", "date_to": "2026-03-01"},
            headers=world.viewer.headers,
        )
        assert daily.json() == [
            {"period": "2026-02-27", "balance": "129.75"},
            {"period": "2026-02-28", "balance": "125.00"},
            {"period": "2026-03-01", "balance": "125.00"},
        ]
        weekly = await client.get(
            url,
            params={"granularity": "week", "date_from": "2026-01-10", "date_to": "2026-01-21"},
            headers=world.viewer.headers,
        )
        assert weekly.json() == [
            {"period": "2026-W02", "balance": "0.00"},
            {"period": "2026-W03", "balance": "100.00"},
            {"period": "2026-W04", "balance": "150.00"},
        ]
        too_long = await client.get(
            url,
            params={"granularity": "day", "date_from": "2000-01-01", "date_to": "2026-01-01"},
            headers=world.viewer.headers,
        )
        problem(too_long, 422)


class TestAccountFilter:
    async def test_record_list_and_export_take_repeatable_account_ids(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        first = await create_account(client, world.org_id, world.admin, name="First")
        second = await create_account(client, world.org_id, world.admin, name="Second")
        made = {}
        for account, amount in [(first, "1.00"), (second, "2.00"), (None, "3.00")]:
            fields = {"amount": amount} | ({"account_id": account["id"]} if account else {})
            made[amount] = await create_record(
                client, org_id=world.org_id, actor=world.analyst, **fields
            )
        one = await client.get(
            records_url(world.org_id),
            params={"account_id": first["id"], "include_total": "true"},
            headers=world.viewer.headers,
        )
        assert [r["amount"] for r in one.json()["items"]] == ["1.00"]
        both = await client.get(
            records_url(world.org_id),
            params=[("account_id", first["id"]), ("account_id", second["id"])],
            headers=world.viewer.headers,
        )
        assert sorted(r["amount"] for r in both.json()["items"]) == ["1.00", "2.00"]
        exported = await client.get(
            f"{records_url(world.org_id)}/export",
            params={"account_id": second["id"]},
            headers=world.analyst.headers,
        )
        assert exported.status_code == 200, exported.text
        assert made["2.00"]["id"] in exported.text
        assert made["1.00"]["id"] not in exported.text
        bad = await client.get(
            records_url(world.org_id), params={"account_id": "nope"}, headers=world.viewer.headers
        )
        problem(bad, 422)


class TestNetWorth:
    async def test_non_archived_balances_summed_per_currency_or_split_per_account(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        savings = await create_account(
            client, world.org_id, world.admin, name="Savings", opening_balance="10.00",
            opening_date="2026-02-01",
        )  # fmt: skip
        old = await create_account(client, world.org_id, world.admin, name="Old")
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=old["id"],
            type="income", amount="500", date="2026-01-05",
        )  # fmt: skip
        archived = await client.patch(
            accounts_url(world.org_id, old["id"]), json={"archived": True},
            headers=world.admin.headers,
        )  # fmt: skip
        assert archived.status_code == 200
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, type="income", amount="3.00",
            date="2026-01-20",
        )  # fmt: skip
        await create_record(
            client, org_id=world.org_id, actor=world.analyst, currency="EUR", amount="1.00",
            date="2026-03-03",
        )  # fmt: skip
        url = f"/orgs/{world.org_id}/dashboard/balances"
        response = await client.get(url, headers=world.viewer.headers)
        assert response.status_code == 200, response.text
        assert response.json() == [
            {"period": "2026-01", "currency": "EUR", "balance": "0.00"},
            {"period": "2026-01", "currency": "USD", "balance": "3.00"},
            {"period": "2026-02", "currency": "EUR", "balance": "0.00"},
            {"period": "2026-02", "currency": "USD", "balance": "13.00"},
            {"period": "2026-03", "currency": "EUR", "balance": "-1.00"},
            {"period": "2026-03", "currency": "USD", "balance": "13.00"},
        ]
        split = await client.get(
            url,
            params={"by": "account", "date_from": "2026-03-01", "date_to": "2026-03-31"},
            headers=world.viewer.headers,
        )
        names = {a["id"]: a["name"] for a in await list_accounts(client, world.org_id, world.admin)}
        assert [(names[p["account_id"]], p["balance"]) for p in split.json()] == [
            ("Main EUR", "-1.00"),
            ("Main USD", "3.00"),
            ("Savings", "10.00"),
        ]
        assert savings["id"] in names

    async def test_accounts_that_match_nothing_give_an_empty_series(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/dashboard/balances",
            params={"account_id": str(uuid.uuid4())},
            headers=world.viewer.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json() == []


class TestDashboardByAccount:
    async def test_every_dashboard_endpoint_takes_account_ids(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        card = await create_account(client, world.org_id, world.admin, name="Card")
        on_card = await create_record(
            client, org_id=world.org_id, actor=world.analyst, account_id=card["id"],
            amount="8.00", category="Fuel",
        )  # fmt: skip
        await create_record(client, org_id=world.org_id, actor=world.analyst, amount="5.00")
        dashboard = f"/orgs/{world.org_id}/dashboard"
        only_card = {"account_id": card["id"]}

        async def get(endpoint: str, **params: str) -> Any:
            response = await client.get(
                f"{dashboard}/{endpoint}", params=params, headers=world.analyst.headers
            )
            assert response.status_code == 200, response.text
            return response.json()

        assert (await get("summary", **only_card))["total_expense"] == "8.00"
        assert (await get("summary"))["total_expense"] == "13.00"
        assert [c["category"] for c in await get("categories", **only_card)] == ["Fuel"]
        assert [t["expense"] for t in await get("trends", **only_card)] == ["8.00"]
        assert [r["id"] for r in await get("recent", **only_card)] == [on_card["id"]]
        insights = await get("insights", **only_card)
        assert [r["id"] for r in insights["largest_records"]] == [on_card["id"]]
        worth = await get("balances", **only_card)
        assert [(p["currency"], p["balance"]) for p in worth] == [("USD", "-8.00")]
