"""Ledgerline's HTTP API under load, next to a floor measured in the same run.

For each database (a fresh SQLite file, a fresh PostgreSQL database): migrate, create a user and
an org, bulk-load ``--records`` records and build the aggregates (as ``bench.dashboard`` does);
then serve it twice, each in its own subprocess with one worker: ``ledgerline serve`` (the app
with its defaults: access log, metrics, rate limiter off so the load is not refused) and the
floor, ``bench/floor_app.py``, a bare FastAPI app doing the same insert or select and nothing
else. A small asyncio HTTP/1.1 keep-alive client (a few microseconds a request, so the driver
takes as little of the machine as it can) drives each scenario at 1 and 16 concurrent clients
for ``--seconds``: create a record, list (newest 50), filtered list (type and a half-year),
get one record, dashboard summary. The floor and Ledgerline take turns, their order swapped
each round, over ``--rounds`` rounds; each figure is the median over rounds of that round's
p50, p95 and throughput, and the ratio is Ledgerline's over the floor's. Each server's CPU time
per request (its process's user and system time over the scenario, from ``/proc``, so Linux
only) is reported too: on a shared machine it moves less than latency does.

    .venv/bin/python -m bench.load                       # both databases, about 4 minutes
    .venv/bin/python -m bench.load --backends sqlite --rounds 5 --seconds 3

On a shared machine, compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench.dashboard import EMAIL, PASSWORD, SECRET, _admin, free_port, prepare

POSTGRESQL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONCURRENCY = (1, 16)
CREATE_BODY = {
    "amount": "12.34",
    "type": "expense",
    "category": "Groceries",
    "date": "2025-06-15",
    "notes": "bench",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    ledgerline: str
    floor: str
    body: bytes = b""


@dataclass
class Figures:
    p50: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    errors: int = 0


# --- a minimal HTTP/1.1 client ---------------------------------------------------------------


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def request_bytes(method: str, path: str, token: str | None, body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def drive(port: int, request: bytes, clients: int, seconds: float) -> tuple[list[float], int]:
    """``clients`` connections sending ``request`` back to back for ``seconds``: the latencies
    in milliseconds and the number of answers that were not 2xx."""
    connections = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(connection: Connection) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            status, _ = await connection.send(request)
            latencies.append((time.perf_counter() - began) * 1000)
            if not 200 <= status < 300:
                errors += 1

    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return latencies, errors


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """The process's user and system CPU time so far, all its threads."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(command: list[str], env: dict[str, str], log: Path) -> Iterator[Server]:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [*command, "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/docs").raise_for_status()
                    break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; see {log}")
                time.sleep(0.2)
            yield Server(port, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)


def ledgerline_command() -> list[str]:
    return [str(Path(sys.executable).parent / "ledgerline"), "serve"]


def floor_command() -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bench.floor_app:create_app", "--factory",
        "--host", "127.0.0.1", "--log-level", "warning",
    ]  # fmt: skip


@contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench_load.db'}"
        return
    name = f"ledgerline_bench_load_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(POSTGRESQL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRESQL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(POSTGRESQL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- the run ---------------------------------------------------------------------------------


def scenarios(ledgerline_port: int) -> tuple[str, list[Scenario]]:
    with httpx.Client(base_url=f"http://127.0.0.1:{ledgerline_port}/api/v1") as client:
        login = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        token = login.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        org = client.get("/orgs").json()[0]["id"]
        record = client.get(f"/orgs/{org}/records", params={"limit": 1}).json()["items"][0]["id"]
    base = f"/api/v1/orgs/{org}"
    filtered = "?type=expense&date_from=2025-01-01&date_to=2025-06-30"
    body = json.dumps(CREATE_BODY).encode()
    return token, [
        Scenario("create", "POST", f"{base}/records", "/records", body),
        Scenario("list", "GET", f"{base}/records", "/records"),
        Scenario("filtered list", "GET", f"{base}/records{filtered}", f"/records{filtered}"),
        Scenario("get", "GET", f"{base}/records/{record}", f"/records/{record}"),
        Scenario("summary", "GET", f"{base}/dashboard/summary", "/summary"),
    ]


def run_backend(
    backend: str,
    records: int,
    rounds: int,
    seconds: float,
    workdir: Path,
    only: set[str] | None = None,
) -> dict[tuple[str, int, str], Figures]:
    results: dict[tuple[str, int, str], Figures] = {}
    with fresh_database(backend, workdir) as url:
        took = prepare(url, records)
        print(f"{backend}: {records:,} records loaded in {took:.1f} s", file=sys.stderr)
        env = {
            "LEDGERLINE_DATABASE_URL": url,
            "LEDGERLINE_SECRET_KEY": SECRET,
            "LEDGERLINE_AUTO_MIGRATE": "false",
            "LEDGERLINE_REQUESTS_PER_USER": "0",
            "LEDGERLINE_FLOOR_DATABASE_URL": url,
        }
        with (
            serving(ledgerline_command(), env, workdir / f"{backend}-ledgerline.log") as ours,
            serving(floor_command(), env, workdir / f"{backend}-floor.log") as floor_server,
        ):
            token, cases = scenarios(ours.port)
            cases = [case for case in cases if only is None or case.name in only]

            def floor(s: Scenario) -> tuple[Server, bytes]:
                return floor_server, request_bytes(s.method, s.floor, None, s.body)

            def ledgerline(s: Scenario) -> tuple[Server, bytes]:
                return ours, request_bytes(s.method, s.ledgerline, token, s.body)

            targets = {"floor": floor, "ledgerline": ledgerline}
            for case in cases:  # warm-up
                for name, target in targets.items():
                    server, request = target(case)
                    _, errors = asyncio.run(drive(server.port, request, 4, 0.5))
                    if errors:
                        raise RuntimeError(f"{name} answers {case.name} with errors")
            for round_ in range(rounds):
                order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                for case in cases:
                    for clients in CONCURRENCY:
                        for name in order:
                            server, request = targets[name](case)
                            cpu_before = server.cpu_seconds()
                            latencies, errors = asyncio.run(
                                drive(server.port, request, clients, seconds)
                            )
                            cpu = server.cpu_seconds() - cpu_before
                            figures = results.setdefault((case.name, clients, name), Figures())
                            figures.p50.append(percentile(latencies, 0.50))
                            figures.p95.append(percentile(latencies, 0.95))
                            figures.rps.append(len(latencies) / seconds)
                            figures.cpu_ms.append(cpu * 1000 / len(latencies))
                            figures.errors += errors
                print(f"{backend}: round {round_ + 1}/{rounds} done", file=sys.stderr)
    return results


def table(backend: str, results: dict[tuple[str, int, str], Figures]) -> str:
    lines = [
        f"#### {backend}",
        "",
        "| scenario | clients | floor p50 / p95 ms | floor req/s | Ledgerline p50 / p95 ms "
        "| Ledgerline req/s | p50 ratio | req/s ratio | Ledgerline p95/p50 "
        "| CPU ms a request, floor / Ledgerline | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cases = list(dict.fromkeys(key[0] for key in results))
    for case in cases:
        for clients in CONCURRENCY:
            floor, ours = results[(case, clients, "floor")], results[(case, clients, "ledgerline")]
            f50, f95, frps, fcpu = (
                statistics.median(x) for x in (floor.p50, floor.p95, floor.rps, floor.cpu_ms)
            )
            o50, o95, orps, ocpu = (
                statistics.median(x) for x in (ours.p50, ours.p95, ours.rps, ours.cpu_ms)
            )
            errors = f" ({ours.errors} errors)" if ours.errors else ""
            lines.append(
                f"| {case} | {clients} | {f50:.2f} / {f95:.2f} | {frps:.0f} "
                f"| {o50:.2f} / {o95:.2f} | {orps:.0f}{errors} | {o50 / f50:.2f}x "
                f"| {orps / frps:.2f}x | {o95 / o50:.1f} | {fcpu:.2f} / {ocpu:.2f} "
                f"| {ocpu / fcpu:.2f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="per scenario and round")
    parser.add_argument(
        "--scenarios", default=None, help="comma-separated subset, e.g. create,get (default: all)"
    )
    args = parser.parse_args()
    only = set(args.scenarios.split(",")) if args.scenarios else None
    with tempfile.TemporaryDirectory(prefix="ledgerline-load-") as tmp:
        for backend in args.backends.split(","):
            results = run_backend(backend, args.records, args.rounds, args.seconds, Path(tmp), only)
            print(
                f"{table(backend, results)}\n\n{args.records:,} records; medians over "
                f"{args.rounds} rounds of {args.seconds:g} s per scenario\n",
                flush=True,
            )


if __name__ == "__main__":
    main()
