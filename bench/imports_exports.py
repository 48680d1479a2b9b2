"""CSV import rate and CSV export memory, on SQLite or PostgreSQL.

For each size in ``--rows`` it writes a realistic CSV file (two years of dates, 20 categories,
notes with commas and quotes, some rows in another currency, a third with bank ``external_id``s),
creates a fresh database, migrates it, creates an org and its admin through the services, and
times ``import_csv`` end to end, commit included. After the largest import it starts the API with
uvicorn in a subprocess and streams ``GET /records/export`` of every record to /dev/null, sampling
the server's resident memory (``/proc/<pid>/status``).

    .venv/bin/python -m bench.imports_exports --database-url sqlite:// --rows 100000,1000000
    .venv/bin/python -m bench.imports_exports \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --rows 100000,1000000

For SQLite the database is a file in a temporary directory; for PostgreSQL the URL is an admin
URL: a database ``ledgerline_bench_*`` is created on that server and dropped at the end.
``--profile`` runs the first import under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import csv
import datetime as dt
import io
import os
import platform
import pstats
import random
import resource
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import OrgRead
from ledgerline.users import service as users_service
from ledgerline.users.models import User

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-Passphrase-2026"  # noqa: S105 - a throwaway database's account
LAST_DAY = dt.date(2025, 12, 31)
DAYS = 730
EXPENSES = {
    "Rent": (900, 2_500),
    "Groceries": (8, 180),
    "Restaurants": (12, 140),
    "Coffee": (2, 9),
    "Transport": (2, 60),
    "Fuel": (30, 110),
    "Utilities": (40, 260),
    "Internet": (25, 90),
    "Phone": (15, 70),
    "Insurance": (30, 400),
    "Health": (10, 600),
    "Travel": (60, 2_400),
    "Office supplies": (5, 300),
    "Software": (5, 500),
    "Taxes": (100, 8_000),
    "Entertainment": (8, 150),
}
INCOMES = {
    "Salary": (2_800, 9_000),
    "Consulting": (400, 6_000),
    "Refunds": (5, 300),
    "Interest": (1, 90),
}
WORDS = [
    *("invoice", "payment", "card", "transfer", "monthly", "weekly", "client", "office"),
    *("team", "lunch", "taxi", "train", "hotel", "flight", "subscription", "renewal"),
    *("deposit", "refund", "fee", "order", "supplier", "store", "online"),
]


@dataclass(frozen=True)
class ImportResult:
    backend: str
    rows: int
    file_bytes: int
    seconds: float
    created: int
    duplicates: int
    client_cpu: float
    """CPU seconds of this process (parsing, building rows, the driver)."""
    server_cpu: float | None
    """CPU seconds of the PostgreSQL backend (COPY, indexes), when it is local."""
    rss_before_mib: float
    rss_peak_mib: float
    """This process's peak resident memory during the import (SQLite's page cache included)."""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


@dataclass(frozen=True)
class ExportResult:
    backend: str
    rows: int
    bytes: int
    seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    first_page_ms: float
    """The first page of the record list, asked right after the import (a fresh server)."""


# --- data -------------------------------------------------------------------------------------


def generate_csv(path: Path, rows: int, *, seed: int = 2026) -> int:
    """Write ``rows`` realistic rows to ``path``, streaming; its size in bytes."""
    rng = random.Random(seed)
    expense_names = list(EXPENSES)
    income_names = list(INCOMES)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["date", "type", "category", "amount", "currency", "notes", "external_id"])
        for n in range(rows):
            day = LAST_DAY - dt.timedelta(days=rng.randrange(DAYS))
            if rng.random() < 0.12:
                kind, category = "income", rng.choice(income_names)
                low, high = INCOMES[category]
            else:
                kind, category = "expense", rng.choice(expense_names)
                low, high = EXPENSES[category]
            cents = rng.randrange(low * 100, high * 100)
            currency = "EUR" if rng.random() < 0.05 else ""
            notes = ""
            if rng.random() < 0.7:
                notes = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))
                if rng.random() < 0.1:
                    notes += f', ref "{rng.randrange(10**6):06d}"'
            external_id = f"bank-{n:09d}" if rng.random() < 0.3 else ""
            amount = f"{cents // 100}.{cents % 100:02d}"
            writer.writerow([day.isoformat(), kind, category, amount, currency, notes, external_id])
    return path.stat().st_size


# --- databases --------------------------------------------------------------------------------


async def _pg_admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def fresh_database(url: str, work_dir: Path, label: str) -> AsyncIterator[str]:
    """A new, migrated database on the server ``url`` names (or an SQLite file), then gone."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database_url = f"sqlite:///{work_dir / f'{label}.db'}"
        await asyncio.to_thread(migrations.upgrade, database_url)
        yield database_url
        return
    admin_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"ledgerline_bench_{os.getpid()}_{label}"
    await _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    database_url = parsed.set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrations.upgrade, database_url)
        yield database_url
    finally:
        await _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def create_org(database: Database) -> uuid.UUID:
    hasher = PasswordHasher(time_cost=1, memory_kib=1024)
    async with database.sessions() as session:
        user = await users_service.create_user(
            session, hasher, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, full_name="Bench Admin"
        )
        org = await orgs_service.create_org(session, owner_id=user.id, name="Bench", currency="USD")
        await session.commit()
        return org.id


# --- import -----------------------------------------------------------------------------------


async def time_import(
    database_url: str, backend: str, path: Path, rows: int, *, profile: bool
) -> tuple[ImportResult, uuid.UUID]:
    database = Database(database_url)
    try:
        org_id = await create_org(database)
        async with database.sessions() as session:
            org = await session.get_one(Org, org_id)
            user = await session.scalar(select(User).where(User.email_key == ADMIN_EMAIL))
            assert user is not None
            ctx = OrgContext(org=OrgRead.model_validate(org), user_id=user.id, role=Role.ADMIN)
            size = path.stat().st_size  # noqa: ASYNC240 - once, before timing
            server_pid = await _backend_pid(session)
            profiler = cProfile.Profile() if profile else None
            with path.open("rb") as stream:
                rss_before = _reset_peak_rss(os.getpid())
                client_cpu = _own_cpu_seconds()
                server_cpu = _cpu_seconds(server_pid)
                started = time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                report = await imports_exports_service.import_csv(
                    session,
                    ctx,
                    stream,
                    dry_run=False,
                    max_rows=rows,
                    max_bytes=size,
                    size=size,
                    file_name=path.name,
                )
                await session.commit()
                seconds = time.perf_counter() - started
                client_cpu = _own_cpu_seconds() - client_cpu
                server_cpu = _cpu_seconds(server_pid) - server_cpu
                rss_peak = _status_kib(os.getpid(), "VmHWM")
                if profiler is not None:
                    profiler.disable()
                    _print_profile(profiler)
        result = ImportResult(
            backend,
            rows,
            size,
            seconds,
            report.created,
            report.duplicates,
            client_cpu,
            server_cpu if server_pid else None,
            rss_before / 1024,
            rss_peak / 1024,
        )
        return result, org_id
    finally:
        await database.dispose()


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int | None) -> float:
    """User and system CPU time of a local process (the PostgreSQL backend), 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_pid(session: AsyncSession) -> int | None:
    """The PostgreSQL server process serving ``session``, when it runs on this machine."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return None
    pid = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    return pid if Path(f"/proc/{pid}/stat").exists() else None  # noqa: ASYNC240


def _print_profile(profiler: cProfile.Profile) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue(), file=sys.stderr)


# --- export -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _reset_peak_rss(pid: int) -> int:
    """Reset the process's VmHWM to its current VmRSS (Linux ``clear_refs``); that RSS."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kib(pid, "VmRSS")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


@contextlib.contextmanager
def api_server(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {
        **os.environ,
        "LEDGERLINE_DATABASE_URL": database_url,
        "LEDGERLINE_SECRET_KEY": secrets.token_urlsafe(48),
        "LEDGERLINE_AUTO_MIGRATE": "false",
        "LEDGERLINE_LOG_LEVEL": "WARNING",
        "LEDGERLINE_LOG_JSON": "false",
        "LEDGERLINE_REQUESTS_PER_USER": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "ledgerline.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        yield server, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure_export(database_url: str, backend: str, org_id: uuid.UUID, rows: int) -> ExportResult:
    with api_server(database_url) as (server, base), httpx.Client(base_url=base) as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        asked = time.perf_counter()
        first_page = client.get(f"/api/v1/orgs/{org_id}/records", headers=headers, timeout=60)
        first_page.raise_for_status()
        first_page_ms = (time.perf_counter() - asked) * 1000
        rss_before = _reset_peak_rss(server.pid)
        peak = rss_before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, _status_kib(server.pid, "VmRSS"))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        received = 0
        started = time.perf_counter()
        url = f"/api/v1/orgs/{org_id}/records/export"
        with (
            Path(os.devnull).open("wb") as sink,
            client.stream("GET", url, headers=headers, timeout=None) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_raw():
                received += len(chunk)
                sink.write(chunk)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        peak = max(peak, _status_kib(server.pid, "VmHWM"))
    return ExportResult(
        backend, rows, received, seconds, rss_before / 1024, peak / 1024, first_page_ms
    )


# --- report -----------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) // 1024
    return (
        f"{os.cpu_count()} CPUs ({model}), {total} MiB RAM, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


async def postgres_version(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    connection = await asyncpg.connect(parsed.render_as_string(hide_password=False))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def run(url: str, sizes: list[int], *, export: bool, profile: bool) -> None:
    backend = make_url(url).get_backend_name()
    print(f"machine: {machine()}")
    if backend == "postgresql":
        print(f"PostgreSQL {await postgres_version(url)}")
    with tempfile.TemporaryDirectory(prefix="ledgerline-bench-") as tmp:
        work_dir = Path(tmp)
        for index, rows in enumerate(sizes):
            path = work_dir / f"records-{rows}.csv"
            size = generate_csv(path, rows)
            async with fresh_database(url, work_dir, f"r{rows}") as database_url:
                result, org_id = await time_import(
                    database_url, backend, path, rows, profile=profile and index == 0
                )
                server = (
                    f", server {result.server_cpu:.1f}" if result.server_cpu is not None else ""
                )
                print(
                    f"import  {backend:<10} {rows:>9,} rows  {size / 2**20:7.1f} MiB  "
                    f"{result.seconds:7.2f} s  {result.rate:>9,.0f} rows/s  "
                    f"(created {result.created:,}, duplicates {result.duplicates:,}; "
                    f"CPU s: client {result.client_cpu:.1f}{server}; RSS "
                    f"{result.rss_before_mib:.0f} MiB before, peak {result.rss_peak_mib:.0f} MiB)",
                    flush=True,
                )
                if export and rows == max(sizes):
                    exported = measure_export(database_url, backend, org_id, result.created)
                    print(
                        f"export  {backend:<10} {exported.rows:>9,} rows  "
                        f"{exported.bytes / 2**20:7.1f} MiB  {exported.seconds:7.2f} s  "
                        f"{exported.rows / exported.seconds:>9,.0f} rows/s  server RSS "
                        f"{exported.rss_before_mib:.0f} MiB before, "
                        f"peak {exported.rss_peak_mib:.0f} MiB; first list page "
                        f"{exported.first_page_ms:.0f} ms",
                        flush=True,
                    )
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        required=True,
        help="sqlite:// for a temporary SQLite file, or a PostgreSQL admin URL",
    )
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument(
        "--no-export", action="store_true", help="skip the export memory measurement"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the first import (to stderr)"
    )
    args = parser.parse_args()
    sizes = [int(value.replace("_", "")) for value in args.rows.split(",")]
    asyncio.run(run(args.database_url, sizes, export=not args.no_export, profile=args.profile))


if __name__ == "__main__":
    main()
