"""Helpers the record and audit tests share: request bodies, creating records, walking pages."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from ledgerline.accounts import service as accounts_service
from ledgerline.core.db import Database
from ledgerline.core.text import fold_key
from ledgerline.dashboard import aggregates
from ledgerline.orgs.models import Org
from ledgerline.records import queries as record_queries
from ledgerline.records import service as records_service
from ledgerline.records.models import Category, Record
from ledgerline.records.schemas import RecordCreate
from tests.factories import Actor

Json = dict[str, Any]


def record_body(**overrides: object) -> Json:
    """A valid create body; keyword arguments replace or add fields."""
    body: Json = {"amount": "12.50", "type": "expense", "category": "Food", "date": "2026-03-01"}
    body.update(overrides)
    return body


def records_url(org_id: uuid.UUID, record_id: str | uuid.UUID | None = None) -> str:
    base = f"/orgs/{org_id}/records"
    return base if record_id is None else f"{base}/{record_id}"


async def create_record(
    client: httpx.AsyncClient, *, org_id: uuid.UUID, actor: Actor, **fields: object
) -> Json:
    """Create a record through the API (201 asserted); the record as answered."""
    response = await client.post(
        records_url(org_id), json=record_body(**fields), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


async def seed_records(
    app: FastAPI, *, org_id: uuid.UUID, actor: Actor, bodies: list[Json]
) -> list[Json]:
    """Insert many records in one flush, as ``actor``, and rebuild the org's aggregates; the
    records as the API shows them. Fast, but writes no audit entries: for tests about reading."""
    database: Database = app.state.database
    async with database.sessions() as session:
        org = await session.get_one(Org, org_id)
        categories: dict[str, Category] = {}
        records: list[Record] = []
        for body in bodies:
            data = RecordCreate.model_validate(body)
            key = fold_key(data.category)
            if key not in categories:
                categories[key] = await records_service.category_for(session, org_id, data.category)
            category = categories[key]
            currency = data.currency or org.currency
            account = await accounts_service.default_account(session, org_id, currency)
            amount_minor = records_service.minor_amount(data.amount, currency)
            records.append(
                Record(
                    org_id=org_id,
                    account_id=data.account_id or account.id,
                    amount_minor=amount_minor,
                    amount_scaled=records_service.scaled_amount(amount_minor, currency),
                    currency=currency,
                    type=data.type.value,
                    category_id=category.id,
                    date=data.date,
                    notes=data.notes,
                    search_key=records_service.search_key(category.name, data.notes),
                    created_by=actor.user_id,
                    updated_by=actor.user_id,
                )
            )
        session.add_all(records)
        await session.flush()
        await aggregates.rebuild(session, org_id)
        await session.commit()
    names = {category.id: category.name for category in categories.values()}
    return [
        record_queries.to_read(record, names[record.category_id]).model_dump(mode="json")
        for record in records
    ]


async def get_record(
    client: httpx.AsyncClient, *, org_id: uuid.UUID, actor: Actor, record_id: str
) -> httpx.Response:
    return await client.get(records_url(org_id, record_id), headers=actor.headers)


async def walk_records(
    client: httpx.AsyncClient,
    *,
    org_id: uuid.UUID,
    actor: Actor,
    params: dict[str, Any] | list[tuple[str, Any]] | None = None,
    limit: int = 200,
) -> list[Json]:
    """Every record a listing returns, following ``next_cursor`` to the end."""
    base = list(params.items()) if isinstance(params, dict) else list(params or [])
    base.append(("limit", limit))
    items: list[Json] = []
    cursor: str | None = None
    while True:
        query = [*base, ("cursor", cursor)] if cursor else base
        response = await client.get(records_url(org_id), params=query, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def record_total(client: httpx.AsyncClient, *, org_id: uuid.UUID, actor: Actor) -> int:
    """The org's number of live records, as ``include_total`` reports it."""
    response = await client.get(
        records_url(org_id), params={"include_total": "true", "limit": 1}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def audit_log(
    client: httpx.AsyncClient, *, org_id: uuid.UUID, admin: Actor, **params: Any
) -> list[Json]:
    """The org's audit entries through the API, newest first, every page."""
    entries: list[Json] = []
    query: dict[str, Any] = {"limit": 200, **params}
    while True:
        response = await client.get(f"/orgs/{org_id}/audit", params=query, headers=admin.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        entries.extend(page["items"])
        if page["next_cursor"] is None:
            return entries
        query["cursor"] = page["next_cursor"]


def tampered(cursor: str, position: list[Any]) -> str:
    """``cursor`` moved to another position but still bound to its query: what a client could
    forge, since the binding is a plain hash of the query."""
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["p"] = position
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
