"""Hostile statement files through the endpoint: each a clear 4xx, nothing written."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from tests.conftest import api_client, make_settings
from tests.factories import World, make_world, problem
from tests.imports_exports.statement_helpers import (
    US,
    account,
    account_records,
    post_statement,
    statements_url,
)
from tests.imports_exports.statements.helpers import example
from tests.imports_exports.statements.test_hostile import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    EndlessLine,
)
from tests.records.helpers import record_total


@pytest.mark.parametrize(
    ("data", "status", "mapping"),
    [
        (BILLION_LAUGHS, 422, None),
        (EXTERNAL_ENTITY, 422, None),
        (b"OFXHEADER:100\nDATA:OFXSGML\n\n<OFX>" + b"A" * 1_000_000 + b"\n", 422, None),
        (random.Random(13).randbytes(50_000), 415, None),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", 415, US),
        (b"PK\x03\x04" + bytes(200), 415, None),
        (b"", 422, None),
        (b"Just a letter from the bank.\nDear customer, nothing to see.\n", 415, None),
    ],
    ids=[
        "xml-bomb",
        "external-entity",
        "1mb-line",
        "binary",
        "pdf-as-csv",
        "zip",
        "empty",
        "prose",
    ],
)
async def test_a_hostile_file_is_refused_and_nothing_written(
    client: httpx.AsyncClient, world: World, data: bytes, status: int, mapping: dict[str, object]
) -> None:
    account_id = await account(client, world, "EUR")
    response = await post_statement(
        client, world.org_id, account_id, world.analyst, data, mapping=mapping, filename="s.csv"
    )
    body = problem(response, status)
    assert len(body["detail"]) < 1_000
    assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0


async def test_a_415_lists_the_formats_read(client: httpx.AsyncClient, world: World) -> None:
    account_id = await account(client, world, "USD")
    response = await post_statement(
        client, world.org_id, account_id, world.analyst, b"%PDF-1.4\n...", filename="s.csv"
    )
    detail = problem(response, 415)["detail"]
    assert "PDF" in detail
    for name in ("OFX", "QIF", "CAMT", "MT940", "CSV"):
        assert name in detail


async def test_a_100_mb_line_is_refused_as_too_large(
    client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    endless = io.BufferedReader(EndlessLine(100_000_000))
    response = await client.post(
        statements_url(world.org_id, account_id),
        files={"file": ("huge.csv", endless, "text/csv")},
        data={
            "mapping": '{"date_column": "Date", "date_format": "YYYY-MM-DD", "amount_column": "A"}'
        },
        headers=world.analyst.headers,
    )
    problem(response, 413)
    assert await account_records(client, world, account_id) == []


async def test_an_ofx_in_another_currency_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "GBP")
    for name in ("ofx-1.02-sgml.ofx", "ofx-2.xml.ofx", "camt053.xml", "mt940.sta"):
        response = await post_statement(
            client, world.org_id, account_id, world.analyst, example(name)
        )
        assert problem(response, 422)["errors"][0]["field"] == "currency"
    assert await account_records(client, world, account_id) == []


@pytest.fixture(scope="module")
async def limited_app(app: FastAPI, database_url: str) -> AsyncIterator[FastAPI]:
    """An app with small import limits, on the module's database."""
    settings = make_settings(database_url, import_max_bytes=4_096, import_max_rows=2)
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.mark.parametrize(
    ("name", "mapping"),
    [("bank-us.csv", US), ("ofx-1.02-sgml.ofx", None), ("mt940.sta", None)],
)
async def test_more_rows_than_the_limit_is_too_large(
    limited_app: FastAPI, name: str, mapping: dict[str, object] | None
) -> None:
    world = await make_world(limited_app)
    async with api_client(limited_app) as client:
        currency = "EUR" if name == "mt940.sta" else "USD"
        account_id = await account(client, world, currency)
        response = await post_statement(
            client, world.org_id, account_id, world.analyst, example(name), mapping=mapping
        )
        assert "more than 2 rows" in problem(response, 413)["detail"]
        assert await account_records(client, world, account_id) == []


async def test_a_file_over_the_byte_limit_is_too_large(limited_app: FastAPI) -> None:
    world = await make_world(limited_app)
    async with api_client(limited_app) as client:
        account_id = await account(client, world, "USD")
        padded = example("ofx-1.02-sgml.ofx").replace(b"<OFX>", b"<OFX>" + b" " * 4_096, 1)
        response = await post_statement(client, world.org_id, account_id, world.analyst, padded)
        problem(response, 413)
        assert await account_records(client, world, account_id) == []
