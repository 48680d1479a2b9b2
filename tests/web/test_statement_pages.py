"""Bank statements on the web import page, in-process on both databases: account, file (any
format, a CSV through a saved mapping), dry-run preview, confirm, result with the closing
balance's difference; what is refused, and for whom."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from ledgerline.core.db import Database
from ledgerline.records.models import Record
from tests.conftest import api_client
from tests.factories import World
from tests.imports_exports.statement_helpers import US, account, add_profile
from tests.imports_exports.statements.helpers import example
from tests.web.helpers import csrf_of, signed_in


async def records_of(app: FastAPI, account_id: str) -> int:
    database: Database = app.state.database
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Record)
            .where(Record.account_id == uuid.UUID(account_id))
        )
    return int(count or 0)


async def preview(
    client: httpx.AsyncClient,
    world: World,
    account_id: str,
    name: str,
    content: bytes,
    profile_id: str | None = None,
) -> httpx.Response:
    page = await client.get(f"/orgs/{world.org_id}/import")
    fields = {"csrf_token": csrf_of(page), "account_id": account_id}
    if profile_id is not None:
        fields["profile_id"] = profile_id
    return await client.post(
        f"/orgs/{world.org_id}/import/statement", data=fields, files={"file": (name, content)}
    )


def hidden(page: httpx.Response, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page.text)
    assert match is not None, name
    return match.group(1)


async def confirm(client: httpx.AsyncClient, world: World, page: httpx.Response) -> httpx.Response:
    fields = {
        name: hidden(page, name) for name in ("csrf_token", "token", "account_id", "file_name")
    }
    if 'name="profile_id"' in page.text.split("Confirm statement import")[0]:
        fields["profile_id"] = hidden(page, "profile_id")
    return await client.post(f"/orgs/{world.org_id}/import/statement/confirm", data=fields)


async def test_an_ofx_statement_previews_then_imports_with_its_closing_balance(
    app: FastAPI, world: World
) -> None:
    async with api_client(app) as api:
        checking = await account(api, world, "USD", name="Checking")
    content = example("ofx-1.02-sgml.ofx")
    async with signed_in(app, world.analyst.email) as client:
        page = await client.get(f"/orgs/{world.org_id}/import")
        assert "Upload a bank statement" in page.text
        assert f'<option value="{checking}">Checking (USD)</option>' in page.text
        shown = await preview(client, world, checking, "bank.ofx", content)
        assert shown.status_code == 200, shown.text
        assert "Preview of bank.ofx (OFX)" in shown.text
        would = re.search(r"<strong>(\d+)</strong> records? would be created", shown.text)
        assert would is not None
        assert await records_of(app, checking) == 0
        done = await confirm(client, world, shown)
        assert done.status_code == 200, done.text
        assert "Statement imported" in done.text
        assert f"<strong>{would.group(1)}</strong> record" in done.text
        assert "The statement's closing balance on Dec 3, 2026 is <strong>$4,261.44</strong>" in (
            done.text
        )
        assert "differs from the account's balance by <strong>$3,003.00</strong>" in done.text
        assert await records_of(app, checking) == int(would.group(1))
        again = await preview(client, world, checking, "bank.ofx", content)
        assert "<strong>0</strong> records would be created" in again.text
        assert f"{would.group(1)} duplicate" in again.text


async def test_a_bank_csv_reads_through_a_saved_mapping(app: FastAPI, world: World) -> None:
    async with api_client(app) as api:
        checking = await account(api, world, "USD", name="Checking")
        profile = await add_profile(api, world.org_id, world.admin, "US bank", US)
    content = example("bank-us.csv")
    async with signed_in(app, world.admin.email) as client:
        page = await client.get(f"/orgs/{world.org_id}/import")
        assert f'<option value="{profile}">US bank</option>' in page.text
        unmapped = await preview(client, world, checking, "us.csv", content)
        assert unmapped.status_code == 422
        assert "us.csv: " in unmapped.text
        assert await records_of(app, checking) == 0
        shown = await preview(client, world, checking, "us.csv", content, profile)
        assert shown.status_code == 200, shown.text
        assert "Preview of us.csv (CSV)" in shown.text
        assert "The file states no closing balance" in shown.text
        done = await confirm(client, world, shown)
        assert "Statement imported" in done.text
    assert await records_of(app, checking) > 0


async def test_a_statement_of_another_currency_is_refused_and_writes_nothing(
    app: FastAPI, world: World
) -> None:
    async with api_client(app) as api:
        checking = await account(api, world, "USD", name="Checking")
    async with signed_in(app, world.analyst.email) as client:
        refused = await preview(client, world, checking, "eu.xml", example("camt053.xml"))
        assert refused.status_code == 422
        assert 'role="alert"' in refused.text
        assert "EUR" in refused.text
        assert "Confirm statement import" not in refused.text
    assert await records_of(app, checking) == 0


async def test_a_viewer_sees_no_statement_form_and_a_forged_post_is_403(
    app: FastAPI, world: World
) -> None:
    async with api_client(app) as api:
        checking = await account(api, world, "USD", name="Checking")
    async with signed_in(app, world.viewer.email) as viewer:
        assert (await viewer.get(f"/orgs/{world.org_id}/import")).status_code == 403
        token = csrf_of(await viewer.get("/profile"))
        forged = await viewer.post(
            f"/orgs/{world.org_id}/import/statement",
            data={"csrf_token": token, "account_id": checking},
            files={"file": ("bank.ofx", example("ofx-1.02-sgml.ofx"))},
        )
        assert forged.status_code == 403
    assert await records_of(app, checking) == 0
