"""Redis that refuses or stops answering: requests go on, limits count in each process, and
shared counting resumes by itself.

The server keeps its rate limits in Redis behind a FaultProxy, with a limit of 6 authenticated
requests per user; which side counted a request shows in when the limit refuses.
"""

from __future__ import annotations

import time

import httpx

from tests.faults.conftest import Link, wait_until

LIMIT = 6
ANSWER_SECONDS = 5.0
"""A request never waits on Redis for more than its timeout (0.3 s here); this is slack."""
FALLBACK_WARNING = "Redis is not answering"


def redis_state(client: httpx.Client) -> str:
    readiness = client.get("/readyz")
    assert readiness.status_code == 200, readiness.text
    return str(readiness.json()["redis"])


def accepted_until_limited(client: httpx.Client, headers: dict[str, str]) -> int:
    """Authenticated requests answered 200 before the first 429 (which must come)."""
    for accepted in range(LIMIT + 1):
        response = client.get("/api/v1/users/me", headers=headers)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
            return accepted
        assert response.status_code == 200, response.text
    raise AssertionError(f"more than {LIMIT} requests accepted")


def test_redis_outage_falls_back_to_counting_per_process_and_recovers(redis_link: Link) -> None:
    server, proxy = redis_link.server, redis_link.proxy
    started = time.monotonic()
    with httpx.Client(base_url=server.base_url, timeout=ANSWER_SECONDS) as client:
        headers = server.login(client)
        assert client.get("/api/v1/users/me", headers=headers).status_code == 200

        proxy.refuse()
        headers = server.login(client)
        assert accepted_until_limited(client, headers) == LIMIT
        assert redis_state(client) == "down"

        proxy.heal()
        wait_until(lambda: redis_state(client) == "ok", "sharing counts again")
        assert accepted_until_limited(client, headers) == LIMIT - 1

        proxy.freeze()
        assert server.login(client)
        assert redis_state(client) == "down"
        assert client.get("/api/v1/users/me", headers=headers).status_code == 429

        proxy.heal()
        wait_until(lambda: redis_state(client) == "ok", "sharing counts again")
    elapsed_minutes = (time.monotonic() - started) / 60
    warnings = server.output().count(FALLBACK_WARNING)
    assert 1 <= warnings <= 1 + int(elapsed_minutes)
