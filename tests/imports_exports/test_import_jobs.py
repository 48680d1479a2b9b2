"""Import jobs: ``Prefer: respond-async`` answers 202 with a job that imports in the background,
all or nothing, visible to its sender and the org's admins, cancellable until it ends, and
``failed`` (nothing written) when the process that ran it stopped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from ledgerline.app import create_app
from ledgerline.core.db import Database
from ledgerline.imports_exports import jobs as import_jobs
from ledgerline.imports_exports.jobs import AcceptedJob, JobRunner
from ledgerline.imports_exports.service import _import_lock_key
from ledgerline.orgs.permissions import Role
from tests.conftest import api_client, make_settings
from tests.factories import World, add_member, make_user, problem
from tests.imports_exports.helpers import csv_bytes, import_url
from tests.records.helpers import record_total

Json = dict[str, Any]
HEADER = "date,type,category,amount,notes"
ROWS = 40


def statement(rows: int = ROWS) -> bytes:
    return csv_bytes(
        HEADER, *(f"2025-02-{1 + n % 28:02d},expense,Food,{n + 1}.50,n{n}" for n in range(rows))
    )


async def submit(
    client: httpx.AsyncClient, org_id: uuid.UUID, headers: dict[str, str], content: bytes
) -> httpx.Response:
    return await client.post(
        import_url(org_id),
        files={"file": ("statement.csv", content, "text/csv")},
        headers={**headers, "Prefer": "respond-async"},
    )


async def submitted(
    client: httpx.AsyncClient, org_id: uuid.UUID, headers: dict[str, str], content: bytes
) -> str:
    """Submit a job and assert it was accepted; its path under the API."""
    response = await submit(client, org_id, headers, content)
    assert response.status_code == 202, response.text
    assert response.headers["preference-applied"] == "respond-async"
    location = response.headers["location"]
    assert location.endswith(f"/api/v1/orgs/{org_id}/import-jobs/{response.json()['id']}")
    return location.split("/api/v1", 1)[1]


async def finished(app: FastAPI, client: httpx.AsyncClient, path: str, actor_headers: Any) -> Json:
    runner: JobRunner = app.state.import_jobs
    await runner.wait(uuid.UUID(path.rsplit("/", 1)[1]))
    response = await client.get(path, headers=actor_headers)
    assert response.status_code == 200, response.text
    job: Json = response.json()
    return job


async def job_rows(app: FastAPI, org_id: uuid.UUID) -> int:
    database: Database = app.state.database
    async with database.sessions() as session:
        from ledgerline.records.models import Record

        return int(await session.scalar(select(func.count()).where(Record.org_id == org_id)) or 0)


class TestAcceptedJob:
    async def test_answers_202_and_imports_in_the_background(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await submit(client, world.org_id, world.analyst.headers, statement())
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert set(accepted) == {
            "id",
            "status",
            "rows_done",
            "rows_total",
            "report",
            "detail",
            "created_at",
            "finished_at",
        }
        assert (accepted["status"], accepted["rows_total"], accepted["report"]) == (
            "queued",
            ROWS,
            None,
        )

        job = await finished(
            app,
            client,
            response.headers["location"].split("/api/v1", 1)[1],
            world.analyst.headers,
        )

        assert job["status"] == "succeeded"
        assert job["report"] == {"created": ROWS, "duplicates": 0, "errors": [], "dry_run": False}
        assert (job["rows_done"], job["rows_total"]) == (ROWS, ROWS)
        assert job["finished_at"] is not None
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == ROWS

    async def test_rejected_rows_fail_the_job_with_the_report_and_write_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(HEADER, "2025-02-01,expense,Food,1.00,", "2025-02-31,expense,Food,x,")
        path = await submitted(client, world.org_id, world.analyst.headers, content)

        job = await finished(app, client, path, world.analyst.headers)

        assert job["status"] == "failed"
        assert {error["field"] for error in job["report"]["errors"]} == {"date", "amount"}
        assert "nothing was imported" in job["detail"]
        assert await job_rows(app, world.org_id) == 0

    async def test_a_file_over_the_row_limit_is_refused_at_once(
        self, database_url: str, world: World
    ) -> None:
        limited = create_app(make_settings(database_url, import_max_rows=3))
        async with LifespanManager(limited), api_client(limited) as client:
            response = await submit(client, world.org_id, world.analyst.headers, statement(4))
        assert "more than 3 rows" in problem(response, 413)["detail"]

    async def test_without_the_preference_the_import_answers_at_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            files={"file": ("s.csv", statement(), "text/csv")},
            headers={**world.analyst.headers, "Prefer": "return=minimal"},
        )
        assert response.status_code == 200
        assert response.json()["created"] == ROWS


class TestWhoSeesAJob:
    async def test_the_sender_and_admins_see_it_other_members_do_not(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        other_analyst = await make_user(app)
        await add_member(app, org_id=world.org_id, actor=other_analyst, role=Role.ANALYST)
        path = await submitted(client, world.org_id, world.analyst.headers, statement())
        await finished(app, client, path, world.analyst.headers)

        admin = await client.get(path, headers=world.admin.headers)
        other = await client.get(path, headers=other_analyst.headers)
        viewer = await client.get(path, headers=world.viewer.headers)
        outsider = await client.get(path, headers=world.outsider.headers)

        assert admin.status_code == 200
        assert problem(other, 404)["detail"] == import_jobs.JOB_NOT_FOUND
        problem(viewer, 403)
        problem(outsider, 404)
        problem(await client.delete(path, headers=other_analyst.headers), 404)

    async def test_another_org_s_path_does_not_find_it(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        path = await submitted(client, world.org_id, world.admin.headers, statement())
        await finished(app, client, path, world.admin.headers)
        elsewhere = path.replace(str(world.org_id), str(world.outsider_org_id))

        problem(await client.get(elsewhere, headers=world.outsider.headers), 404)


@pytest.fixture
def deferred_starts(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[AcceptedJob]:
    """Jobs accepted but not started yet: the test starts them (or never does, as a process
    that stopped first would)."""
    runner: JobRunner = app.state.import_jobs
    waiting: list[AcceptedJob] = []

    async def defer(job: AcceptedJob) -> None:
        waiting.append(job)

    monkeypatch.setattr(runner, "start", defer)
    return waiting


class TestCancel:
    async def test_a_queued_job_cancelled_writes_nothing_when_it_would_start(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        deferred_starts: list[AcceptedJob],
    ) -> None:
        path = await submitted(client, world.org_id, world.analyst.headers, statement())

        cancelled = await client.delete(path, headers=world.admin.headers)
        [job] = deferred_starts
        await JobRunner.start(app.state.import_jobs, job)
        after = await finished(app, client, path, world.analyst.headers)

        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert after["status"] == "cancelled"
        assert after["report"] is None
        assert await job_rows(app, world.org_id) == 0
        assert job.file.closed

    async def test_a_finished_job_cannot_be_cancelled(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        path = await submitted(client, world.org_id, world.analyst.headers, statement())
        await finished(app, client, path, world.analyst.headers)

        refused = await client.delete(path, headers=world.analyst.headers)

        assert problem(refused, 409)["detail"] == import_jobs.FINISHED
        assert await job_rows(app, world.org_id) == ROWS


class TestRestart:
    async def test_a_job_the_stopped_process_held_ends_failed_and_says_so(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        deferred_starts: list[AcceptedJob],
        database_url: str,
    ) -> None:
        path = await submitted(client, world.org_id, world.analyst.headers, statement())
        deferred_starts[0].file.close()  # its process is gone, and the upload with it

        restarted = create_app(make_settings(database_url))
        async with LifespanManager(restarted), api_client(restarted) as after_restart:
            response = await after_restart.get(path, headers=world.analyst.headers)

        job = response.json()
        assert job["status"] == "failed"
        assert job["detail"] == import_jobs.INTERRUPTED
        assert job["finished_at"] is not None
        assert await job_rows(app, world.org_id) == 0


@asynccontextmanager
async def holding_the_org_s_import_lock(
    database_url: str, org_id: uuid.UUID
) -> AsyncIterator[asyncpg.Connection]:
    """Another import of the org, as far as a job can tell: it holds the org's import lock."""
    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _import_lock_key(org_id))
        yield connection
    finally:
        await connection.close()


async def until_a_job_waits_for_it(connection: asyncpg.Connection) -> None:
    for _ in range(500):
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no job waited for the lock")


@pytest.mark.postgres_only
class TestRunningJobs:
    """A job made to wait, mid-import, behind another import of the org (PostgreSQL)."""

    @pytest.fixture(autouse=True)
    def postgres_only(self, backend: str) -> None:
        if backend != "postgresql":
            pytest.skip("SQLite writers queue on one lock: a running job cannot be overtaken")

    async def test_a_running_job_cancelled_writes_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, world: World, database_url: str
    ) -> None:
        async with holding_the_org_s_import_lock(database_url, world.org_id) as other_import:
            path = await submitted(client, world.org_id, world.analyst.headers, statement())
            await until_a_job_waits_for_it(other_import)
            running = (await client.get(path, headers=world.analyst.headers)).json()
            cancelled = await client.delete(path, headers=world.analyst.headers)

        job = await finished(app, client, path, world.analyst.headers)

        assert running["status"] == "running"
        assert cancelled.json()["status"] == "cancelled"
        assert (job["status"], job["detail"], job["report"]) == (
            "cancelled",
            import_jobs.CANCELLED,
            None,
        )
        assert await job_rows(app, world.org_id) == 0

    async def test_stopping_the_process_fails_its_running_jobs(
        self, database_url: str, world: World
    ) -> None:
        stopping = create_app(make_settings(database_url))
        # Left in reverse: the app stops while the job still waits for the lock.
        async with (
            holding_the_org_s_import_lock(database_url, world.org_id) as other_import,
            LifespanManager(stopping),
            api_client(stopping) as client,
        ):
            path = await submitted(client, world.org_id, world.analyst.headers, statement())
            await until_a_job_waits_for_it(other_import)

        after = create_app(make_settings(database_url))
        async with LifespanManager(after), api_client(after) as client:
            job = (await client.get(path, headers=world.analyst.headers)).json()
            assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0
        assert (job["status"], job["detail"]) == ("failed", import_jobs.INTERRUPTED)
