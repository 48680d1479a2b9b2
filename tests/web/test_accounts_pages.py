"""The accounts page in-process, on both databases: balances for every member, the forms each
role may use and nothing more, and each form doing what the API's service does."""

from __future__ import annotations

import datetime as dt
import json
import re

import httpx
from fastapi import FastAPI

from tests.conftest import api_client
from tests.factories import World
from tests.web.helpers import csrf_of, signed_in


def accounts_url(world: World) -> str:
    return f"/orgs/{world.org_id}/accounts"


async def post(client: httpx.AsyncClient, world: World, path: str, **fields: str) -> httpx.Response:
    token = csrf_of(await client.get(accounts_url(world)))
    return await client.post(f"/orgs/{world.org_id}/{path}", data={"csrf_token": token, **fields})


async def account_ids(app: FastAPI, world: World) -> dict[str, str]:
    async with api_client(app) as api:
        listed = await api.get(
            f"/orgs/{world.org_id}/accounts",
            params={"include_archived": "true"},
            headers=world.admin.headers,
        )
    assert listed.status_code == 200
    return {a["name"]: a["id"] for a in listed.json()}


def balance_row(page: httpx.Response, name: str) -> str:
    match = re.search(rf"<tr>\s*<th scope=\"row\">(?:<a [^>]*>)?{name}.*?</tr>", page.text, re.S)
    assert match is not None, f"no row for {name}"
    return match.group(0)


async def test_admin_creates_analyst_transfers_and_reconciles(app: FastAPI, world: World) -> None:
    today = dt.date.today().isoformat()
    async with signed_in(app, world.admin.email) as admin:
        for name, kind, opening in (("Checking", "checking", "100"), ("Savings", "savings", "0")):
            created = await post(
                admin, world, "accounts", name=name, kind=kind, opening_balance=opening
            )
            assert created.status_code == 303, created.text
    ids = await account_ids(app, world)
    async with signed_in(app, world.analyst.email) as analyst:
        page = await analyst.get(accounts_url(world))
        assert "Create account" not in page.text
        assert "Rename" not in page.text
        moved = await post(
            analyst,
            world,
            "transfers",
            from_account_id=ids["Checking"],
            to_account_id=ids["Savings"],
            amount="30.00",
            date=today,
            notes="to savings",
        )
        assert moved.status_code == 303, moved.text
        page = await analyst.get(accounts_url(world))
        assert "$70.00" in balance_row(page, "Checking")
        assert "$30.00" in balance_row(page, "Savings")
        differs = await post(
            analyst,
            world,
            "reconcile",
            account_id=ids["Savings"],
            statement_date=today,
            statement_balance="25.00",
            lock="on",
        )
        assert differs.status_code == 200
        assert "The balances differ by -$5.00" in differs.text
        assert "No period is closed." in differs.text
        matches = await post(
            analyst,
            world,
            "reconcile",
            account_id=ids["Savings"],
            statement_date=today,
            statement_balance="30.00",
            lock="on",
        )
        assert "The balances match." in matches.text
        assert "The account is closed through" in matches.text
    async with api_client(app) as api:
        savings = await api.get(
            f"/orgs/{world.org_id}/accounts/{ids['Savings']}", headers=world.viewer.headers
        )
    assert savings.json()["reconciled_through"] == today


async def test_a_viewer_sees_balances_but_no_forms_and_a_forged_post_is_403(
    app: FastAPI, world: World
) -> None:
    async with signed_in(app, world.admin.email) as admin:
        await post(admin, world, "accounts", name="Wallet", kind="cash", opening_balance="12.5")
    ids = await account_ids(app, world)
    async with signed_in(app, world.viewer.email) as viewer:
        page = await viewer.get(accounts_url(world))
        assert page.status_code == 200
        assert "$12.50" in balance_row(page, "Wallet")
        assert ">Accounts</a>" in page.text
        for action in ("Create account", "Transfer", "Reconcile", "Rename", "Archive", "Delete"):
            assert f">{action}<" not in page.text, action
        token = csrf_of(page)
        for path, fields in (
            ("accounts", {"name": "Forged"}),
            (f"accounts/{ids['Wallet']}/delete", {}),
            ("transfers", {}),
            ("reconcile", {}),
        ):
            forged = await viewer.post(
                f"/orgs/{world.org_id}/{path}", data={"csrf_token": token, **fields}
            )
            assert forged.status_code == 403, path
    assert set(await account_ids(app, world)) >= {"Wallet"}


async def test_field_errors_show_beside_their_fields(app: FastAPI, world: World) -> None:
    async with signed_in(app, world.admin.email) as admin:
        blank = await post(admin, world, "accounts", name=" ")
        assert blank.status_code == 422
        assert 'id="create-name-error"' in blank.text
        cents = await post(admin, world, "accounts", name="Jar", opening_balance="1.234")
        assert cents.status_code == 422
        assert 'id="create-opening_balance-error"' in cents.text
        assert 'value="1.234"' in cents.text
        await post(admin, world, "accounts", name="Cash box", kind="cash")
        twice = await post(admin, world, "accounts", name="cash BOX")
        assert twice.status_code == 409
        assert "an account named &#39;cash BOX&#39; already exists" in twice.text
        ids = await account_ids(app, world)
        same = await post(
            admin,
            world,
            "transfers",
            from_account_id=ids["Cash box"],
            to_account_id=ids["Cash box"],
            amount="-3",
            date="2026-01-02",
        )
        assert same.status_code == 422
        assert 'id="transfer-amount-error"' in same.text
        assert 'aria-invalid="true" aria-describedby="transfer-amount-error"' in same.text


async def test_admin_renames_archives_and_deletes(app: FastAPI, world: World) -> None:
    async with signed_in(app, world.admin.email) as admin:
        await post(admin, world, "accounts", name="Old card", kind="credit_card")
        await post(admin, world, "accounts", name="Spare")
        ids = await account_ids(app, world)
        renamed = await post(admin, world, f"accounts/{ids['Old card']}/rename", name="Card")
        assert renamed.status_code == 303
        async with api_client(app) as api:
            used = await api.post(
                f"/orgs/{world.org_id}/records",
                json={
                    "amount": "9",
                    "type": "expense",
                    "category": "Fuel",
                    "date": "2026-01-02",
                    "account_id": ids["Old card"],
                },
                headers=world.admin.headers,
            )
            assert used.status_code == 201, used.text
        kept = await post(admin, world, f"accounts/{ids['Old card']}/delete")
        assert kept.status_code == 409
        assert "has records; archive it instead" in kept.text
        archived = await post(admin, world, f"accounts/{ids['Old card']}/archive", archived="true")
        assert archived.status_code == 303
        page = await admin.get(accounts_url(world))
        archived_part = page.text.split('id="archived-title"', 1)[1]
        assert "Card" in archived_part
        assert "Unarchive" in archived_part
        gone = await post(admin, world, f"accounts/{ids['Spare']}/delete")
        assert gone.status_code == 303
    assert "Spare" not in await account_ids(app, world)
    assert "Card" in await account_ids(app, world)


async def test_the_records_page_filters_by_account(app: FastAPI, world: World) -> None:
    async with signed_in(app, world.admin.email) as admin:
        await post(admin, world, "accounts", name="Card")
    ids = await account_ids(app, world)
    async with api_client(app) as api:
        for notes, account in (("on card", "Card"), ("in main", "Main USD")):
            created = await api.post(
                f"/orgs/{world.org_id}/records",
                json={
                    "amount": "4",
                    "type": "expense",
                    "category": "Snacks",
                    "date": "2026-01-02",
                    "notes": notes,
                    "account_id": ids[account],
                },
                headers=world.admin.headers,
            )
            assert created.status_code == 201, created.text
    async with signed_in(app, world.viewer.email) as viewer:
        everything = await viewer.get(f"/orgs/{world.org_id}/records")
        assert '<label for="f-account">Accounts</label>' in everything.text
        card = await viewer.get(f"/orgs/{world.org_id}/records?account_id={ids['Card']}")
        assert "on card" in card.text
        assert "in main" not in card.text
        assert f'<option value="{ids["Card"]}" selected>Card</option>' in card.text
        linked = await viewer.get(accounts_url(world))
        assert f'href="/orgs/{world.org_id}/records?account_id={ids["Card"]}"' in linked.text


async def test_the_dashboard_shows_balances_and_net_worth_as_the_api_does(
    app: FastAPI, world: World
) -> None:
    async with signed_in(app, world.admin.email) as admin:
        await post(admin, world, "accounts", name="Reserve", kind="savings", opening_balance="500")
    ids = await account_ids(app, world)
    period = {"date_from": "2026-01-01", "date_to": "2026-03-31"}
    async with api_client(app) as api:
        for day, amount, kind in (
            ("2026-01-10", "120.00", "income"),
            ("2026-02-03", "45.5", "expense"),
        ):
            created = await api.post(
                f"/orgs/{world.org_id}/records",
                json={"amount": amount, "type": kind, "category": "X", "date": day},
                headers=world.admin.headers,
            )
            assert created.status_code == 201
        moved = await api.post(
            f"/orgs/{world.org_id}/transfers",
            json={
                "from_account_id": ids["Reserve"],
                "to_account_id": ids["Main USD"],
                "amount": "100",
                "date": "2026-03-01",
            },
            headers=world.admin.headers,
        )
        assert moved.status_code == 201, moved.text
        worth = await api.get(
            f"/orgs/{world.org_id}/dashboard/balances",
            params={**period, "granularity": "month"},
            headers=world.viewer.headers,
        )
        by_account = await api.get(
            f"/orgs/{world.org_id}/dashboard/balances",
            params={**period, "granularity": "month", "by": "account"},
            headers=world.viewer.headers,
        )
    assert worth.status_code == by_account.status_code == 200
    async with signed_in(app, world.viewer.email) as viewer:
        page = await viewer.get(
            f"/orgs/{world.org_id}/dashboard", params={"period": "custom", **period}
        )
    assert "Account balances and net worth by month (USD)" in page.text
    table = page.text.split('id="balances-title"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r'<th scope="col" class="num">([^<]*)</th>', table)
    assert heads == ["Main USD", "Reserve", "Net worth"]
    names = {ids["Main USD"]: 0, ids["Reserve"]: 1}
    for point in worth.json():
        row = re.search(rf"<tr><th scope=\"row\">{point['period']}</th>(.*?)</tr>", table)
        assert row is not None, point["period"]
        cells = re.findall(r"<td class=\"num\"[^>]*>([^<]*)</td>", row.group(1))
        assert cells[-1] == f"${float(point['balance']):,.2f}".replace("$-", "-$")
        for each in by_account.json():
            if each["period"] == point["period"]:
                expected = f"${float(each['balance']):,.2f}".replace("$-", "-$")
                assert cells[names[each["account_id"]]] == expected
    march = next(p for p in worth.json() if p["period"] == "2026-03")
    assert march["balance"] == "574.50"
    data = json.loads(page.text.split('id="chart-data">', 1)[1].split("</script>", 1)[0])
    assert data["balances"]["periods"] == ["2026-01", "2026-02", "2026-03"]
    assert data["balances"]["net_worth"][-1] == "574.50"
    assert [a["name"] for a in data["balances"]["accounts"]] == ["Main USD", "Reserve"]
