"""The import page's large files: an import job with a progress bar that htmx refreshes, its
result or its errors by row, and its Cancel button (in-process, both databases)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ledgerline.core.config import Settings
from ledgerline.core.db import Database
from ledgerline.imports_exports.jobs import JobRunner
from ledgerline.imports_exports.models import ImportJob, JobStatus
from ledgerline.records.models import Record
from tests.conftest import make_settings
from tests.factories import World
from tests.web.helpers import csrf_of, signed_in

JOB_BYTES = 200


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Files over 200 bytes run as jobs, so a test file of a few dozen rows is a large one."""
    return make_settings(database_url, web_import_job_bytes=JOB_BYTES)


def csv_of(rows: int, *, bad_row: int | None = None) -> bytes:
    lines = ["date,type,category,amount,notes"]
    for n in range(1, rows + 1):
        amount = "twelve" if n == bad_row else f"{n}.50"
        lines.append(f"2026-02-{n % 28 + 1:02d},expense,Food,{amount},row {n}")
    return ("\n".join(lines) + "\n").encode()


async def upload(client: httpx.AsyncClient, world: World, body: bytes) -> httpx.Response:
    token = csrf_of(await client.get(f"/orgs/{world.org_id}/import"))
    return await client.post(
        f"/orgs/{world.org_id}/import",
        data={"csrf_token": token},
        files={"file": ("big.csv", body, "text/csv")},
    )


def job_id_of(response: httpx.Response, world: World) -> uuid.UUID:
    assert response.status_code == 303, response.text
    match = re.fullmatch(
        rf"/orgs/{world.org_id}/import/jobs/([0-9a-f-]+)", response.headers["location"]
    )
    assert match is not None, response.headers["location"]
    return uuid.UUID(match.group(1))


async def queued_job(app: FastAPI, world: World) -> uuid.UUID:
    """A job of the analyst's that no runner has claimed yet (as right after the upload)."""
    database: Database = app.state.database
    async with database.sessions() as session:
        job = ImportJob(
            org_id=world.org_id,
            created_by=world.analyst.user_id,
            status=JobStatus.QUEUED.value,
            file_name="big.csv",
            rows_total=40,
        )
        session.add(job)
        await session.commit()
        return job.id


async def record_count(app: FastAPI, world: World) -> int:
    database: Database = app.state.database
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Record).where(Record.org_id == world.org_id)
        )
    return int(count or 0)


async def test_the_page_names_the_size_over_which_a_file_is_a_job(
    app: FastAPI, world: World
) -> None:
    async with signed_in(app, world.analyst.email) as client:
        page = await client.get(f"/orgs/{world.org_id}/import")
    assert "A file over 200 bytes is imported in the background" in page.text


async def test_a_large_file_runs_as_a_job_and_shows_its_result(app: FastAPI, world: World) -> None:
    runner: JobRunner = app.state.import_jobs
    async with signed_in(app, world.analyst.email) as client:
        job_id = job_id_of(await upload(client, world, csv_of(40)), world)
        await runner.wait(job_id)
        page = await client.get(f"/orgs/{world.org_id}/import/jobs/{job_id}")
        assert page.status_code == 200
        assert "Import finished" in page.text
        assert "<strong>40</strong> records imported, 0 duplicates skipped" in page.text
        assert '<progress max="40" value="40"' in page.text
        assert "hx-trigger" not in page.text
        assert "Cancel import" not in page.text
        partial = await client.get(
            f"/orgs/{world.org_id}/import/jobs/{job_id}", headers={"HX-Request": "true"}
        )
        assert partial.text.lstrip().startswith("<section")
        assert "<html" not in partial.text
        assert "Import finished" in partial.text
    assert await record_count(app, world) == 40


async def test_a_small_file_keeps_the_preview(app: FastAPI, world: World) -> None:
    async with signed_in(app, world.analyst.email) as client:
        response = await upload(client, world, csv_of(1))
    assert len(csv_of(1)) <= JOB_BYTES
    assert response.status_code == 200
    assert "Confirm import" in response.text
    assert await record_count(app, world) == 0


async def test_a_large_file_with_a_bad_row_writes_nothing_and_shows_the_row(
    app: FastAPI, world: World
) -> None:
    runner: JobRunner = app.state.import_jobs
    async with signed_in(app, world.analyst.email) as client:
        job_id = job_id_of(await upload(client, world, csv_of(40, bad_row=7)), world)
        await runner.wait(job_id)
        page = await client.get(f"/orgs/{world.org_id}/import/jobs/{job_id}")
    assert "Import failed: nothing was written" in page.text
    assert re.search(r"<td class=\"num\">8</td><td>amount</td>", page.text), page.text
    assert await record_count(app, world) == 0


async def test_an_unfinished_job_polls_and_can_be_cancelled(app: FastAPI, world: World) -> None:
    job_id = await queued_job(app, world)
    url = f"/orgs/{world.org_id}/import/jobs/{job_id}"
    async with signed_in(app, world.analyst.email) as client:
        partial = await client.get(url, headers={"HX-Request": "true"})
        assert f'hx-get="{url}" hx-trigger="every 1s"' in partial.text
        assert '<progress max="40" value="0"' in partial.text
        assert "Cancel import" in partial.text
        token = csrf_of(await client.get(url))
        cancelled = await client.post(f"{url}/cancel", data={"csrf_token": token})
        assert cancelled.status_code == 303
        assert cancelled.headers["location"] == url
        page = await client.get(url)
        assert "Import cancelled: nothing was written" in page.text
        assert "hx-trigger" not in page.text
        again = await client.post(f"{url}/cancel", data={"csrf_token": token})
        assert again.status_code == 409
        assert "the job has already finished" in again.text


async def test_a_job_is_its_importers_and_the_admins(app: FastAPI, world: World) -> None:
    job_id = await queued_job(app, world)
    url = f"/orgs/{world.org_id}/import/jobs/{job_id}"
    async with signed_in(app, world.admin.email) as admin:
        assert (await admin.get(url)).status_code == 200
    async with signed_in(app, world.viewer.email) as viewer:
        assert (await viewer.get(url)).status_code == 403
    async with signed_in(app, world.analyst.email) as analyst:
        unknown = await analyst.get(f"/orgs/{world.org_id}/import/jobs/{uuid.uuid4()}")
        assert unknown.status_code == 404
        refused = await analyst.post(f"{url}/cancel", data={})
        assert refused.status_code == 403
        assert (await analyst.get(url)).text.count("Cancel import") == 1
