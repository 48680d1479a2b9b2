"""A large bank statement on the web import page runs as an import job with the progress page
of a large CSV (in-process, both databases)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from ledgerline.core.config import Settings
from ledgerline.imports_exports.jobs import JobRunner
from tests.conftest import api_client, make_settings
from tests.factories import World
from tests.imports_exports.statement_helpers import account
from tests.imports_exports.statements.helpers import example
from tests.web.helpers import signed_in
from tests.web.test_import_jobs import job_id_of
from tests.web.test_statement_pages import preview, records_of

JOB_BYTES = 200


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Files over 200 bytes run as jobs, so an example statement is a large one."""
    return make_settings(database_url, web_import_job_bytes=JOB_BYTES)


async def test_a_large_statement_is_imported_as_a_job(app: FastAPI, world: World) -> None:
    async with api_client(app) as api:
        checking = await account(api, world, "USD", name="Checking")
    content = example("ofx-1.02-sgml.ofx")
    assert len(content) > JOB_BYTES
    async with signed_in(app, world.analyst.email) as client:
        job_id = job_id_of(await preview(client, world, checking, "bank.ofx", content), world)
        runner: JobRunner = app.state.import_jobs
        await runner.wait(job_id)
        page = await client.get(f"/orgs/{world.org_id}/import/jobs/{job_id}")
    assert page.status_code == 200, page.text
    created = await records_of(app, checking)
    assert created > 0
    assert f"<strong>{created}</strong>" in page.text
    assert "closing balance on" in page.text
    assert "$4,261.44" in page.text, "the statement's closing balance, in the account's currency"


async def test_a_large_file_in_no_bank_format_is_refused_before_any_job(
    app: FastAPI, world: World
) -> None:
    async with api_client(app) as api:
        checking = await account(api, world, "USD", name="Checking")
    async with signed_in(app, world.analyst.email) as client:
        refused = await preview(client, world, checking, "x.ofx", b"%PDF-1.7\n" + b"\x00" * 400)
    assert refused.status_code == 415, refused.text
    assert await records_of(app, checking) == 0
