"""PostgreSQL's statement timeout: a statement past it answers 503, as does one whose server
freezes meanwhile (the driver's own timeout); an import is not bound by either."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledgerline.app import create_app
from ledgerline.core.db import Database, lift_statement_timeout
from ledgerline.core.deps import SessionDep
from ledgerline.core.errors import Conflict
from ledgerline.core.routing import LedgerlineRoute
from tests.conftest import AppFactory, _pg_admin, api_client, make_settings
from tests.factories import problem
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.postgres_only

STATEMENT_TIMEOUT = 0.2
SLEEP = 1.5
"""Longer than the statement timeout and the driver's command timeout (timeout + 1 s)."""
READYZ_SECONDS = 2.5
"""``/readyz`` answers within 2 s; the rest is slack for a busy machine."""
HANG_GUARD_SECONDS = 30.0
"""A hang fails the test instead of holding up the suite."""


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


@pytest.fixture
def proxied_database_url(database_url: str, backend: str) -> Iterator[tuple[str, FaultProxy]]:
    """The suite's database through a FaultProxy (requested before the app, so the app stops
    before the proxy does)."""
    if backend != "postgresql":
        pytest.skip("a frozen database server is a PostgreSQL matter")
    direct = make_url(database_url)
    proxy = FaultProxy(direct.host or "127.0.0.1", direct.port or 5432).start()
    try:
        proxied = direct.set(host="127.0.0.1", port=proxy.port)
        yield proxied.render_as_string(hide_password=False), proxy
    finally:
        proxy.heal()
        proxy.stop()


async def test_database_freezing_mid_statement_answers_503_then_recovers(
    proxied_database_url: tuple[str, FaultProxy],
) -> None:
    url, proxy = proxied_database_url
    application = create_app(
        make_settings(url, db_statement_timeout=STATEMENT_TIMEOUT, db_connect_timeout=0.5)
    )

    async def short_sleep(session: SessionDep) -> dict[str, bool]:
        await session.execute(text("SELECT pg_sleep(0.1)"))
        return {"slept": True}

    application.router.add_api_route(
        "/api/v1/short-sleep", short_sleep, methods=["POST"], route_class_override=LedgerlineRoute
    )
    async with (
        asyncio.timeout(HANG_GUARD_SECONDS),
        LifespanManager(application),
        api_client(application) as client,
    ):
        assert (await client.post("/short-sleep")).status_code == 200
        in_flight = asyncio.create_task(client.post("/short-sleep"))
        await asyncio.sleep(0.05)
        proxy.freeze()
        frozen = await in_flight
        proxy.heal()
        recovered = await client.post("/short-sleep")
    problem(frozen, 503)
    assert int(frozen.headers["retry-after"]) > 0
    assert recovered.status_code == 200, recovered.text


async def test_readyz_answers_within_2_seconds_on_a_frozen_database(
    proxied_database_url: tuple[str, FaultProxy],
) -> None:
    """With the default 5 s connect timeout, longer than ``/readyz`` may take."""
    url, proxy = proxied_database_url
    application = create_app(make_settings(url))
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/readyz")).status_code == 200
            proxy.freeze()
            async with asyncio.timeout(READYZ_SECONDS):
                frozen = await client.get("/readyz")
            proxy.heal()
    body = problem(frozen, 503)
    assert body["database"] == "down"


async def test_no_free_pooled_connection_within_the_connect_timeout_answers_503(
    app_factory: AppFactory, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the checkout timeout is set for PostgreSQL's pool")
    application = await app_factory(db_pool_size=1, db_connect_timeout=0.5)

    async def select_one(session: SessionDep) -> dict[str, int]:
        return {"one": int(await session.scalar(text("SELECT 1")) or 0)}

    application.router.add_api_route(
        "/api/v1/select-one", select_one, methods=["POST"], route_class_override=LedgerlineRoute
    )
    database: Database = application.state.database
    async with AsyncExitStack() as held, api_client(application) as client:
        for _ in range(2):  # the pool's one connection and its one overflow
            await held.enter_async_context(database.engine.connect())
        exhausted = await client.post("/select-one")
        await held.aclose()
        freed = await client.post("/select-one")
    problem(exhausted, 503)
    assert int(exhausted.headers["retry-after"]) > 0
    assert freed.json() == {"one": 1}


async def test_a_connection_lost_after_the_answer_was_decided_does_not_change_it(
    app_factory: AppFactory, backend: str
) -> None:
    """The route class closes the session after the endpoint, rolling back what a refusal left
    open: the connection's backend is terminated (a real one, from outside) before that, and
    the answer is still the refusal, not a 500; the next request gets a working connection."""
    if backend != "postgresql":
        pytest.skip("terminating a backend is PostgreSQL's")
    application = await app_factory(db_pool_size=1)

    async def refuse(session: SessionDep) -> None:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
        await _pg_admin(f"SELECT pg_terminate_backend({int(pid)})")
        raise Conflict("refused after reading")

    async def answer(session: SessionDep) -> dict[str, int]:
        return {"answer": await session.scalar(text("SELECT 42"))}

    for path, endpoint in (("/api/v1/refuse", refuse), ("/api/v1/answer", answer)):
        application.router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=LedgerlineRoute
        )
    async with api_client(application) as client:
        refused = await client.post("/refuse")
        answered = await client.post("/answer")
    problem(refused, 409)
    assert answered.json() == {"answer": 42}, "the pool's one connection was replaced"
