"""Rate limits whose Redis refuses connections or never answers: counted in the process,
one warning, and ``/readyz`` says so. (``tests/faults`` checks the recovery against a real
Redis behind a proxy; these need no Redis at all.)"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, api_client
from tests.core.test_errors_and_operations import collect_logs
from tests.factories import PASSWORD, make_user


def root_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo the logging set-up of apps built in the test, which is global."""
    logger = logging.getLogger("ledgerline")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture(params=["refusing", "silent"])
def broken_redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A port where nothing listens, or a socket that accepts connections (the kernel does, from
    its backlog) but never reads or answers, like a frozen server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if request.param == "refusing":
            listener.close()
        else:
            listener.listen(64)
        yield f"redis://127.0.0.1:{port}/0"


@pytest.mark.usefixtures("restore_logging")
async def test_limits_count_in_the_process_while_redis_is_broken(
    app_factory: AppFactory, broken_redis_url: str
) -> None:
    application = await app_factory(
        redis_url=broken_redis_url, redis_timeout=0.2, requests_per_user="3/hour"
    )
    user = await make_user(application)
    with collect_logs() as logged:
        async with api_client(application) as client:
            login = await client.post(
                "/auth/login", json={"email": user.email, "password": PASSWORD}
            )
            statuses = [
                (await client.get("/users/me", headers=user.headers)).status_code for _ in range(4)
            ]
        async with root_client(application) as client:
            readiness = await client.get("/readyz")
    assert login.status_code == 200, login.text
    assert statuses == [200, 200, 200, 429]
    assert readiness.status_code == 200
    assert readiness.json() == {"status": "ready", "database": "ok", "redis": "down"}
    warned = [
        r for r in logged if r.name == "ledgerline.ratelimit" and r.levelno >= logging.WARNING
    ]
    assert len(warned) == 1
