"""The CSV import's ``account`` column and ``account_id`` parameter, and the export's
``account`` column."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import FastAPI

from tests.accounts.helpers import balance_of, create_account, list_accounts
from tests.factories import World, make_org
from tests.imports_exports.helpers import import_url, upload
from tests.records.helpers import walk_records


async def test_rows_go_to_the_named_account_the_file_account_or_the_default(
    client: httpx.AsyncClient, world: World
) -> None:
    card = await create_account(client, world.org_id, world.admin, name="Card")
    euros = await create_account(client, world.org_id, world.admin, name="Euros", currency="EUR")
    content = (
        b"date,type,category,amount,currency,account\n"
        b"2026-01-02,expense,Food,1.00,,card\n"
        b"2026-01-03,expense,Food,2.00,EUR,\n"
        b"2026-01-04,expense,Food,4.00,,\n"
    )
    response = await upload(client, world.org_id, world.analyst, content)
    assert response.status_code == 200, response.text
    names = {a["name"]: a for a in await list_accounts(client, world.org_id, world.admin)}
    assert names["Card"]["balance"] == "-1.00"
    assert names["Main EUR"]["balance"] == "-2.00"
    assert names["Main USD"]["balance"] == "-4.00"
    into_euros = await client.post(
        import_url(world.org_id),
        params={"account_id": euros["id"]},
        files={"file": ("e.csv", b"date,type,category,amount\n2026-01-05,income,Pay,7\n")},
        headers=world.analyst.headers,
    )
    assert into_euros.status_code == 200, into_euros.text
    assert await balance_of(client, world.org_id, world.admin, euros["id"]) == "7.00"
    assert names["Card"]["id"] == card["id"]


async def test_unknown_names_and_other_currencies_are_row_errors(
    client: httpx.AsyncClient, world: World
) -> None:
    await create_account(client, world.org_id, world.admin, name="Euros", currency="EUR")
    content = (
        b"date,type,category,amount,account\n"
        b"2026-01-02,expense,Food,1.00,Nowhere\n"
        b"2026-01-03,expense,Food,2.00,Euros\n"
        b"2026-01-04,expense,Food,4.00,Main USD\n"
    )
    response = await upload(client, world.org_id, world.analyst, content)
    assert response.status_code == 422, response.text
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [
        (2, "account"),
        (3, "account"),
    ]
    assert await walk_records(client, org_id=world.org_id, actor=world.admin) == []


async def test_the_export_names_accounts_and_reimports_into_another_org(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    content = (
        b"date,type,category,amount,currency,external_id\n"
        b"2026-01-02,expense,Food,1.00,JPY,bank-1\n"
        b"2026-01-03,income,Pay,2.00,USD,\n"
    )
    assert (await upload(client, world.org_id, world.analyst, content)).status_code == 200
    exported = await client.get(
        f"/orgs/{world.org_id}/records/export", headers=world.analyst.headers
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["account"], r["external_id"]) for r in rows} == {
        ("Main JPY", "bank-1"),
        ("Main USD", ""),
    }
    copy = await make_org(app, owner=world.admin, name="Copy")
    again = await upload(client, copy, world.admin, exported.content)
    assert again.status_code == 200, again.text
    assert again.json()["created"] == 2
    names = {a["name"]: a["balance"] for a in await list_accounts(client, copy, world.admin)}
    assert names == {"Main JPY": "-1", "Main USD": "2.00"}
