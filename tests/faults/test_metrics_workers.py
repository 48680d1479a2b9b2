"""``serve --workers 2``: /metrics sums every worker, and the start says limits are per process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import wait_until
from tests.faults.server import ServerProcess

METRICS_TOKEN = "two-worker-scrape-token"
REQUESTS = 120
PATH = "/api/v1/users/me"
"""Asked without a token (401): no other request of the test, nor the start-up polling of
/healthz, lands on this route and status."""
COUNT = re.compile(
    r'^ledgerline_http_requests_total\{method="GET",route="/api/v1/users/me",status="401"\} (\S+)$',
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory: Path = tmp_path_factory.mktemp("two-workers")
    settings = {
        "LEDGERLINE_DATABASE_URL": f"sqlite:///{directory / 'ledgerline.db'}",
        "LEDGERLINE_METRICS_TOKEN": METRICS_TOKEN,
    }
    server = ServerProcess(settings, directory / "server.log", workers=2)
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


def fresh_connection_get(url: str) -> int:
    """One request on a connection of its own, so the kernel may hand it to either worker."""
    with httpx.Client(timeout=15) as client:
        return client.get(url).status_code


def test_metrics_add_up_the_requests_of_every_worker(two_workers: ServerProcess) -> None:
    def scraped_count() -> float:
        response = httpx.get(
            f"{two_workers.base_url}/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=15,
        )
        assert response.status_code == 200, response.text
        match = COUNT.search(response.text)
        return float(match.group(1)) if match else 0.0

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fresh_connection_get, [two_workers.base_url + PATH] * REQUESTS))
    assert statuses == [401] * REQUESTS
    # A worker counts a request once its answer has gone out: wait for the last of them.
    wait_until(lambda: scraped_count() == REQUESTS, "every request counted")
    assert [scraped_count() for _ in range(4)] == [REQUESTS] * 4


def test_metrics_need_the_token(two_workers: ServerProcess) -> None:
    response = httpx.get(f"{two_workers.base_url}/metrics", timeout=15)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_start_says_rate_limits_are_per_process_without_redis(two_workers: ServerProcess) -> None:
    lines = [line for line in two_workers.output().splitlines() if "per process" in line]
    assert len(lines) == 1
    assert "LEDGERLINE_REDIS_URL" in lines[0]
