"""Time requests to the app in this process: no server, no sockets, so the few tenths of a
millisecond a change takes off a request show through a shared machine's noise.

The app runs under an ASGI client on a fresh database seeded as ``bench.load`` seeds it. Each
path is requested ``--requests`` times in a row, five times over; the figure is the fastest
of the five means. Paths take ``{org}``, ``{account}`` (the org's first account) and
``{record}`` (its newest record). A path after ``POST `` is a create, sent ``bench.load``'s
record. Compare two trees as ``bench.load`` does, running each tree's interpreter (whose
editable install is that tree's code) from this checkout, alternately:

    .venv/bin/python -m bench.in_process --backend sqlite
    /path/to/other/tree/.venv/bin/python -m bench.in_process --backend sqlite
    .venv/bin/python -m bench.in_process --backend postgresql \\
        --paths '/orgs/{org}/dashboard/summary,/orgs/{org}/accounts'
    .venv/bin/python -m bench.in_process --requests 1000 \\
        --paths 'POST /orgs/{org}/records,/orgs/{org}/records/{record}'

With ``--asgi`` the requests are bare ASGI calls (no HTTP client, whose own work is about a
third of a small request's time here), and the figures are this process's CPU time a request
next to its wall time, both the fastest of the five rounds: the app's own cost, with the
database's work left out of the CPU figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Message

from bench.dashboard import EMAIL, PASSWORD, SECRET, prepare
from bench.load import CREATE_BODY, fresh_database

DEFAULT_PATHS = (
    "/orgs/{org}/dashboard/summary",
    "/orgs/{org}/dashboard/summary?date_from=2025-01-15&date_to=2025-11-20",
    "/orgs/{org}/dashboard/categories",
    "/orgs/{org}/dashboard/trends?date_from=2025-01-01&date_to=2025-12-31",
    "/orgs/{org}/dashboard/recent",
    "/orgs/{org}/dashboard/insights?date_from=2025-06-01&date_to=2025-06-30",
    "/orgs/{org}/dashboard/balances?date_from=2025-01-01&date_to=2025-12-31",
    "/orgs/{org}/accounts",
    "/orgs/{org}/accounts/{account}/balances?date_from=2025-01-01&date_to=2025-12-31",
    "/orgs/{org}/categories",
    "/orgs/{org}/records?include_total=true&limit=20",
)
REPEATS = 5


def app_on(url: str, *, log_level: str = "WARNING") -> FastAPI:
    """The app on ``url`` as ``bench.load`` serves it: no migration at start, no request limit."""
    os.environ.update(
        LEDGERLINE_DATABASE_URL=url,
        LEDGERLINE_SECRET_KEY=SECRET,
        LEDGERLINE_AUTO_MIGRATE="false",
        LEDGERLINE_REQUESTS_PER_USER="0",
        LEDGERLINE_LOG_LEVEL=log_level,
    )
    from ledgerline.app import create_app

    return create_app()


@asynccontextmanager
async def signed_in(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The started app's API client, signed in as ``bench.dashboard``'s user, and its org."""
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
            login = await client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            yield client, (await client.get("/orgs")).json()[0]["id"]


async def measure(url: str, paths: Sequence[str], requests: int, *, asgi: bool) -> None:
    app = app_on(url)
    async with signed_in(app) as (client, org):
        account = (await client.get(f"/orgs/{org}/accounts")).json()[0]["id"]
        listed = await client.get(f"/orgs/{org}/records", params={"limit": 1})
        record = listed.json()["items"][0]["id"]
        token = client.headers["Authorization"].removeprefix("Bearer ")
        for template in paths:
            method, _, path = template.rpartition(" ")
            method = method or "GET"
            path = path.format(org=org, account=account, record=record)
            body = CREATE_BODY if method == "POST" else None
            (await client.request(method, path, json=body)).raise_for_status()
            if asgi:
                cpu, wall = await _asgi_calls(app, method, f"/api/v1{path}", token, body, requests)
                print(f"{cpu * 1000:7.3f} ms CPU {wall * 1000:7.3f} ms  {template}", flush=True)
                continue
            fastest = float("inf")
            for _ in range(REPEATS):
                began = time.perf_counter()
                for _ in range(requests):
                    (await client.request(method, path, json=body)).raise_for_status()
                fastest = min(fastest, (time.perf_counter() - began) / requests)
            print(f"{fastest * 1000:7.3f} ms  {template}", flush=True)


async def _asgi_calls(
    app: FastAPI, method: str, path: str, token: str, body: object, requests: int
) -> tuple[float, float]:
    """The fastest of five rounds' CPU and wall time a request, each request a bare ASGI call."""
    raw_path, _, query = path.partition("?")
    content = json.dumps(body).encode() if body is not None else b""
    headers = [(b"host", b"t"), (b"authorization", f"Bearer {token}".encode())]
    if content:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ]
    statuses: list[int] = []

    async def call() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("t", 80),
        }
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)

    cpu = wall = float("inf")
    for _ in range(REPEATS):
        statuses.clear()
        cpu_began, wall_began = time.process_time(), time.perf_counter()
        for _ in range(requests):
            await call()
        cpu = min(cpu, (time.process_time() - cpu_began) / requests)
        wall = min(wall, (time.perf_counter() - wall_began) / requests)
        if any(not 200 <= status < 300 for status in statuses):
            raise RuntimeError(f"{method} {path} answered {sorted(set(statuses))}")
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="per path and repeat")
    parser.add_argument("--paths", default=",".join(DEFAULT_PATHS), help="comma-separated")
    parser.add_argument(
        "--asgi", action="store_true", help="bare ASGI calls; CPU and wall time a request"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ledgerline-in-process-") as tmp,
        fresh_database(args.backend, Path(tmp)) as url,
    ):
        prepare(url, args.records)
        asyncio.run(measure(url, args.paths.split(","), args.requests, asgi=args.asgi))


if __name__ == "__main__":
    main()
