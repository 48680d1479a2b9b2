"""CSV export: the columns and quoting a spreadsheet reads back, the list's filters, the guard
against formula injection, and the round trip (export, import into another org: same records,
same dashboard figures)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import OrgRead
from ledgerline.records.schemas import RecordFilters
from tests.factories import Actor, World, make_org, problem
from tests.imports_exports.helpers import (
    content_multiset,
    csv_bytes,
    dashboard,
    export_url,
    imported,
    read_csv,
)
from tests.records.helpers import walk_records

Json = dict[str, Any]
COLUMNS = ["id", "date", "type", "category", "amount", "currency", "account", "notes"]
COLUMNS += ["external_id", "created_at", "updated_at"]
VARIED: list[Json] = [
    {"amount": "5200.00", "type": "income", "category": "Salary", "date": "2025-01-31"},
    {
        "amount": "1850",
        "type": "expense",
        "category": "Rent",
        "date": "2025-01-03",
        "notes": 'Rent, January; "office"',
    },
    {
        "amount": "84.17",
        "currency": "EUR",
        "type": "expense",
        "category": "Groceries",
        "date": "2025-02-14",
        "notes": "line one\nline two\n\nline four",
    },
    {
        "amount": "12000",
        "currency": "JPY",
        "type": "expense",
        "category": "Travel",
        "date": "2025-03-01",
    },
    {
        "amount": "1.234",
        "currency": "KWD",
        "type": "income",
        "category": "Consulting",
        "date": "2025-03-02",
        "notes": '=HYPERLINK("http://example.com","x")',
    },
    {
        "amount": "99.99",
        "type": "expense",
        "category": "=cmd|' /C calc'!A0",
        "date": "2025-03-03",
        "notes": "+1 555 0100",
    },
    {
        "amount": "10.00",
        "type": "expense",
        "category": "@Team",
        "date": "2025-03-04",
        "notes": "-5%",
    },
    {
        "amount": "3.20",
        "type": "expense",
        "category": "Coffee",
        "date": "2025-03-05",
        "notes": "\tTab",
    },
    {
        "amount": "3.20",
        "type": "expense",
        "category": "coffee",
        "date": "2025-03-05",
        "notes": "\tTab",
    },
    {
        "amount": "7.77",
        "type": "expense",
        "category": "-Misc",
        "date": "2024-12-31",
        "notes": "'=already quoted",
    },
    {
        "amount": "0.01",
        "type": "income",
        "category": "Interest",
        "date": "2024-06-30",
        "notes": "  spaced  ",
    },
    {
        "amount": "999999999999.99",
        "type": "income",
        "category": "Windfall",
        "date": "2023-01-01",
        "notes": "ünïcödé — “quotes”; semicolon, comma",
    },
    {
        "amount": "250.00",
        "currency": "EUR",
        "type": "income",
        "category": "Refunds",
        "date": "2025-02-20",
    },
]
FORMULA_CATEGORIES = {"=cmd|' /C calc'!A0", "@Team", "-Misc"}


async def create(client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, body: Json) -> Json:
    response = await client.post(f"/orgs/{org_id}/records", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


async def varied_org(client: httpx.AsyncClient, world: World) -> list[Json]:
    """VARIED in the world's org, plus one deleted record; the live records."""
    records = [await create(client, world.org_id, world.analyst, body) for body in VARIED]
    doomed = await create(
        client,
        world.org_id,
        world.analyst,
        {"amount": "42.00", "type": "expense", "category": "Deleted", "date": "2025-03-10"},
    )
    deleted = await client.delete(
        f"/orgs/{world.org_id}/records/{doomed['id']}", headers=world.admin.headers
    )
    assert deleted.status_code == 204
    return records


async def export(
    client: httpx.AsyncClient,
    org_id: uuid.UUID,
    actor: Actor,
    params: list[tuple[str, str]] | None = None,
) -> httpx.Response:
    return await client.get(export_url(org_id), params=params or [], headers=actor.headers)


class TestCsvShape:
    async def test_the_export_is_csv_that_reads_back_to_the_records(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        records = await varied_org(client, world)

        response = await export(client, world.org_id, world.analyst)

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["content-disposition"]
        assert (
            response.content.splitlines()[0]
            == b"id,date,type,category,amount,currency,account,notes,external_id,created_at,"
            b"updated_at"
        )
        rows = read_csv(response.content)
        assert list(rows[0]) == COLUMNS
        by_id = {row["id"]: row for row in rows}
        assert set(by_id) == {r["id"] for r in records}
        for record in records:
            row = by_id[record["id"]]
            for column in ("date", "type", "amount", "currency"):
                assert row[column] == record[column]
            if record["category"] not in FORMULA_CATEGORIES:
                assert row["category"] == record["category"]
            assert row["created_at"] == record["created_at"].replace("Z", "+00:00")

    async def test_quotes_separators_and_newlines_survive(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await varied_org(client, world)

        rows = read_csv((await export(client, world.org_id, world.analyst)).content)

        notes = {row["notes"] for row in rows}
        assert 'Rent, January; "office"' in notes
        assert "line one\nline two\n\nline four" in notes
        assert "  spaced  " in notes
        assert "ünïcödé — “quotes”; semicolon, comma" in notes

    async def test_rows_come_newest_first(self, client: httpx.AsyncClient, world: World) -> None:
        await varied_org(client, world)

        rows = read_csv((await export(client, world.org_id, world.analyst)).content)

        dates = [row["date"] for row in rows]
        assert dates == sorted(dates, reverse=True)

    async def test_deleted_records_are_not_exported(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await varied_org(client, world)

        rows = read_csv((await export(client, world.org_id, world.admin)).content)

        assert "Deleted" not in {row["category"] for row in rows}
        assert len(rows) == len(VARIED)

    async def test_an_org_without_records_exports_the_header_only(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await export(client, world.org_id, world.admin)

        assert (
            response.content
            == b"id,date,type,category,amount,currency,account,notes,external_id,created_at,"
            b"updated_at\r\n"
        )


class TestFormulaInjection:
    async def test_cells_that_a_spreadsheet_would_evaluate_are_escaped(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await varied_org(client, world)

        rows = read_csv((await export(client, world.org_id, world.analyst)).content)

        categories = {row["category"] for row in rows}
        notes = {row["notes"] for row in rows}
        assert {"'=cmd|' /C calc'!A0", "'@Team", "'-Misc"} <= categories
        assert not FORMULA_CATEGORIES & categories
        assert {
            '\'=HYPERLINK("http://example.com","x")',
            "'+1 555 0100",
            "'-5%",
            "'\tTab",
            "''=already quoted",
        } <= notes
        for row in rows:
            for column in ("category", "notes"):
                assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r"))

    async def test_importing_the_export_restores_the_original_text(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        await varied_org(client, world)
        exported = (await export(client, world.org_id, world.analyst)).content
        other = await make_org(app, owner=world.admin, name="Copy")

        await imported(client, other, world.admin, exported)

        copied = await walk_records(client, org_id=other, actor=world.admin)
        assert {r["category"] for r in copied} >= FORMULA_CATEGORIES
        assert {'=HYPERLINK("http://example.com","x")', "'=already quoted", "\tTab", "-5%"} <= {
            r["notes"] for r in copied
        }


FILTERS: dict[str, list[tuple[str, str]]] = {
    "type": [("type", "income")],
    "one category, other case": [("category", "COFFEE")],
    "two categories": [("category", "rent"), ("category", "Salary")],
    "date range": [("date_from", "2025-01-01"), ("date_to", "2025-02-28")],
    "date from": [("date_from", "2025-03-02")],
    "amount range": [("amount_min", "3.20"), ("amount_max", "100")],
    "currency": [("currency", "EUR")],
    "text search": [("q", "JANUARY")],
    "text search in category": [("q", "calc")],
    "everything at once": [
        ("type", "expense"),
        ("currency", "USD"),
        ("date_from", "2025-01-01"),
        ("amount_min", "5"),
        ("q", "o"),
    ],
    "nothing matches": [("category", "Nope")],
}


class TestFilters:
    async def test_each_filter_exports_exactly_what_the_list_shows(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await varied_org(client, world)

        for name, params in FILTERS.items():
            response = await export(client, world.org_id, world.analyst, params)
            assert response.status_code == 200, (name, response.text)
            exported = [row["id"] for row in read_csv(response.content)]
            listed = [
                r["id"]
                for r in await walk_records(
                    client, org_id=world.org_id, actor=world.admin, params=params
                )
            ]
            assert sorted(exported) == sorted(listed), name
            assert len(exported) == len(set(exported)), name
        assert exported == []

    @pytest.mark.parametrize(
        "params",
        [
            [("type", "transfer")],
            [("date_from", "2025-02-01"), ("date_to", "2025-01-01")],
            [("amount_min", "abc")],
            [("currency", "XYZ")],
            [("date_from", "yesterday")],
            [("date_to", "0")],
            # Refused before the answer starts: PostgreSQL would fail the stream after a 200.
            [("q", "a\x00b")],
            [("category", "Fo\x00od")],
        ],
    )
    async def test_an_invalid_filter_is_a_validation_error(
        self, client: httpx.AsyncClient, world: World, params: list[tuple[str, str]]
    ) -> None:
        response = await export(client, world.org_id, world.analyst, params)

        problem(response, 422)


class TestPermissions:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.ANALYST])
    async def test_analysts_and_admins_may_export(
        self, client: httpx.AsyncClient, world: World, role: Role
    ) -> None:
        response = await export(client, world.org_id, world.by_role[role])

        assert response.status_code == 200

    async def test_viewer_is_forbidden(self, client: httpx.AsyncClient, world: World) -> None:
        problem(await export(client, world.org_id, world.viewer), 403)

    async def test_outsider_gets_not_found(self, client: httpx.AsyncClient, world: World) -> None:
        problem(await export(client, world.org_id, world.outsider), 404)

    async def test_anonymous_is_unauthorized(self, client: httpx.AsyncClient, world: World) -> None:
        problem(await client.get(export_url(world.org_id)), 401)


class TestStreaming:
    async def test_a_large_export_is_produced_in_chunks(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        rows = [f"2025-01-{1 + n % 28:02d},expense,Food,{n}.00" for n in range(1, 4_501)]
        await imported(
            client, world.org_id, world.admin, csv_bytes("date,type,category,amount", *rows)
        )
        database: Database = app.state.database

        async with database.read_sessions() as session:
            org = await session.get_one(Org, world.org_id)
            ctx = OrgContext(
                org=OrgRead.model_validate(org), user_id=world.admin.user_id, role=Role.ADMIN
            )
            chunks = [
                chunk
                async for chunk in imports_exports_service.export_csv(session, ctx, RecordFilters())
            ]

        assert len(chunks) >= 3
        assert max(len(chunk) for chunk in chunks) < 1_000_000
        assert len(read_csv(b"".join(chunks))) == 4_500


class TestRoundTrip:
    async def test_export_then_import_into_a_new_org_reproduces_records_and_figures(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        originals = await varied_org(client, world)
        exported = (await export(client, world.org_id, world.analyst)).content
        copy = await make_org(app, owner=world.admin, name="Round trip")

        report = await imported(client, copy, world.admin, exported)

        assert (report["created"], report["duplicates"]) == (len(VARIED), 0)
        copies = await walk_records(client, org_id=copy, actor=world.admin)
        assert content_multiset(copies) == content_multiset(originals)
        assert await dashboard(client, copy, world.admin) == await dashboard(
            client, world.org_id, world.admin
        )
        second = (await export(client, copy, world.admin)).content
        assert _content_rows(second) == _content_rows(exported)

    async def test_importing_the_same_export_again_creates_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        await varied_org(client, world)
        exported = (await export(client, world.org_id, world.analyst)).content
        copy = await make_org(app, owner=world.admin, name="Round trip")
        await imported(client, copy, world.admin, exported)

        again = await imported(client, copy, world.admin, exported)

        assert (again["created"], again["duplicates"]) == (0, len(VARIED))


def _content_rows(body: bytes) -> list[tuple[str, ...]]:
    rows = read_csv(body)
    return sorted(
        tuple(row[c] for c in COLUMNS if c not in {"id", "created_at", "updated_at"})
        for row in rows
    )
