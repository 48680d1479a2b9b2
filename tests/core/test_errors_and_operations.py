"""Problem documents for every error, request ids, and the operations endpoints."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query
from sqlalchemy import literal, select

from ledgerline.app import create_app
from ledgerline.auth.tokens import AccessTokens
from ledgerline.core.db import Database
from ledgerline.core.deps import SessionDep
from ledgerline.core.observability import JsonFormatter
from ledgerline.core.routing import UNSTORABLE_TEXT, LedgerlineRoute
from tests.conftest import TEST_SECRET, AppFactory, api_client, make_settings
from tests.factories import error_fields, problem

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def root_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def collect_logs() -> Iterator[list[logging.LogRecord]]:
    """Records of the ``ledgerline`` loggers; enter it after the app is built, which resets them."""
    collector = _Collect()
    logger = logging.getLogger("ledgerline")
    logger.addHandler(collector)
    try:
        yield collector.records
    finally:
        logger.removeHandler(collector)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo the logging set-up of apps built in the test, which is global."""
    logger = logging.getLogger("ledgerline")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


class TestProblemDocuments:
    async def test_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/no/such/thing")
        problem(response, 404)
        assert response.headers["x-request-id"]

    async def test_wrong_method_is_a_405_problem_allowing_every_method_of_the_path(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.delete("/users/me")
        problem(response, 405)
        assert response.headers["allow"] == "GET, HEAD, PATCH"

    async def test_malformed_json_is_a_400_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
        )
        problem(response, 400)

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    async def test_non_finite_json_literal_is_a_400_problem(
        self, client: httpx.AsyncClient, literal: str
    ) -> None:
        body = f'{{"email": "a@example.com", "password": {literal}}}'.encode()
        response = await client.post(
            "/auth/login", content=body, headers={"content-type": "application/json"}
        )
        problem(response, 400)

    async def test_json_body_without_content_type_is_a_415_problem(
        self, client: httpx.AsyncClient
    ) -> None:
        body = json.dumps({"email": "a@example.com", "password": "whatever-it-is"}).encode()
        response = await client.post("/auth/login", content=body)
        assert "content-type" not in response.request.headers
        problem(response, 415)

    async def test_missing_body_is_a_422_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/auth/login")
        assert error_fields(response) == {"body"}

    async def test_text_plain_body_is_a_415_problem(self, client: httpx.AsyncClient) -> None:
        body = json.dumps({"email": "a@example.com", "password": "whatever-it-is"})
        response = await client.post(
            "/auth/login", content=body, headers={"content-type": "text/plain"}
        )
        problem(response, 415)

    async def test_validation_failure_names_every_failing_field(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/auth/register", json={"email": "nope", "extra": 1})
        assert error_fields(response) == {"email", "password", "full_name", "extra"}
        body = response.json()
        assert all(error["message"] for error in body["errors"])
        assert "email" in body["detail"]

    async def test_query_parameter_errors_are_named_query_dot_name(
        self, app_factory: AppFactory
    ) -> None:
        application = await app_factory()

        async def probe(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, int]:
            return {"limit": limit}

        application.router.add_api_route("/api/v1/probe", probe, methods=["GET"])
        async with api_client(application) as client:
            assert (await client.get("/probe", params={"limit": 5})).json() == {"limit": 5}
            response = await client.get("/probe", params={"limit": 0})
        assert error_fields(response) == {"query.limit"}

    async def test_path_parameter_errors_are_named_path_dot_name(
        self, app_factory: AppFactory
    ) -> None:
        application = await app_factory()

        async def probe(number: int) -> dict[str, int]:
            return {"number": number}

        application.router.add_api_route("/api/v1/probe/{number}", probe, methods=["GET"])
        async with api_client(application) as client:
            response = await client.get("/probe/many")
        assert error_fields(response) == {"path.number"}


class TestBodySize:
    LIMIT = 2048

    @pytest.fixture
    async def small(self, app_factory: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
        async with api_client(await app_factory(max_json_body_bytes=self.LIMIT)) as client:
            yield client

    async def test_declared_oversized_body_is_a_413_problem(self, small: httpx.AsyncClient) -> None:
        response = await small.post(
            "/auth/login", json={"email": "a" * self.LIMIT, "password": "x"}
        )
        problem(response, 413)
        assert response.headers["x-request-id"]

    async def test_streamed_oversized_body_is_a_413_problem(self, small: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"email": "'
            for _ in range(4):
                yield b"a" * (self.LIMIT // 2)
            yield b'", "password": "x"}'

        response = await small.post(
            "/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        problem(response, 413)

    async def test_form_body_is_limited_too(self, small: httpx.AsyncClient) -> None:
        response = await small.post(
            "/auth/token", data={"username": "a" * self.LIMIT, "password": "x"}
        )
        problem(response, 413)

    async def test_body_within_the_limit_is_read(self, small: httpx.AsyncClient) -> None:
        response = await small.post(
            "/auth/login", json={"email": "a" * (self.LIMIT - 100), "password": "x"}
        )
        assert error_fields(response) == {"email"}


class TestUnhandledError:
    async def test_500_carries_the_request_id_and_nothing_internal(
        self, app_factory: AppFactory
    ) -> None:
        application = await app_factory()

        async def explode() -> None:
            raise RuntimeError("SELECT password_hash FROM users")

        application.router.add_api_route("/api/v1/explode", explode, methods=["GET"])
        with collect_logs() as logged:
            async with api_client(application) as client:
                response = await client.get("/explode")
        body = problem(response, 500)
        assert body["request_id"] == response.headers["x-request-id"]
        for secret in ("SELECT", "password_hash", "RuntimeError", "Traceback", "explode"):
            assert secret not in response.text
        [error] = [record for record in logged if record.levelno >= logging.ERROR]
        assert error.__dict__["request_id"] == body["request_id"]
        assert error.exc_info is not None

    async def test_500_echoes_the_clients_request_id(self, app_factory: AppFactory) -> None:
        application = await app_factory()

        async def explode() -> None:
            raise RuntimeError("boom")

        application.router.add_api_route("/api/v1/explode", explode, methods=["GET"])
        async with api_client(application) as client:
            response = await client.get("/explode", headers={"X-Request-ID": "trace-42"})
        assert problem(response, 500)["request_id"] == "trace-42"
        assert response.headers["x-request-id"] == "trace-42"


class TestTextTheDatabaseCannotTake:
    async def test_nul_that_reaches_postgresql_unchecked_is_a_400_not_a_500(
        self, app_factory: AppFactory, backend: str
    ) -> None:
        """Schemas refuse control characters in the text fields they know; for one they miss,
        PostgreSQL's refusal of NUL is the client's mistake, not a server error."""
        application = await app_factory()

        async def echo(text: str, session: SessionDep) -> dict[str, str | None]:
            return {"text": await session.scalar(select(literal(text)))}

        application.router.add_api_route(
            "/api/v1/echo", echo, methods=["GET"], route_class_override=LedgerlineRoute
        )
        async with api_client(application) as client:
            assert (await client.get("/echo", params={"text": "ab"})).json() == {"text": "ab"}
            response = await client.get("/echo", params={"text": "a\x00b"})
        if backend == "postgresql":
            assert problem(response, 400)["detail"] == UNSTORABLE_TEXT
        else:
            assert response.json() == {"text": "a\x00b"}


class TestRequestId:
    async def test_every_response_gets_a_generated_id(self, client: httpx.AsyncClient) -> None:
        for response in (await client.get("/users/me"), await client.get("/nowhere")):
            assert GENERATED_ID.match(response.headers["x-request-id"])
        first, second = await client.get("/users/me"), await client.get("/users/me")
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    @pytest.mark.parametrize("supplied", ["abc-123", "trace_id.v1:span/7+x=y@host", "x" * 128, "0"])
    async def test_safe_client_id_is_echoed(self, client: httpx.AsyncClient, supplied: str) -> None:
        response = await client.get("/users/me", headers={"X-Request-ID": supplied})
        assert response.headers["x-request-id"] == supplied

    @pytest.mark.parametrize(
        "supplied",
        ["has space", "x" * 129, "y" * 200, "tab\there", "semi;colon", 'quote"d', "<script>"],
    )
    async def test_unsafe_client_id_is_replaced(
        self, client: httpx.AsyncClient, supplied: str
    ) -> None:
        response = await client.get("/users/me", headers={"X-Request-ID": supplied})
        assert GENERATED_ID.match(response.headers["x-request-id"])


class TestHealth:
    async def test_healthz_answers_while_the_process_runs(self, app: FastAPI) -> None:
        async with root_client(app) as client:
            response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readyz_answers_when_the_database_does(self, app: FastAPI) -> None:
        async with root_client(app) as client:
            response = await client.get("/readyz")
        assert response.status_code == 200

    async def test_readyz_answers_while_a_long_write_holds_the_writers(self, app: FastAPI) -> None:
        """SQLite's writers share one connection; an import holding it leaves the database
        ready."""
        database: Database = app.state.database
        async with database.engine.connect() as writing, root_client(app) as client:
            await writing.execute(select(literal(1)))
            response = await asyncio.wait_for(client.get("/readyz"), timeout=5)
        assert response.status_code == 200
        assert response.json()["database"] == "ok"


@pytest.fixture(params=["sqlite-missing-directory", "postgresql-closed-port"])
async def app_without_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    """An app whose database does not answer. It is never started: starting checks the schema,
    which would fail on the unreachable database, which is the point."""
    url = (
        f"sqlite:///{tmp_path / 'missing' / 'ledgerline.db'}"
        if str(request.param).startswith("sqlite")
        else "postgresql://postgres@127.0.0.1:1/ledgerline"
    )
    application = create_app(make_settings(url))
    application.state.access_tokens = AccessTokens(TEST_SECRET, lifetime=dt.timedelta(minutes=5))
    try:
        yield application
    finally:
        database: Database = application.state.database
        await database.dispose()


class TestDatabaseDown:
    async def test_readyz_is_503_with_retry_after(self, app_without_database: FastAPI) -> None:
        async with root_client(app_without_database) as client:
            response = await client.get("/readyz")
            health = await client.get("/healthz")
        problem(response, 503)
        assert int(response.headers["retry-after"]) > 0
        assert health.status_code == 200

    async def test_api_requests_are_503_with_retry_after(
        self, app_without_database: FastAPI
    ) -> None:
        async with api_client(app_without_database) as client:
            response = await client.post(
                "/auth/login", json={"email": "a@example.com", "password": "whatever-it-is"}
            )
        body = problem(response, 503)
        assert int(response.headers["retry-after"]) > 0
        assert "sqlite" not in body["detail"].lower()
        assert "127.0.0.1" not in response.text


class TestObservability:
    async def test_metrics_count_requests_by_full_route_template(self, app: FastAPI) -> None:
        async with root_client(app) as client:
            await client.get("/api/v1/users/me")
            await client.get(f"/api/v1/orgs/{'0' * 8}-0000-0000-0000-{'0' * 12}")
            await client.get("/api/v1/unknown-7f3a")
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert (
            'ledgerline_http_requests_total{method="GET",route="/api/v1/users/me",status="401"}'
            in text
        )
        assert 'route="/api/v1/orgs/{org_id}"' in text
        assert 'route="unmatched",status="404"' in text
        assert "unknown-7f3a" not in text
        assert "ledgerline_http_request_duration_seconds_bucket" in text
        assert "ledgerline_db_pool_connections_in_use" in text
        assert "ledgerline_db_pool_size" in text

    async def test_the_pool_figure_is_the_connections_in_use_when_scraped(
        self, app: FastAPI
    ) -> None:
        database: Database = app.state.database
        async with root_client(app) as client:
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
                held = await client.get("/metrics")
            free = await client.get("/metrics")
        kept = int(database.readers is not None and database.readers.keeps_one)
        assert f"ledgerline_db_pool_connections_in_use {kept + 1}.0" in held.text
        assert f"ledgerline_db_pool_connections_in_use {kept}.0" in free.text, (
            "none but SQLite's kept reader connection, once a write request opened it"
        )

    @pytest.mark.usefixtures("restore_logging")
    async def test_each_request_is_one_structured_log_line(self, app_factory: AppFactory) -> None:
        application = await app_factory(log_level="INFO")
        with collect_logs() as logged:
            async with api_client(application) as client:
                answers = [
                    await client.get("/users/me", headers={"X-Request-ID": "one"}),
                    await client.post("/auth/login", json={}),
                ]
        access = [record for record in logged if record.name == "ledgerline.access"]
        assert len(access) == len(answers)
        lines = [JsonFormatter().format(record) for record in access]
        assert all("\n" not in line for line in lines)
        entries = [json.loads(line) for line in lines]
        assert [(e["method"], e["route"], e["status"]) for e in entries] == [
            ("GET", "/api/v1/users/me", 401),
            ("POST", "/api/v1/auth/login", 422),
        ]
        assert [e["request_id"] for e in entries] == [a.headers["x-request-id"] for a in answers]
        assert all(isinstance(e["duration_ms"], float) for e in entries)

    def test_each_log_line_has_its_own_seconds_timestamp(self) -> None:
        formatter = JsonFormatter()
        moments = [1_767_225_599.2, 1_767_225_599.9, 1_767_225_600.1, 1_767_225_599.5]
        stamps = []
        for created in moments:
            record = logging.makeLogRecord({"msg": "request", "created": created})
            stamps.append(json.loads(formatter.format(record))["ts"])
        expected = [
            dt.datetime.fromtimestamp(int(m)).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
            for m in moments
        ]
        assert stamps == expected
        assert stamps[0] == stamps[1] != stamps[2]
