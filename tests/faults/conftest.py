"""Fixtures of the fault tests: a real server whose PostgreSQL or Redis is behind a FaultProxy."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from ledgerline.core import migrations
from tests.conftest import POSTGRES_ADMIN_URL, create_postgres_database, drop_postgres_database
from tests.faults.proxy import FaultProxy
from tests.faults.server import ServerProcess

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RECOVERY_SECONDS = 20.0


@dataclass
class Link:
    """A running server, the proxy between it and the dependency, and what it is behind."""

    server: ServerProcess
    proxy: FaultProxy
    database: str | None = None


def wait_until(check: Callable[[], bool], what: str, seconds: float = RECOVERY_SECONDS) -> None:
    """Poll ``check`` until it holds; a bounded loop, so a service that never recovers fails."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not {what} within {seconds} s")


def answers(client: httpx.Client, path: str, status: int, **kw: object) -> bool:
    try:
        return client.get(path, **kw).status_code == status  # type: ignore[arg-type]
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def postgres_link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Link]:
    """A server on a database of its own, reached through the proxy, with 1 s timeouts."""
    if POSTGRES_ADMIN_URL is None:
        pytest.skip("no PostgreSQL server answers")
    name = f"ledgerline_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    direct = make_url(create_postgres_database(name))
    proxy: FaultProxy | None = None
    server: ServerProcess | None = None
    try:
        migrations.upgrade(direct.render_as_string(hide_password=False))
        proxy = FaultProxy(direct.host or "127.0.0.1", direct.port or 5432).start()
        proxied = direct.set(host="127.0.0.1", port=proxy.port)
        settings = {
            "LEDGERLINE_DATABASE_URL": proxied.render_as_string(hide_password=False),
            "LEDGERLINE_DB_CONNECT_TIMEOUT": "1",
            "LEDGERLINE_DB_STATEMENT_TIMEOUT": "1",
            "LEDGERLINE_DB_POOL_SIZE": "2",
        }
        server = ServerProcess(settings, tmp_path_factory.mktemp("pg-server") / "server.log")
        server.wait_until_serving()
        yield Link(server, proxy, database=name)
    finally:
        if server is not None:
            server.stop()
        if proxy is not None:
            proxy.stop()
        drop_postgres_database(name)


@pytest.fixture(scope="module")
def redis_link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Link]:
    """A server on SQLite whose rate limits live in Redis, reached through the proxy."""
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1).close()
    except OSError:
        pytest.skip(f"no Redis answers on {REDIS_HOST}:{REDIS_PORT}")
    directory: Path = tmp_path_factory.mktemp("redis-server")
    proxy = FaultProxy(REDIS_HOST, REDIS_PORT).start()
    settings = {
        "LEDGERLINE_DATABASE_URL": f"sqlite:///{directory / 'ledgerline.db'}",
        "LEDGERLINE_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0",
        "LEDGERLINE_REDIS_TIMEOUT": "0.3",
        "LEDGERLINE_REQUESTS_PER_USER": "6/hour",
        # The client address is 127.0.0.1 on every run, and the shared Redis outlives runs.
        "LEDGERLINE_LOGIN_FAILURES_PER_ADDRESS": "0",
        "LEDGERLINE_REGISTRATIONS_PER_ADDRESS": "0",
    }
    server = ServerProcess(settings, directory / "server.log")
    try:
        server.wait_until_serving()
        yield Link(server, proxy)
    finally:
        server.stop()
        proxy.stop()
