"""Test harness: every test that touches the database runs on SQLite and, when one answers,
on PostgreSQL. Each backend is migrated once per run; each test starts from empty tables."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from ledgerline.app import create_app
from ledgerline.core import migrations
from ledgerline.core.config import Settings
from ledgerline.core.db import Database
from ledgerline.core.ratelimit import RateLimiter
from ledgerline.models import metadata
from tests.factories import World, make_world

POSTGRES_URL_ENV = "LEDGERLINE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def _postgres_answers(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


def _postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    return DEFAULT_POSTGRES_URL if _postgres_answers(DEFAULT_POSTGRES_URL) else None


def _redis_answers(url: str) -> bool:
    parsed = make_url(url)
    try:
        socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 6379), 1).close()
    except OSError:
        return False
    return True


POSTGRES_ADMIN_URL = _postgres_admin_url()
POSTGRES_ANSWERS = POSTGRES_ADMIN_URL is not None and _postgres_answers(POSTGRES_ADMIN_URL)
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_ADMIN_URL else ["sqlite"]
REDIS_URL = os.environ.get("LEDGERLINE_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
REDIS_ANSWERS = _redis_answers(REDIS_URL)


def _services_line() -> str:
    postgres_url = make_url(POSTGRES_ADMIN_URL or DEFAULT_POSTGRES_URL)
    postgres = "yes" if POSTGRES_ANSWERS else "NO, skipped"
    redis = "yes" if REDIS_ANSWERS else "NO, skipped"
    return (
        f"databases: SQLite yes, PostgreSQL {postgres} "
        f"({postgres_url.render_as_string(hide_password=True)}); Redis {redis} ({REDIS_URL})"
    )


def pytest_configure(config: pytest.Config) -> None:
    """In CI (``CI=true``) a missing PostgreSQL or Redis is a failure, never a quiet skip."""
    if os.environ.get("CI", "").lower() == "true" and not (POSTGRES_ANSWERS and REDIS_ANSWERS):
        raise pytest.UsageError(
            f"CI=true but the suite would skip services: {_services_line()}. "
            "CI must run every test on PostgreSQL and Redis."
        )


def pytest_report_header(config: pytest.Config) -> str:
    return _services_line()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_sep("-", "ran against")
    terminalreporter.write_line(_services_line())


async def _pg_admin(sql: str) -> None:
    assert POSTGRES_ADMIN_URL is not None
    parsed = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(parsed.render_as_string(hide_password=False))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_postgres_database(name: str) -> str:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    assert POSTGRES_ADMIN_URL is not None
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def empty_database_url(backend: str, tmp_dir: Path, label: str) -> Iterator[str]:
    """A fresh, empty database of ``backend``, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / f'{label}.db'}"
        return
    name = f"ledgerline_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_postgres_database(name)
    try:
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per backend for the whole run."""
    tmp_dir = tmp_path_factory.mktemp(backend)
    for url in empty_database_url(backend, tmp_dir, "suite"):
        migrations.upgrade(url)
        yield url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "auto_migrate": False,
        "secret_key": TEST_SECRET,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "log_json": False,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def _empty_tables(database: Database) -> None:
    """Every table emptied, children first. ``DELETE`` rather than PostgreSQL's ``TRUNCATE``,
    which gives each of the tables a new file: about 110 ms for tables holding a test's few
    rows, where deleting them takes 8 ms, paid after each of a thousand and more tests."""
    async with database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


async def _empty_database(database_url: str) -> None:
    cleanup = Database(database_url)
    try:
        await _empty_tables(cleanup)
    finally:
        await cleanup.dispose()


EmptyTables = Callable[[], Awaitable[None]]


@pytest.fixture(scope="session")
async def empty_tables(database_url: str) -> AsyncIterator[EmptyTables]:
    """Empties the backend's tables through one engine kept for the run: a new engine for each
    test cost it a connection (and on SQLite, as much again as the deletes)."""
    cleanup = Database(database_url)
    try:
        yield partial(_empty_tables, cleanup)
    finally:
        await cleanup.dispose()


def api_client(application: FastAPI) -> httpx.AsyncClient:
    """A client of the API at ``http://test/api/v1``; use it with ``async with``."""
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test/api/v1")


AppFactory = Callable[..., Awaitable[FastAPI]]


class StartedApps:
    """Apps started once per distinct settings and stopped at the end of the run.

    Building an app costs FastAPI a fraction of a second per route set, which hundreds of small
    tests would pay again and again; what a test leaves behind is undone by the ``app`` fixture.
    """

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self._apps: dict[Settings, FastAPI] = {}

    async def get(self, settings: Settings) -> FastAPI:
        if settings not in self._apps:
            application = create_app(settings)
            await self._stack.enter_async_context(LifespanManager(application))
            self._apps[settings] = application
        return self._apps[settings]


@pytest.fixture(scope="session")
async def started_apps(database_url: str) -> AsyncIterator[StartedApps]:
    """Per backend, so its apps stop before the backend's database is dropped."""
    async with AsyncExitStack() as stack:
        yield StartedApps(stack)


@pytest.fixture
async def app(
    settings: Settings, started_apps: StartedApps, empty_tables: EmptyTables
) -> AsyncIterator[FastAPI]:
    """A started app on empty tables, with fresh rate limits and no dependency overrides."""
    application = await started_apps.get(settings)
    yield application
    application.dependency_overrides.clear()
    if settings.redis_url is None:  # a shared Redis is never flushed
        rate_limiter: RateLimiter = application.state.rate_limiter
        await rate_limiter.reset()
    await empty_tables()


@pytest.fixture
async def app_factory(database_url: str, empty_tables: EmptyTables) -> AsyncIterator[AppFactory]:
    """Apps of their own on the test database, started and stopped within the test, with other
    settings (``await app_factory(**overrides)``); free to change, e.g. to add a route."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: object) -> FastAPI:
            application = create_app(make_settings(database_url, **overrides))
            await stack.enter_async_context(LifespanManager(application))
            return application

        yield build
    await empty_tables()


@pytest.fixture
def database(app: FastAPI) -> Database:
    db: Database = app.state.database
    return db


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as http:
        yield http


@pytest.fixture
async def world(app: FastAPI) -> World:
    """An org with an admin, an analyst and a viewer, and an outsider with an org of their own."""
    return await make_world(app)
