"""Helpers of the statement import tests: posting a file to an account, reading its records."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.accounts.helpers import create_account
from tests.factories import Actor, World

Json = dict[str, Any]

US = {
    "date_column": "Date",
    "date_format": "MM/DD/YYYY",
    "amount_column": "Amount",
    "description_columns": ["Description"],
}
UK = {
    "date_column": "Date",
    "date_format": "DD/MM/YYYY",
    "debit_column": "Paid out",
    "credit_column": "Paid in",
    "thousands_separator": ",",
    "description_columns": ["Description"],
}
GERMAN = {
    "delimiter": ";",
    "encoding": "cp1252",
    "skip_rows": 3,
    "date_column": "Buchungstag",
    "date_format": "DD.MM.YYYY",
    "amount_column": "Betrag",
    "decimal_separator": ",",
    "thousands_separator": ".",
    "description_columns": ["Empfänger", "Verwendungszweck"],
    "currency_column": "Währung",
}
DUTCH = {
    "delimiter": "\t",
    "date_column": "Datum",
    "date_format": "YYYYMMDD",
    "amount_column": "Bedrag (EUR)",
    "direction_column": "Af Bij",
    "debit_values": ["Af"],
    "decimal_separator": ",",
    "description_columns": ["Naam / Omschrijving", "Mededelingen"],
}


def statements_url(org_id: uuid.UUID, account_id: str | uuid.UUID) -> str:
    return f"/orgs/{org_id}/accounts/{account_id}/statements"


async def account(
    client: httpx.AsyncClient, world: World, currency: str = "USD", name: str | None = None
) -> str:
    created = await create_account(
        client,
        world.org_id,
        world.admin,
        name=name or f"Bank {currency} {uuid.uuid4().hex[:6]}",
        currency=currency,
    )
    account_id: str = created["id"]
    return account_id


async def post_statement(
    client: httpx.AsyncClient,
    org_id: uuid.UUID,
    account_id: str,
    actor: Actor,
    content: bytes,
    *,
    mapping: Json | None = None,
    filename: str = "statement",
    dry_run: bool | None = None,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:
    data: dict[str, str] = dict(fields)
    if mapping is not None:
        data["mapping"] = json.dumps(mapping)
    params = {} if dry_run is None else {"dry_run": str(dry_run).lower()}
    return await client.post(
        statements_url(org_id, account_id),
        files={"file": (filename, content, "application/octet-stream")},
        data=data,
        params=params,
        headers={**actor.headers, **(headers or {})},
    )


async def statement_imported(
    client: httpx.AsyncClient,
    world: World,
    account_id: str,
    content: bytes,
    **kwargs: Any,
) -> Json:
    response = await post_statement(
        client, world.org_id, account_id, world.analyst, content, **kwargs
    )
    assert response.status_code == 200, response.text
    report: Json = response.json()
    assert report["errors"] == []
    return report


async def account_records(client: httpx.AsyncClient, world: World, account_id: str) -> list[Json]:
    """The account's records, oldest first (ties by id), every page."""
    items: list[Json] = []
    params: dict[str, str] = {"account_id": account_id, "sort": "date", "limit": "200"}
    while True:
        response = await client.get(
            f"/orgs/{world.org_id}/records", params=params, headers=world.admin.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


async def add_rule(
    client: httpx.AsyncClient,
    world: World,
    match: str,
    pattern: str,
    category: str,
    org_id: uuid.UUID | None = None,
) -> None:
    """Append a category rule to the org's list, through the API."""
    response = await client.post(
        f"/orgs/{org_id or world.org_id}/category-rules",
        json={"match": match, "pattern": pattern, "category": category},
        headers=world.analyst.headers,
    )
    assert response.status_code == 201, response.text


async def add_profile(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, name: str, mapping: Json
) -> str:
    """An import profile of the org holding ``mapping``, through the API; its id."""
    response = await client.post(
        f"/orgs/{org_id}/import-profiles",
        json={"name": name, "mapping": mapping},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    profile_id: str = response.json()["id"]
    return profile_id
