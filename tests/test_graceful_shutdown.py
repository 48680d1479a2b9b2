"""SIGTERM to a real ``ledgerline serve``: the listener closes, requests in flight finish, and
one still running after LEDGERLINE_SHUTDOWN_TIMEOUT_SECONDS is cancelled with its transaction
rolled back: nothing is half-written."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from ledgerline.core import migrations
from tests.conftest import TEST_SECRET, empty_database_url
from tests.factories import PASSWORD, bearer

ADMIN = "admin@example.com"
RECORD = {"type": "expense", "amount": "12.50", "category": "Rent", "date": "2026-03-01"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_for(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.05)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    database_url: str
    token: str
    org_id: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def raw_request(self, method: str, path: str, body: bytes, *, expect_continue: bool) -> bytes:
        head = (
            f"{method} /api/v1{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        if expect_continue:
            head += "Expect: 100-continue\r\n"
        return f"{head}\r\n".encode()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)


def read_response(connection: socket.socket) -> bytes:
    connection.settimeout(60)
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


@pytest.fixture
def postgres_backend(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("holding a row lock from outside is a PostgreSQL matter")


def start_server(
    url: str, log_file: Path, shutdown_timeout: int
) -> tuple[subprocess.Popen[bytes], int]:
    """``ledgerline serve`` on ``url``, listening; its process and port."""
    port = free_port()
    environment = {
        **os.environ,
        "LEDGERLINE_DATABASE_URL": url,
        "LEDGERLINE_AUTO_MIGRATE": "false",
        "LEDGERLINE_SECRET_KEY": TEST_SECRET,
        "LEDGERLINE_ADMIN_EMAIL": ADMIN,
        "LEDGERLINE_ADMIN_PASSWORD": PASSWORD,
        "LEDGERLINE_PASSWORD_HASH_TIME_COST": "1",
        "LEDGERLINE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "LEDGERLINE_LOG_JSON": "false",
        "LEDGERLINE_SHUTDOWN_TIMEOUT_SECONDS": str(shutdown_timeout),
        # Longer than any wait here: a statement left waiting on a lock ends because its
        # client is gone, not because it timed out.
        "LEDGERLINE_DB_STATEMENT_TIMEOUT": "600",
    }
    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the test's own interpreter
            [sys.executable, "-m", "ledgerline", "serve", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_for(lambda: listening(port) or process.poll() is not None, "serve started")
    assert process.poll() is None, log_file.read_text()
    return process, port


@pytest.fixture
def server(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """``ledgerline serve`` on a migrated database of its own, its admin signed in."""
    shutdown_timeout = getattr(request, "param", 30)
    for url in empty_database_url(backend, tmp_path, "shutdown"):
        migrations.upgrade(url)
        process, port = start_server(url, tmp_path / "serve.log", shutdown_timeout)
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            login = httpx.post(f"{base}/auth/login", json={"email": ADMIN, "password": PASSWORD})
            token = login.json()["access_token"]
            orgs = httpx.get(f"{base}/orgs", headers=bearer(token)).json()
            yield Server(process, port, url, token, orgs[0]["id"])
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)


def ended_by_itself(server: Server) -> bool:
    """The server exited after its graceful shutdown (uvicorn re-raises SIGTERM at the end)."""
    return server.process.wait(timeout=60) in (0, -signal.SIGTERM)


def stopped_listening(server: Server) -> None:
    """SIGTERM, then wait until the listener is closed: the shutdown has begun."""
    server.stop()
    wait_for(lambda: not listening(server.port), "listener closed after SIGTERM")
    assert server.process.poll() is None, "the server quit with a request in flight"


async def count_records(database_url: str) -> int:
    from ledgerline.core.db import Database

    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            result = await connection.exec_driver_sql("SELECT count(*) FROM records")
            return int(result.scalar_one())
    finally:
        await database.dispose()


async def test_a_request_in_flight_at_sigterm_completes(server: Server) -> None:
    body = json.dumps(RECORD).encode()
    path = f"/orgs/{server.org_id}/records"
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(server.raw_request("POST", path, body, expect_continue=True))
        connection.settimeout(60)
        # The server asks for the body only once the app reads it: the request is in flight.
        assert connection.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        await asyncio.to_thread(stopped_listening, server)
        connection.sendall(body)
        answer = await asyncio.to_thread(read_response, connection)
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert await asyncio.to_thread(ended_by_itself, server)
    assert await count_records(server.database_url) == 1


def postgres_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


async def blocked_on_a_lock(server: Server) -> asyncpg.Connection:
    """Create one record, then lock its daily total from outside and send a second record,
    which inserts its row and then waits to add itself to that total: a transaction half
    done. The lock holder's connection, in its open transaction."""
    async with httpx.AsyncClient(base_url=server.base, headers=bearer(server.token)) as client:
        created = await client.post(f"/orgs/{server.org_id}/records", json=RECORD)
    assert created.status_code == 201, created.text
    holder = await asyncpg.connect(postgres_dsn(server.database_url))
    await holder.execute("BEGIN")
    await holder.execute("SELECT 1 FROM daily_totals FOR UPDATE")
    return holder


async def _until_lock_waiters(holder: asyncpg.Connection, *, some: bool, failure: str) -> None:
    for _ in range(1200):
        waiting = await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if bool(waiting) == some:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(failure)


async def wait_for_lock_waiter(holder: asyncpg.Connection) -> None:
    await _until_lock_waiters(holder, some=True, failure="the second record never waited")


async def wait_for_no_lock_waiter(holder: asyncpg.Connection) -> None:
    """Until no statement waits for the lock: the one whose client is gone has been ended by
    the server (``client_connection_check_interval``, ``core/db.py``)."""
    await _until_lock_waiters(
        holder, some=False, failure="the cancelled request's statement still waits for the lock"
    )


@pytest.mark.postgres_only
async def test_a_transaction_in_flight_at_sigterm_commits_whole(
    postgres_backend: None, server: Server
) -> None:
    holder = await blocked_on_a_lock(server)
    body = json.dumps(RECORD).encode()
    path = f"/orgs/{server.org_id}/records"
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(server.raw_request("POST", path, body, expect_continue=False) + body)
        await wait_for_lock_waiter(holder)
        await asyncio.to_thread(stopped_listening, server)
        await holder.execute("ROLLBACK")
        answer = await asyncio.to_thread(read_response, connection)
    await holder.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert await asyncio.to_thread(ended_by_itself, server)
    assert await count_records(server.database_url) == 2


@pytest.mark.postgres_only
@pytest.mark.parametrize("server", [1], indirect=True, ids=["shutdown timeout 1 s"])
async def test_a_transaction_still_running_at_the_timeout_is_rolled_back(
    postgres_backend: None, server: Server
) -> None:
    holder = await blocked_on_a_lock(server)
    body = json.dumps(RECORD).encode()
    path = f"/orgs/{server.org_id}/records"
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(server.raw_request("POST", path, body, expect_continue=False) + body)
        await wait_for_lock_waiter(holder)
        await asyncio.to_thread(stopped_listening, server)
        # It gave up on the request and cancelled it, then ended. The create is one statement
        # (``records/create_statement.py``), which would commit as it ends: the server ends it
        # first, having found its client gone, and only then is the lock released.
        assert await asyncio.to_thread(ended_by_itself, server)
        answer = await asyncio.to_thread(read_response, connection)
        await wait_for_no_lock_waiter(holder)
    await holder.execute("ROLLBACK")
    await holder.close()
    assert not answer.startswith(b"HTTP/1.1 201"), answer
    assert await count_records(server.database_url) == 1  # the second insert was rolled back
    conn = await asyncpg.connect(postgres_dsn(server.database_url))
    try:
        total = await conn.fetchval("SELECT sum(record_count) FROM daily_totals")
    finally:
        await conn.close()
    assert total == 1
