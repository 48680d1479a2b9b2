"""Export, then import the file as a bank's CSV through a mapping into another account: the
records come back with the same dates, amounts, types, notes and categories."""

from __future__ import annotations

import datetime as dt
import string
import uuid
from collections import Counter

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.accounts.helpers import create_account
from tests.factories import Actor, make_org, make_user
from tests.imports_exports.statement_helpers import Json, post_statement
from tests.records.helpers import create_record

EXPORT_MAPPING: Json = {
    "date_column": "date",
    "date_format": "YYYY-MM-DD",
    "amount_column": "amount",
    "direction_column": "type",
    "debit_values": ["expense"],
    "description_columns": ["notes"],
    "category_column": "category",
}
WORD = st.text(
    alphabet=string.ascii_letters + string.digits + "äöüéß&,.'\"/", min_size=1, max_size=8
)
NOTES = st.none() | st.lists(WORD, min_size=1, max_size=4).map(" ".join).filter(
    lambda text: text[0].isalnum()
)
"""Notes as a bank's description reads back: single spaces, no formula start (an export
escapes those, and a bank's CSV is read as written)."""
RECORD = st.tuples(
    st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)),
    st.integers(1, 10**11),
    st.sampled_from(["income", "expense"]),
    NOTES,
    st.sampled_from(["Food", "Rent", "Café"]),
)


def shape(records: list[Json]) -> Counter[tuple[object, ...]]:
    return Counter((r["date"], r["amount"], r["type"], r["notes"], r["category"]) for r in records)


async def account_items(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, account_id: str
) -> list[Json]:
    response = await client.get(
        f"/orgs/{org_id}/records",
        params={"account_id": account_id, "limit": "200"},
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(RECORD, min_size=1, max_size=12))
async def test_an_export_imports_into_another_account_unchanged(
    app: FastAPI,
    client: httpx.AsyncClient,
    rows: list[tuple[dt.date, int, str, str | None, str]],
) -> None:
    owner = await make_user(app)
    org_id = await make_org(app, owner=owner)
    source = (await create_account(client, org_id, owner, name="Source"))["id"]
    target = (await create_account(client, org_id, owner, name="Target"))["id"]
    for day, cents, kind, notes, category in rows:
        await create_record(
            client,
            org_id=org_id,
            actor=owner,
            date=day.isoformat(),
            amount=f"{cents // 100}.{cents % 100:02d}",
            type=kind,
            notes=notes,
            category=category,
            account_id=source,
        )
    exported = await client.get(
        f"/orgs/{org_id}/records/export", params={"account_id": source}, headers=owner.headers
    )
    assert exported.status_code == 200, exported.text

    response = await post_statement(
        client, org_id, target, owner, exported.content, mapping=EXPORT_MAPPING
    )

    assert response.status_code == 200, response.text
    assert response.json()["created"] == len(rows)
    before = await account_items(client, org_id, owner, source)
    after = await account_items(client, org_id, owner, target)
    assert shape(after) == shape(before)
