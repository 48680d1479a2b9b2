"""Imports into one org at the same time: each record is created once, whichever import wins.

The uploads really overlap: each request has its own session and connection, so on PostgreSQL
their transactions run side by side (and, unserialised, neither sees the other's rows); on SQLite
the writers queue on the database's write lock."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.dashboard import aggregates
from tests.factories import World
from tests.imports_exports.helpers import csv_bytes, upload
from tests.records.helpers import audit_log, record_total

UPLOADS = 4
ROWS = 300


def statement_without_external_ids() -> bytes:
    rows = [
        f"2025-{1 + n % 12:02d}-{1 + n % 28:02d},expense,Cat {n % 7},{n + 1}.25,row {n}"
        for n in range(ROWS)
    ]
    return csv_bytes("date,type,category,amount,notes", *rows)


async def drift(app: FastAPI, org_id: uuid.UUID) -> list[aggregates.Drift]:
    database: Database = app.state.database
    async with database.sessions() as session:
        return await aggregates.find_drift(session, org_id)


class TestConcurrentImports:
    async def test_the_same_file_uploaded_at_once_creates_each_record_once(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        content = statement_without_external_ids()

        responses = await asyncio.gather(
            *(upload(client, world.org_id, world.analyst, content) for _ in range(UPLOADS))
        )

        assert [response.status_code for response in responses] == [200] * UPLOADS
        reports = sorted(
            ((r.json()["created"], r.json()["duplicates"]) for r in responses), reverse=True
        )
        assert reports == [(ROWS, 0)] + [(0, ROWS)] * (UPLOADS - 1)
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == ROWS
        imports = [
            entry
            for entry in await audit_log(client, org_id=world.org_id, admin=world.admin)
            if entry["action"] == "records.imported"
        ]
        assert len(imports) == 1
        assert await drift(app, world.org_id) == []

    async def test_the_same_file_into_two_orgs_at_once_is_created_in_each(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = statement_without_external_ids()

        mine, theirs = await asyncio.gather(
            upload(client, world.org_id, world.admin, content),
            upload(client, world.outsider_org_id, world.outsider, content),
        )

        assert (mine.json()["created"], theirs.json()["created"]) == (ROWS, ROWS)
