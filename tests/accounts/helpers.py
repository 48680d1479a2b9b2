"""Helpers the account tests share."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.factories import Actor

Json = dict[str, Any]


def accounts_url(org_id: uuid.UUID, account_id: str | uuid.UUID | None = None) -> str:
    base = f"/orgs/{org_id}/accounts"
    return base if account_id is None else f"{base}/{account_id}"


async def create_account(
    client: httpx.AsyncClient, org_id: uuid.UUID, admin: Actor, **fields: object
) -> Json:
    body: Json = {"name": "Checking", "kind": "checking"}
    body.update(fields)
    response = await client.post(accounts_url(org_id), json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


async def list_accounts(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, **params: str
) -> list[Json]:
    response = await client.get(accounts_url(org_id), params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    accounts: list[Json] = response.json()
    return accounts


async def balance_of(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, account_id: str, **params: str
) -> str:
    response = await client.get(
        accounts_url(org_id, account_id), params=params, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    balance: str = response.json()["balance"]
    return balance
