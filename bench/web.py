"""Web pages' server time next to the API calls each page needs, at 10k and 1M records.

Same data and server as ``bench.dashboard`` (one org, N records over two years, aggregates
built, uvicorn in a subprocess). For each page it times the page (signed in through the sign-in
form, cookie session) and, separately, each API call the page's content needs with the same
parameters, and prints p50s: the page against the sum of its API calls.

    .venv/bin/python -m bench.web --database-url sqlite:// --sizes 10000,1000000
    .venv/bin/python -m bench.web \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --sizes 10000,1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench.dashboard import EMAIL, PASSWORD, _admin, prepare, server


@contextmanager
def fresh_database(base_url: str, size: int, workdir: Path) -> Iterator[str]:
    """An empty database for one size, named for this run so no other run's is touched."""
    if make_url(base_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{workdir / f'bench_web_{size}.db'}"
        return
    name = f"ledgerline_bench_web_{size}_{os.getpid()}"
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


PERIOD = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    params: dict[str, str]
    api_calls: list[tuple[str, dict[str, str]]]


PAGES = [
    Page(
        "dashboard, a year by month",
        "dashboard",
        {"period": "custom", **PERIOD},
        [
            ("/orgs", {}),
            ("dashboard/summary", PERIOD),
            ("dashboard/trends", {**PERIOD, "granularity": "month"}),
            ("dashboard/categories", PERIOD),
            ("dashboard/recent", {**PERIOD, "limit": "10"}),
            ("dashboard/balances", {**PERIOD, "granularity": "month"}),
            ("dashboard/balances", {**PERIOD, "granularity": "month", "by": "account"}),
            ("accounts", {}),
            ("dashboard/insights", {**PERIOD, "currency": "USD"}),
        ],
    ),
    Page(
        "dashboard, a year by day",
        "dashboard",
        {"period": "custom", **PERIOD, "granularity": "day"},
        [
            ("/orgs", {}),
            ("dashboard/summary", PERIOD),
            ("dashboard/trends", {**PERIOD, "granularity": "day"}),
            ("dashboard/categories", PERIOD),
            ("dashboard/recent", {**PERIOD, "limit": "10"}),
            ("dashboard/balances", {**PERIOD, "granularity": "day"}),
            ("dashboard/balances", {**PERIOD, "granularity": "day", "by": "account"}),
            ("accounts", {}),
            ("dashboard/insights", {**PERIOD, "currency": "USD"}),
        ],
    ),
    Page(
        "records, first page",
        "records",
        {},
        [
            ("/orgs", {}),
            ("records", {"limit": "50", "include_total": "true"}),
            ("categories", {}),
            ("accounts", {"include_archived": "true"}),
        ],
    ),
    Page(
        "records, one category and a year",
        "records",
        {"category": "Groceries", **PERIOD},
        [
            ("/orgs", {}),
            (
                "records",
                {"category": "Groceries", **PERIOD, "limit": "50", "include_total": "true"},
            ),
            ("categories", {}),
            ("accounts", {"include_archived": "true"}),
        ],
    ),
    Page(
        "accounts",
        "accounts",
        {},
        [("/orgs", {}), ("accounts", {"include_archived": "true"})],
    ),
]


def _timed(client: httpx.Client, path: str, params: dict[str, str], requests: int) -> float:
    for _ in range(max(3, requests // 10)):
        client.get(path, params=params).raise_for_status()
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return statistics.median(samples)


def measure(base: str, requests: int) -> dict[str, tuple[float, float]]:
    """Per page: p50 of the page, and the sum of the p50s of its API calls (ms)."""
    with (
        httpx.Client(base_url=f"{base}/api/v1", timeout=120) as api,
        httpx.Client(base_url=base, timeout=120) as browser,
    ):
        login = api.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        org_id = api.get("/orgs").json()[0]["id"]
        form = browser.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = browser.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert signed_in.status_code == 303, signed_in.text
        results = {}
        for page in PAGES:
            page_ms = _timed(browser, f"/orgs/{org_id}/{page.path}", page.params, requests)
            api_ms = sum(
                _timed(
                    api,
                    path if path.startswith("/") else f"/orgs/{org_id}/{path}",
                    params,
                    requests,
                )
                for path, params in page.api_calls
            )
            results[page.name] = (page_ms, api_ms)
        return results


def table(results: dict[int, dict[str, tuple[float, float]]]) -> str:
    sizes = sorted(results)
    head = "| page | " + " | ".join(
        f"{size:,}: page / its API calls (ms) | ratio" for size in sizes
    )
    lines = [head + " |", "|---" * (1 + 2 * len(sizes)) + "|"]
    for page in PAGES:
        cells = []
        for size in sizes:
            page_ms, api_ms = results[size][page.name]
            cells.append(f"{page_ms:.1f} / {api_ms:.1f} | {page_ms / api_ms:.2f}")
        lines.append(f"| {page.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="sqlite:// or a PostgreSQL URL")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per call")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ledgerline-bench-web-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            with fresh_database(args.database_url, size, workdir) as url:
                seconds = prepare(url, size)
                print(f"{size:,} records loaded and aggregated in {seconds:.1f} s", file=sys.stderr)
                with server(url, workdir) as base:
                    results[size] = measure(base, args.requests)
    backend = make_url(args.database_url).get_backend_name()
    print(f"Backend: {backend}; p50 of {args.requests} requests each\n")
    print(table(results))


if __name__ == "__main__":
    main()
