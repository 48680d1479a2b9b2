"""Helpers the import, export and command-line tests share."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.imports_exports import bulk
from tests.factories import Actor

Json = dict[str, Any]
HEADER = "date,type,category,amount,notes,currency,external_id"
RECORD_FIELDS = ("amount", "currency", "type", "category", "date", "notes")
DASHBOARD_QUERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("recent", {"limit": "50"}),
    ("summary", {}),
    ("summary", {"date_from": "2025-01-01", "date_to": "2025-06-30"}),
    ("categories", {}),
    ("categories", {"type": "expense"}),
    ("trends", {}),
    ("trends", {"granularity": "week"}),
    ("trends", {"granularity": "day", "date_from": "2025-03-01", "date_to": "2025-03-31"}),
    ("insights", {}),
    ("insights", {"currency": "EUR"}),
)


def import_url(org_id: uuid.UUID) -> str:
    return f"/orgs/{org_id}/records/import"


def export_url(org_id: uuid.UUID) -> str:
    return f"/orgs/{org_id}/records/export"


def csv_bytes(*lines: str, newline: str = "\n", bom: bool = False) -> bytes:
    text = newline.join(lines) + newline
    return ("\ufeff" if bom else "").encode() + text.encode()


async def upload(
    client: httpx.AsyncClient,
    org_id: uuid.UUID,
    actor: Actor,
    content: bytes,
    *,
    dry_run: bool | None = None,
    filename: str = "records.csv",
) -> httpx.Response:
    params = {} if dry_run is None else {"dry_run": str(dry_run).lower()}
    return await client.post(
        import_url(org_id),
        files={"file": (filename, content, "text/csv")},
        params=params,
        headers=actor.headers,
    )


async def imported(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, content: bytes
) -> Json:
    """Import ``content`` and assert it succeeded; the report."""
    response = await upload(client, org_id, actor, content)
    assert response.status_code == 200, response.text
    report: Json = response.json()
    assert report["errors"] == []
    return report


async def dashboard(client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    """Every dashboard figure that depends only on the records' content, keyed by request."""
    figures: dict[str, Any] = {}
    for endpoint, params in DASHBOARD_QUERIES:
        response = await client.get(
            f"/orgs/{org_id}/dashboard/{endpoint}", params=params, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        figures[f"{endpoint}?{sorted(params.items())}"] = _without_identity(response.json())
    return figures


_IDENTITY_KEYS = frozenset(
    {
        "id",
        "org_id",
        "account_id",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "version",
    }
)


def _without_identity(value: Any) -> Any:
    """Drop what differs between two orgs holding the same records (ids, timestamps)."""
    if isinstance(value, dict):
        return {k: _without_identity(v) for k, v in value.items() if k not in _IDENTITY_KEYS}
    if isinstance(value, list):
        return [_without_identity(item) for item in value]
    return value


def content_multiset(records: list[Json]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(record[field] for field in RECORD_FIELDS) for record in records)


def read_csv(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def spy_on_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch sizes the import hands to the database, recorded on their way through."""
    writes: list[int] = []
    insert_records = bulk.insert_records

    async def recording(session: AsyncSession, records: list[tuple[Any, ...]]) -> None:
        writes.append(len(records))
        await insert_records(session, records)

    monkeypatch.setattr(bulk, "insert_records", recording)
    return writes
