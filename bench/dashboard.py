"""Dashboard latency at 10k, 100k and 1M records in one org, over HTTP, on one process.

For each size: a fresh database (an SQLite file in a temporary directory, or a new PostgreSQL
database next to the one ``--database-url`` names), migrated; a user and an org created through
the services; N records bulk-loaded straight into the records table (executemany in one
transaction on SQLite, COPY on PostgreSQL) with two years of dates, 20 categories, both types
and two currencies; the aggregates built by ``aggregates.rebuild``; then the app served by
uvicorn in a subprocess (one process) and every dashboard endpoint timed with a keep-alive
client after a warm-up. Prints a Markdown table of p50 and p99 per endpoint and size.

    .venv/bin/python -m bench.dashboard --database-url sqlite:// --sizes 10000,100000,1000000
    .venv/bin/python -m bench.dashboard \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --sizes 10000,100000,1000000

The PostgreSQL role must be allowed to create databases; each one is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledgerline.accounts import service as accounts_service
from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.core.ids import new_id
from ledgerline.core.text import fold_key
from ledgerline.dashboard import aggregates
from ledgerline.orgs import service as orgs_service
from ledgerline.records import service as records_service
from ledgerline.records.models import Record
from ledgerline.users import service as users_service

EMAIL, PASSWORD = "bench@example.com", "a-Sturdy-bench-passphrase-42"
SECRET = secrets.token_urlsafe(48)
CATEGORIES = [
    "Rent", "Groceries", "Restaurants", "Transport", "Fuel", "Utilities", "Phone", "Internet",
    "Insurance", "Health", "Pharmacy", "Clothing", "Travel", "Hotels", "Books", "Software",
    "Gifts", "Taxes", "Salary", "Consulting",
]  # fmt: skip
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 731
BATCH = 50_000
COLUMNS = [
    "id", "org_id", "amount_minor", "amount_scaled", "currency", "type", "category_id",
    "account_id", "date", "notes", "search_key", "created_by", "updated_by", "version",
    "deleted_at", "created_at", "updated_at",
]  # fmt: skip


SERVE = [
    sys.executable, "-m", "uvicorn", "ledgerline.app:create_app", "--factory",
    "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log",
]  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    params: dict[str, str]


ENDPOINTS = [
    Endpoint("summary", "dashboard/summary", {}),
    Endpoint("categories", "dashboard/categories", {}),
    Endpoint("trends (month)", "dashboard/trends", {"granularity": "month"}),
    Endpoint("trends (week)", "dashboard/trends", {"granularity": "week"}),
    Endpoint("trends (day)", "dashboard/trends", {"granularity": "day"}),
    Endpoint("recent", "dashboard/recent", {}),
    Endpoint("insights", "dashboard/insights", {}),
    Endpoint(
        "summary, one month",
        "dashboard/summary",
        {"date_from": "2025-06-01", "date_to": "2025-06-30"},
    ),
    Endpoint(
        "recent, one month",
        "dashboard/recent",
        {"date_from": "2025-06-01", "date_to": "2025-06-30"},
    ),
    Endpoint(
        "insights, one month",
        "dashboard/insights",
        {"date_from": "2025-06-01", "date_to": "2025-06-30"},
    ),
    Endpoint("accounts with balances", "accounts", {}),
    Endpoint(
        "account balances (day, 2 years)",
        "accounts/{main}/balances",
        {"granularity": "day", "date_from": "2024-01-01", "date_to": "2025-12-31"},
    ),
    Endpoint("net worth (month)", "dashboard/balances", {}),
]


# --- databases -------------------------------------------------------------------------------


async def _admin(admin_url: str, sql: str) -> None:
    url = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database(base_url: str, size: int, workdir: Path) -> Iterator[str]:
    """An empty database for one size, removed afterwards."""
    if make_url(base_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{workdir / f'bench_{size}.db'}"
        return
    name = f"ledgerline_bench_dashboard_{size}"
    asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True)
class Org:
    org_id: uuid.UUID
    user_id: uuid.UUID
    category_ids: dict[str, uuid.UUID]
    account_ids: dict[str, uuid.UUID]


async def create_org(database: Database) -> Org:
    """A user, an org and its categories, through the services."""
    hasher = PasswordHasher(time_cost=1, memory_kib=1024)
    async with database.sessions() as session:
        user = await users_service.create_user(
            session, hasher, email=EMAIL, password=PASSWORD, full_name="Bench"
        )
        org = await orgs_service.create_org(session, owner_id=user.id, name="Big", currency="USD")
        categories = {
            name: (await records_service.category_for(session, org.id, name)).id
            for name in CATEGORIES
        }
        accounts = await accounts_service.default_accounts(session, org.id, {"USD", "EUR"}, {})
        await session.commit()
    return Org(org.id, user.id, categories, accounts)


def generate(org: Org, size: int, seed: int) -> Iterator[list[tuple[Any, ...]]]:
    """Records in batches of rows in ``COLUMNS`` order: two years of dates, expense-heavy,
    one in ten in EUR, one in a hundred soft-deleted."""
    rng = random.Random(seed)
    names = list(org.category_ids)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    batch: list[tuple[Any, ...]] = []
    for n in range(size):
        category = names[int(rng.paretovariate(1.2)) % len(names)]
        kind = (
            "income" if category in ("Salary", "Consulting") or rng.random() < 0.05 else "expense"
        )
        minor = int(rng.lognormvariate(8, 1.5)) + 1
        notes = None if n % 3 else f"note {n}"
        created = start + dt.timedelta(seconds=n * 60)
        deleted = created if n % 100 == 0 else None
        currency = "EUR" if n % 10 == 0 else "USD"
        batch.append(
            (
                new_id(),
                org.org_id,
                minor,
                minor * 100,
                currency,
                kind,
                org.category_ids[category],
                org.account_ids[currency],
                FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS)),
                notes,
                fold_key(f"{category}\n{notes or ''}"),
                org.user_id,
                org.user_id,
                1,
                deleted,
                created,
                created,
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load_sqlite(url: str, org: Org, size: int) -> None:
    """executemany in one transaction, through SQLAlchemy so values are stored as the app
    stores them (the synchronous driver: no thread hop per statement)."""
    engine = sqlalchemy.create_engine(url)
    table = cast(sqlalchemy.Table, Record.__table__)
    try:
        with engine.begin() as connection:
            for batch in generate(org, size, seed=size):
                connection.execute(
                    table.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in batch]
                )
    finally:
        engine.dispose()


async def load_postgresql(url: str, org: Org, size: int) -> None:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        async with connection.transaction():
            for batch in generate(org, size, seed=size):
                await connection.copy_records_to_table("records", records=batch, columns=COLUMNS)
    finally:
        await connection.close()


async def build_aggregates(database: Database, org: Org) -> None:
    async with database.sessions() as session:
        await aggregates.rebuild(session, org.org_id)
        await session.commit()
    async with database.engine.connect() as connection:
        if not database.is_sqlite:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE"))
        await connection.commit()


def prepare(url: str, size: int) -> float:
    """Migrate, create the org, load ``size`` records and build the aggregates; seconds taken."""
    began = time.perf_counter()
    migrations.upgrade(url)

    async def setup() -> Org:
        database = Database(url)
        try:
            return await create_org(database)
        finally:
            await database.dispose()

    org = asyncio.run(setup())
    if make_url(url).get_backend_name() == "sqlite":
        load_sqlite(url, org, size)
    else:
        asyncio.run(load_postgresql(url, org, size))

    async def finish() -> None:
        database = Database(url)
        try:
            await build_aggregates(database, org)
        finally:
            await database.dispose()

    asyncio.run(finish())
    return time.perf_counter() - began


# --- serving and measuring -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(url: str, workdir: Path) -> Iterator[str]:
    """The app under uvicorn, one process, until the block ends."""
    port = free_port()
    env = {
        **os.environ,
        "LEDGERLINE_DATABASE_URL": url,
        "LEDGERLINE_SECRET_KEY": SECRET,
        "LEDGERLINE_AUTO_MIGRATE": "false",
        "LEDGERLINE_REQUESTS_PER_USER": "0",
        "LEDGERLINE_LOG_LEVEL": "WARNING",
    }
    log = (workdir / f"server_{port}.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [*SERVE, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(base: str, requests: int, warmup: int) -> dict[str, tuple[float, float]]:
    """p50 and p99 in milliseconds per endpoint, requests sent one after another."""
    with httpx.Client(base_url=f"{base}/api/v1", timeout=60) as client:
        login = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        org_id = client.get("/orgs").json()[0]["id"]
        accounts = client.get(f"/orgs/{org_id}/accounts").json()
        main = next(a["id"] for a in accounts if a["is_default"] and a["currency"] == "USD")
        results = {}
        for endpoint in ENDPOINTS:
            path = f"/orgs/{org_id}/{endpoint.path.format(main=main)}"
            for _ in range(warmup):
                client.get(path, params=endpoint.params).raise_for_status()
            samples = []
            for _ in range(requests):
                began = time.perf_counter()
                response = client.get(path, params=endpoint.params)
                samples.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
            results[endpoint.name] = (statistics.median(samples), percentile(samples, 0.99))
        return results


def table(results: dict[int, dict[str, tuple[float, float]]]) -> str:
    sizes = sorted(results)
    head = "| endpoint | " + " | ".join(f"{size:,} p50 / p99 (ms)" for size in sizes)
    head += f" | p50 {sizes[-1]:,} / {sizes[0]:,} |"
    lines = [head, "|---" * (len(sizes) + 2) + "|"]
    for endpoint in ENDPOINTS:
        cells = [
            f"{results[s][endpoint.name][0]:.1f} / {results[s][endpoint.name][1]:.1f}"
            for s in sizes
        ]
        ratio = results[sizes[-1]][endpoint.name][0] / results[sizes[0]][endpoint.name][0]
        lines.append(f"| {endpoint.name} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="sqlite:// or a PostgreSQL URL")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ledgerline-bench-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            with fresh_database(args.database_url, size, workdir) as url:
                seconds = prepare(url, size)
                print(f"{size:,} records loaded and aggregated in {seconds:.1f} s", file=sys.stderr)
                with server(url, workdir) as base:
                    results[size] = measure(base, args.requests, args.warmup)
    backend = make_url(args.database_url).get_backend_name()
    print(
        f"Backend: {backend}; {args.requests} requests per endpoint after {args.warmup} warm-up\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
