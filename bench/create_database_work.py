"""How much of a create's cost is its database work, Ledgerline's and the floor's: what the
guarantees (the caller's role read, the account and category read with their locks, the audit
entry, the aggregates) cost in the database, told apart from what the rest of a request costs.

On a fresh database seeded as ``bench.load`` seeds it, Ledgerline and the floor
(``bench/floor_app.py``) run in this process under an ASGI client. Each app's whole create is
timed, alternately (the fastest of five means of ``--creates``). Then one create of each is
recorded as its driver receives it (every statement with its parameters, in order; on SQLite
with the writes Ledgerline holds back for the commit) and replayed ``--creates`` times on a
bare driver connection (sqlite3, asyncpg), with new ids each time and in transactions as the app
has them (on PostgreSQL a statement the app ran as a transaction of its own runs so). The
floor's whole create plus the database work Ledgerline does beyond the floor's is what a lean
app keeping Ledgerline's guarantees would take:

    .venv/bin/python -m bench.create_database_work --backend sqlite
    .venv/bin/python -m bench.create_database_work --backend postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bench.dashboard import prepare
from bench.in_process import app_on, signed_in
from bench.load import CREATE_BODY, fresh_database
from ledgerline.core import sqlite_driver

REPEATS = 5
KNOWN_TABLES = ("orgs", "users", "accounts", "categories")
"""Tables whose ids a create refers to; any other id in its statements is new with it."""


class Statement(NamedTuple):
    sql: str
    parameters: Any
    many: bool
    alone: bool = False
    """Run as a transaction of its own (autocommit): no ``BEGIN`` or ``COMMIT`` around it."""


def _held_back_writes(deferred: Sequence[sqlite_driver.Deferred]) -> list[Statement]:
    """What the driver held back and no cursor event saw: a ``BEGIN`` comes through
    SQLAlchemy (its cursor event recorded it where it was held back), the writes do not."""
    return [Statement(*held) for held in deferred if held.sql not in sqlite_driver.BEGINS]


class Recorder:
    """Every statement the drivers receive while ``on``: through SQLAlchemy's cursor events,
    and the writes Ledgerline's SQLite driver held back, where they run."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.on = False

    def executed(
        self, conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        if self.on:
            alone = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
            self.statements.append(Statement(sql, parameters, many, alone))

    @contextmanager
    def listening(self) -> Iterator[None]:
        run, run_deferred = sqlite_driver._run, sqlite_driver._run_deferred

        def run_after_held_back(
            connection: sqlite3.Connection,
            deferred: Sequence[sqlite_driver.Deferred],
            sql: str,
            parameters: Any,
            *,
            many: bool,
        ) -> sqlite_driver.Outcome:
            writes = _held_back_writes(deferred)
            if self.on and writes:
                # The cursor event saw the statement already; what was held back ran before it.
                last = self.statements.pop()
                self.statements += writes
                self.statements.append(last)
            run_deferred(connection, deferred)
            return run(connection, (), sql, parameters, many=many)

        def run_held_back(
            connection: sqlite3.Connection, deferred: Sequence[sqlite_driver.Deferred]
        ) -> None:
            if self.on:
                self.statements += _held_back_writes(deferred)
            run_deferred(connection, deferred)

        event.listen(Engine, "before_cursor_execute", self.executed)
        sqlite_driver._run, sqlite_driver._run_deferred = run_after_held_back, run_held_back
        try:
            yield
        finally:
            sqlite_driver._run, sqlite_driver._run_deferred = run, run_deferred
            event.remove(Engine, "before_cursor_execute", self.executed)

    async def record(self, create: Callable[[], Awaitable[None]]) -> list[Statement]:
        self.statements, self.on = [], True
        try:
            await create()
        finally:
            self.on = False
        return self.statements


class Measured(NamedTuple):
    whole: dict[str, float]
    """Milliseconds a whole create takes in process, per app."""
    statements: dict[str, list[Statement]]


async def measure_apps(url: str, creates: int) -> Measured:
    os.environ["LEDGERLINE_FLOOR_DATABASE_URL"] = url
    from bench.floor_app import create_app as floor_app

    floor = floor_app()
    recorder = Recorder()
    async with signed_in(app_on(url)) as (client, org), LifespanManager(floor):
        transport = httpx.ASGITransport(app=floor)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as floor_client:

            async def ledgerline() -> None:
                answer = await client.post(f"/orgs/{org}/records", json=CREATE_BODY)
                answer.raise_for_status()

            async def bare() -> None:
                (await floor_client.post("/records", json=CREATE_BODY)).raise_for_status()

            apps = {"floor": bare, "Ledgerline": ledgerline}
            for create in apps.values():
                for _ in range(30):
                    await create()
            whole = dict.fromkeys(apps, float("inf"))
            for _ in range(REPEATS):
                for name, create in apps.items():
                    began = time.perf_counter()
                    for _ in range(creates):
                        await create()
                    mean = (time.perf_counter() - began) / creates * 1000
                    whole[name] = min(whole[name], mean)
            with recorder.listening():
                statements = {name: await recorder.record(create) for name, create in apps.items()}
    return Measured(whole, statements)


def _ids_in(value: Any, found: set[uuid.UUID]) -> None:
    if isinstance(value, list | tuple):
        for item in value:
            _ids_in(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _ids_in(item, found)
    elif isinstance(value, uuid.UUID):
        found.add(value)
    elif isinstance(value, str) and len(value) in (32, 36):
        with suppress(ValueError):
            found.add(uuid.UUID(value))


def _renewed(value: Any, new: dict[Any, Any]) -> Any:
    """``value`` with each id in ``new`` replaced, in whatever form it takes."""
    if isinstance(value, list | tuple):
        return type(value)(_renewed(item, new) for item in value)
    if isinstance(value, dict):
        return {key: _renewed(item, new) for key, item in value.items()}
    if isinstance(value, uuid.UUID | str):
        return new.get(value, value)
    return value


def fresh_ids(new_ids: set[uuid.UUID]) -> dict[Any, Any]:
    """A new id for each of ``new_ids``, keyed by each form of the old one (UUID, text, hex)."""
    renewed: dict[Any, Any] = {}
    for old in new_ids:
        new = uuid.uuid4()
        renewed |= {old: new, str(old): str(new), old.hex: new.hex}
    return renewed


def new_ids_of(statements: Sequence[Statement], known: set[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    _ids_in([s.parameters for s in statements], found)
    return found - known


def _creates(statements: Sequence[Statement], new: set[uuid.UUID], n: int) -> list[list[Any]]:
    """Each of ``n`` creates' parameters, statement by statement, with new ids: made before
    the timing, which is the driver's alone."""
    creates = []
    for _ in range(n):
        renewed = fresh_ids(new)
        creates.append([_renewed(s.parameters, renewed) for s in statements])
    return creates


def _replay_sqlite(
    path: str, statements: Sequence[Statement], new: set[uuid.UUID], n: int
) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    fastest = float("inf")
    for _ in range(REPEATS):
        creates = _creates(statements, new, n)
        began = time.perf_counter()
        for parameters_of in creates:
            for statement, parameters in zip(statements, parameters_of, strict=True):
                run = connection.executemany if statement.many else connection.execute
                run(statement.sql, parameters).fetchall()
            if connection.in_transaction:
                connection.execute("COMMIT")
        fastest = min(fastest, (time.perf_counter() - began) / n * 1000)
    connection.close()
    return fastest


async def _replay_postgresql(
    url: str, statements: Sequence[Statement], new: set[uuid.UUID], n: int
) -> float:
    target = make_url(url)
    connection = await asyncpg.connect(
        user=target.username, host=target.host, port=target.port, database=target.database
    )
    prepared = [await connection.prepare(s.sql) for s in statements]
    fastest = float("inf")
    for _ in range(REPEATS):
        creates = _creates(statements, new, n)
        began = time.perf_counter()
        for parameters_of in creates:
            for alone, run in groupby(
                zip(statements, prepared, parameters_of, strict=True), key=lambda s: s[0].alone
            ):
                async with nullcontext() if alone else connection.transaction():
                    for _, statement, parameters in run:
                        await statement.fetch(*parameters)
        fastest = min(fastest, (time.perf_counter() - began) / n * 1000)
    await connection.close()
    return fastest


async def _known_postgresql(url: str) -> set[uuid.UUID]:
    target = make_url(url)
    connection = await asyncpg.connect(
        user=target.username, host=target.host, port=target.port, database=target.database
    )
    try:
        return {
            row[0]
            for table in KNOWN_TABLES
            for row in await connection.fetch(f"SELECT id FROM {table}")
        }
    finally:
        await connection.close()


def _known_sqlite(path: str) -> set[uuid.UUID]:
    with sqlite3.connect(path) as connection:
        return {
            uuid.UUID(row[0])
            for table in KNOWN_TABLES
            for row in connection.execute(f"SELECT id FROM {table}")
        }


def database_work(backend: str, url: str, statements: Sequence[Statement], n: int) -> float:
    """Milliseconds the bare driver takes for ``statements``, new ids each time."""
    if backend == "sqlite":
        path = str(make_url(url).database)
        return _replay_sqlite(path, statements, new_ids_of(statements, _known_sqlite(path)), n)
    new = new_ids_of(statements, asyncio.run(_known_postgresql(url)))
    return asyncio.run(_replay_postgresql(url, statements, new, n))


def _short(sql: str) -> str:
    words = " ".join(sql.split())
    return words[:96] + ("..." if len(words) > 96 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--creates", type=int, default=300, help="per app and repeat")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ledgerline-create-work-") as tmp,
        fresh_database(args.backend, Path(tmp)) as url,
    ):
        prepare(url, args.records)
        measured = asyncio.run(measure_apps(url, args.creates))
        work = {
            name: database_work(args.backend, url, statements, args.creates)
            for name, statements in measured.statements.items()
        }
    print(f"{args.backend}, {args.records:,} records; ms a create, fastest of {REPEATS} means")
    print(f"{'':12}{'whole':>8}{'database':>10}{'the rest':>10}")
    for name, whole in measured.whole.items():
        print(f"{name:12}{whole:8.3f}{work[name]:10.3f}{whole - work[name]:10.3f}")
    floor, ours = measured.whole["floor"], measured.whole["Ledgerline"]
    lean = floor + work["Ledgerline"] - work["floor"]
    print(
        f"the floor with Ledgerline's database work: {lean:.3f} ms, {lean / floor:.2f}x the "
        f"floor's create (Ledgerline's: {ours / floor:.2f}x)"
    )
    for name, statements in measured.statements.items():
        print(f"{name}'s statements:")
        for statement in statements:
            print(f"  {'many ' if statement.many else ''}{_short(statement.sql)}")


if __name__ == "__main__":
    main()
