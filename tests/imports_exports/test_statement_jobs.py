"""Statement imports as jobs: ``Prefer: respond-async`` answers 202, the job's report is the
statement answer, and a refused statement ends ``failed`` with nothing written."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.factories import World, problem
from tests.imports_exports.statement_helpers import (
    US,
    account,
    account_records,
    post_statement,
)
from tests.imports_exports.statements.helpers import example
from tests.imports_exports.test_import_jobs import finished

ASYNC = {"Prefer": "respond-async"}


async def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    assert response.headers["preference-applied"] == "respond-async"
    assert response.json()["status"] == "queued"
    return response.headers["location"].split("/api/v1", 1)[1]


async def test_a_statement_job_imports_and_reports_like_the_request(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    response = await post_statement(
        client,
        world.org_id,
        account_id,
        world.analyst,
        example("ofx-1.02-sgml.ofx"),
        headers=ASYNC,
    )
    path = await accepted(response)

    job = await finished(app, client, path, world.analyst.headers)

    assert job["status"] == "succeeded", job
    report = job["report"]
    assert (report["format"], report["created"], report["account_id"]) == ("ofx", 4, account_id)
    assert report["closing_balance"] == "4261.44"
    assert (job["rows_done"], job["rows_total"]) == (4, 4)
    assert len(await account_records(client, world, account_id)) == 4
    again = await finished(
        app,
        client,
        await accepted(
            await post_statement(
                client,
                world.org_id,
                account_id,
                world.analyst,
                example("ofx-1.02-sgml.ofx"),
                headers=ASYNC,
            )
        ),
        world.admin.headers,
    )
    assert (again["report"]["created"], again["report"]["duplicates"]) == (0, 4)


async def test_a_refused_statement_job_fails_with_its_report_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    response = await post_statement(
        client, world.org_id, account_id, world.analyst, example("ofx-2.xml.ofx"), headers=ASYNC
    )
    job = await finished(app, client, await accepted(response), world.analyst.headers)
    assert job["status"] == "failed"
    assert job["report"]["errors"][0]["field"] == "currency"
    assert job["report"]["format"] == "ofx"
    assert await account_records(client, world, account_id) == []


async def test_a_dry_run_job_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    response = await post_statement(
        client,
        world.org_id,
        account_id,
        world.analyst,
        example("bank-us.csv"),
        mapping=US,
        dry_run=True,
        headers=ASYNC,
    )
    job = await finished(app, client, await accepted(response), world.analyst.headers)
    assert (job["status"], job["report"]["created"], job["report"]["dry_run"]) == (
        "succeeded",
        3,
        True,
    )
    assert await account_records(client, world, account_id) == []


async def test_unreadable_files_and_unknown_accounts_are_answered_at_once(
    client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    pdf = await post_statement(
        client, world.org_id, account_id, world.analyst, b"%PDF-1.4\n", headers=ASYNC
    )
    problem(pdf, 415)
    missing = await post_statement(
        client,
        world.org_id,
        "01a240d2-0000-7000-8000-000000000000",
        world.analyst,
        example("ofx-1.02-sgml.ofx"),
        headers=ASYNC,
    )
    problem(missing, 404)
    viewer = await post_statement(
        client, world.org_id, account_id, world.viewer, example("ofx-1.02-sgml.ofx"), headers=ASYNC
    )
    problem(viewer, 403)
