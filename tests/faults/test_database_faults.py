"""PostgreSQL that refuses, drops or stops answering: 503 with Retry-After, then recovery.

A real server runs with 1 s database timeouts behind a FaultProxy; each fault is real (closed
sockets, a closed port, a link that forwards nothing, a database that refuses connections).
A client that gives up after a few seconds turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from ledgerline.core.db import PING_AFTER_IDLE
from tests.conftest import _pg_admin
from tests.faults.conftest import Link, answers, wait_until

pytestmark = pytest.mark.postgres_only

ANSWER_SECONDS = 8.0
"""Well above what 1 s timeouts allow for (checkout, ping, reconnect), well below a hang."""
READYZ_SECONDS = 3.0
"""``/readyz`` answers within 2 s; the rest is slack for a busy machine."""


@pytest.fixture
def link(postgres_link: Link) -> Iterator[Link]:
    """The shared server, healed and answering again after each test."""
    yield postgres_link
    postgres_link.proxy.heal()
    with postgres_link.server.client() as client:
        wait_until(lambda: answers(client, "/readyz", 200), "ready again")


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0


def assert_not_ready(server_url: str) -> None:
    readiness = httpx.get(f"{server_url}/readyz", timeout=READYZ_SECONDS)
    assert_unavailable(readiness)
    assert readiness.json()["database"] == "down"


def assert_recovers(link: Link, headers: dict[str, str]) -> None:
    with link.server.client() as client:
        wait_until(lambda: answers(client, "/api/v1/users/me", 200, headers=headers), "recovered")
        assert client.get("/readyz").json() == {"status": "ready", "database": "ok", "redis": "off"}


def test_refused_connections_answer_503_then_recover(link: Link) -> None:
    with httpx.Client(base_url=link.server.base_url, timeout=ANSWER_SECONDS) as client:
        headers = link.server.login(client)
        assert client.get("/api/v1/users/me", headers=headers).status_code == 200
        link.proxy.refuse()
        assert_unavailable(client.get("/api/v1/users/me", headers=headers))
        assert_unavailable(
            client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
        )
        assert_not_ready(link.server.base_url)
    link.proxy.heal()
    assert_recovers(link, headers)


def test_dropped_connections_are_replaced_without_an_error(link: Link) -> None:
    with httpx.Client(base_url=link.server.base_url, timeout=ANSWER_SECONDS) as client:
        headers = link.server.login(client)
        for _ in range(3):
            link.proxy.cut()
            assert client.get("/api/v1/users/me", headers=headers).status_code == 200


def test_connections_gone_silent_while_idle_are_pinged_and_replaced(link: Link) -> None:
    """A link that forgot the pooled connections (no close, nothing forwarded) is found by the
    ping of a connection idle for ``PING_AFTER_IDLE``: the request gets a new connection."""
    with httpx.Client(base_url=link.server.base_url, timeout=ANSWER_SECONDS) as client:
        headers = link.server.login(client)
        link.proxy.silence_open()
        time.sleep(PING_AFTER_IDLE + 0.5)
        for _ in range(3):
            assert client.get("/api/v1/users/me", headers=headers).status_code == 200


def test_frozen_database_answers_503_within_the_timeouts_then_recovers(link: Link) -> None:
    with httpx.Client(base_url=link.server.base_url, timeout=ANSWER_SECONDS) as client:
        headers = link.server.login(client)
        link.proxy.freeze()
        assert_unavailable(client.get("/api/v1/users/me", headers=headers))
        assert_unavailable(client.get("/api/v1/orgs", headers=headers))
        assert_not_ready(link.server.base_url)
    link.proxy.heal()
    assert_recovers(link, headers)


def test_database_refusing_connections_answers_503_then_recovers(link: Link) -> None:
    assert link.database is not None
    name = link.database
    with httpx.Client(base_url=link.server.base_url, timeout=ANSWER_SECONDS) as client:
        headers = link.server.login(client)
        try:
            asyncio.run(_pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            asyncio.run(_pg_admin(f"{terminate}'{name}'"))
            assert_unavailable(client.get("/api/v1/users/me", headers=headers))
            assert_not_ready(link.server.base_url)
        finally:
            asyncio.run(_pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert_recovers(link, headers)
