"""Where a create and an authenticated list spend their time: in process, end to end.

The app runs in this process under an ASGI client (no sockets, no server), on a fresh database
seeded as ``bench.load`` seeds it. For each request kind it prints the SQL statements one
request executes (count, and time per statement from SQLAlchemy's cursor events, which is the
driver's round trip plus the database's work) and the functions taking the most time under
cProfile over ``--requests`` requests. On SQLite, the writes a request defers to its commit
(a record's insert, its audit entry, the aggregates: ``core/deferred_writes.py``) bypass those
events and are not listed: they run in the commit's trip to the driver's thread.

    .venv/bin/python -m bench.profile_requests --backend sqlite
    .venv/bin/python -m bench.profile_requests --backend postgresql --top 30
    .venv/bin/python -m bench.profile_requests --kinds get --requests 2000 --top 0
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.dashboard import prepare
from bench.in_process import app_on, signed_in
from bench.load import CREATE_BODY, fresh_database


class StatementLog:
    """Every statement's text and duration, from the engines' cursor events."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, float]] = []
        self._started: dict[int, float] = {}

    def attach(self, sync_engine: Any) -> None:
        event.listen(sync_engine, "before_cursor_execute", self._before)
        event.listen(sync_engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, cursor: Any, *_args: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        began = self._started.pop(id(cursor), None)
        if began is not None:
            self.entries.append((statement, time.perf_counter() - began))


def _short(statement: str) -> str:
    words = " ".join(statement.split())
    return words[:110] + ("..." if len(words) > 110 else "")


def report(title: str, log: StatementLog, requests: int, wall: float, stats: str) -> Iterator[str]:
    per_statement: dict[str, list[float]] = defaultdict(list)
    for statement, seconds in log.entries:
        per_statement[_short(statement)].append(seconds)
    sql = sum(seconds for _, seconds in log.entries)
    yield f"== {title}: {wall / requests * 1000:.2f} ms a request (under cProfile) =="
    yield (
        f"   {len(log.entries) / requests:.1f} statements a request, "
        f"{sql / requests * 1000:.2f} ms in them"
    )
    for statement, times in sorted(per_statement.items(), key=lambda kv: -sum(kv[1])):
        yield (
            f"   {len(times) / requests:4.1f} x {sum(times) / len(times) * 1000:6.3f} ms  "
            f"{statement}"
        )
    yield stats


async def profile(url: str, requests: int, top: int, args_sort: str, chosen: Sequence[str]) -> None:
    from ledgerline.core import observability

    app = app_on(url, log_level="INFO")
    observability.configure_logging("INFO", json_lines=True)
    import logging

    logging.getLogger("ledgerline").handlers[0].stream = io.StringIO()  # type: ignore[attr-defined]
    log = StatementLog()
    database = app.state.database
    log.attach(database.engine.sync_engine)
    if database.read_engine is not database.engine:
        log.attach(database.read_engine.sync_engine)
    async with signed_in(app) as (client, org):
        kinds = {
            "create": ("POST", f"/orgs/{org}/records", CREATE_BODY),
            "list": ("GET", f"/orgs/{org}/records", None),
            "summary": ("GET", f"/orgs/{org}/dashboard/summary", None),
        }
        first = (await client.get(f"/orgs/{org}/records", params={"limit": 1})).json()
        kinds["get"] = ("GET", f"/orgs/{org}/records/{first['items'][0]['id']}", None)
        for title in chosen:
            method, path, body = kinds[title]
            for _ in range(20):
                (await client.request(method, path, json=body)).raise_for_status()
            began = time.perf_counter()
            for _ in range(requests):
                (await client.request(method, path, json=body)).raise_for_status()
            plain = (time.perf_counter() - began) / requests * 1000
            print(f"== {title}: {plain:.2f} ms a request without the profiler ==")
            log.entries.clear()
            profiler = cProfile.Profile()
            began = time.perf_counter()
            profiler.enable()
            for _ in range(requests):
                (await client.request(method, path, json=body)).raise_for_status()
            profiler.disable()
            wall = time.perf_counter() - began
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats(args_sort)
            stats.print_stats(top)
            print("\n".join(report(title, log, requests, wall, out.getvalue())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument("--kinds", default="create,list,get", help="of create, list, get, summary")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ledgerline-profile-") as tmp,
        fresh_database(args.backend, Path(tmp)) as url,
    ):
        prepare(url, args.records)
        asyncio.run(profile(url, args.requests, args.top, args.sort, args.kinds.split(",")))


if __name__ == "__main__":
    main()
