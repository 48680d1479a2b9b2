"""PostgreSQL's statement timeout: a statement past it answers 503; an import is not bound by it."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from ledgerline.core.db import lift_statement_timeout
from ledgerline.core.deps import SessionDep
from ledgerline.core.routing import LedgerlineRoute
from tests.conftest import AppFactory, api_client
from tests.factories import problem

pytestmark = pytest.mark.postgres_only

STATEMENT_TIMEOUT = 0.2
SLEEP = 1.5
"""Longer than the statement timeout and the driver's command timeout (timeout + 1 s)."""


@pytest.fixture
async def sleepy_app(app_factory: AppFactory, backend: str) -> FastAPI:
    """An app with 0.2 s statements and two routes that sleep in the database, one of them
    after lifting the timeouts as an import does."""
    if backend != "postgresql":
        pytest.skip("statement timeouts are PostgreSQL's")
    application = await app_factory(db_statement_timeout=STATEMENT_TIMEOUT, db_pool_size=1)

    async def sleep(session: SessionDep) -> dict[str, bool]:
        await session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": SLEEP})
        return {"slept": True}

    async def sleep_like_an_import(session: SessionDep) -> dict[str, bool]:
        await lift_statement_timeout(session)
        return await sleep(session)

    for path, endpoint in (
        ("/api/v1/sleep", sleep),
        ("/api/v1/import-sleep", sleep_like_an_import),
    ):
        application.router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=LedgerlineRoute
        )
    return application


async def test_statement_past_the_timeout_answers_503(sleepy_app: FastAPI) -> None:
    async with api_client(sleepy_app) as client:
        response = await client.post("/sleep")
    problem(response, 503)
    assert int(response.headers["retry-after"]) > 0


async def test_import_statements_are_not_bound_by_it_and_the_next_request_is(
    sleepy_app: FastAPI,
) -> None:
    async with api_client(sleepy_app) as client:
        lifted = await client.post("/import-sleep")
        after = await client.post("/sleep")
    assert lifted.status_code == 200, lifted.text
    assert lifted.json() == {"slept": True}
    problem(after, 503)
