"""The SQLite engines' driver cursor (``core/sqlite_driver.py``): a statement takes one trip to
aiosqlite's thread (a short ``SELECT`` none), and everything SQLAlchemy reads of a cursor is
still right; a ``BEGIN`` and the statements of ``deferred_writes`` travel with the next
statement."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Integer,
    String,
    bindparam,
    column,
    event,
    func,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ledgerline.core import sqlite_driver
from ledgerline.core.db import Database, create_engine
from ledgerline.core.deferred_writes import deferred_writes

NAMES = table("names", column("id", Integer), column("name", String))
LONG_READ = text(
    "SELECT count(*) FROM (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
    " WHERE x < 300000) SELECT x FROM n)"
)
"""A read of some tens of milliseconds: far past what runs on the event loop's thread."""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        )
    yield engine
    await engine.dispose()


async def test_a_statement_takes_one_trip_to_the_drivers_thread_and_a_short_read_none(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as connection:
        trips.clear()
        await connection.execute(insert(NAMES).values(name="ada"))
        assert trips == ["_run"]
        rows = (await connection.execute(select(NAMES.c.id, NAMES.c.name))).all()
        assert trips == ["_run"]
    assert [tuple(row) for row in rows] == [(1, "ada")]


async def test_a_long_read_is_stopped_and_run_on_the_drivers_thread(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """Within a transaction too: the stopped ``SELECT`` leaves it as it was."""
    async with engine.begin() as connection:
        await connection.execute(insert(NAMES).values(name="kept"))
        trips.clear()
        assert await connection.scalar(LONG_READ) == 300000
        assert trips == ["_run"]
        assert await connection.scalar(select(func.count()).select_from(NAMES)) == 1
    async with engine.connect() as connection:
        assert await connection.scalar(select(NAMES.c.name)) == "kept"


async def test_a_read_once_stopped_takes_the_trip_straight_away_for_a_while(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver.LongReads, "RETRY_AFTER", 3)
    tried: list[str] = []
    inline = sqlite_driver._inline

    def counted(connection: sqlite3.Connection) -> Any:
        tried.append("inline")
        return inline(connection)

    monkeypatch.setattr(sqlite_driver, "_inline", counted)
    async with engine.connect() as connection:
        for _ in range(5):
            assert await connection.scalar(LONG_READ) == 300000
        await connection.scalar(select(NAMES.c.name))
    assert tried == ["inline", "inline", "inline"], "stopped, three trips, stopped; a short read"


async def _order_of_finishing(
    tmp_path: Path, begin: str, work: Callable[[], Awaitable[None]]
) -> list[str]:
    """Run ``work`` while another connection holds the database under ``begin`` (with a row
    added) for half a second, next to a task of the event loop that sleeps 50 ms: the order in
    which the two finish. ``work`` first means it held up the event loop."""
    holder = sqlite3.connect(tmp_path / "driver.db", isolation_level=None, check_same_thread=False)
    holder.execute(begin)
    holder.execute("INSERT INTO names (name) VALUES ('held')")
    release = threading.Timer(0.5, holder.execute, ["COMMIT"])
    finished: list[str] = []

    async def run_work() -> None:
        await work()
        finished.append("work")

    async def tick() -> None:
        await asyncio.sleep(0.05)
        finished.append("tick")

    release.start()
    try:
        await asyncio.gather(run_work(), tick())
    finally:
        release.join()
        holder.close()
    return finished


async def test_a_read_that_must_wait_for_a_lock_waits_on_the_drivers_thread(
    tmp_path: Path, engine: AsyncEngine, trips: list[str]
) -> None:
    """Where WAL is not in use, a writer's exclusive lock makes readers wait: the event loop
    goes on meanwhile, and the read answers once the lock is let go."""
    await engine.dispose()
    database = Database(f"sqlite:///{tmp_path / 'driver.db'}")
    async with database.read_sessions() as session:
        raw = await (await session.connection()).get_raw_connection()
        rows = await raw.driver_connection.execute_fetchall("PRAGMA journal_mode=DELETE")
        assert list(rows) == [("delete",)]

    async def read() -> None:
        async with database.read_sessions() as session:
            assert await session.scalar(select(NAMES.c.name)) == "held"

    trips.clear()
    try:
        assert await _order_of_finishing(tmp_path, "BEGIN EXCLUSIVE", read) == ["tick", "work"]
    finally:
        await database.dispose()
    assert "_run" in trips


async def test_a_transaction_that_begins_with_a_read_begins_on_the_event_loops_thread(
    tmp_path: Path, engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as connection:
        trips.clear()
        assert await connection.scalar(select(func.count()).select_from(NAMES)) == 0
        assert trips == []
        other = sqlite3.connect(tmp_path / "driver.db", timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        await connection.execute(insert(NAMES).values(name="ada"))
    assert trips == ["_run", "_commit"]


async def test_a_begin_stopped_as_it_ends_is_not_sent_again(
    engine: AsyncEngine, trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no time to run inline, SQLite stops even a ``BEGIN`` at its last look at the
    clock, which comes after the ``BEGIN`` took effect: the transaction is begun all the same,
    and the read goes on to the driver's thread without a second ``BEGIN``."""
    monkeypatch.setattr(sqlite_driver, "INLINE_READ_BUDGET", 0.0)
    monkeypatch.setattr(sqlite_driver, "_STEPS_BETWEEN_CHECKS", 5)
    async with engine.begin() as connection:
        trips.clear()
        assert await connection.scalar(select(func.count()).select_from(NAMES)) == 0
        assert trips == ["_run"]
        await connection.execute(insert(NAMES).values(name="ada"))
    async with engine.connect() as connection:
        assert await connection.scalar(select(NAMES.c.name)) == "ada"


async def test_a_begin_that_must_wait_for_another_writer_waits_on_the_drivers_thread(
    tmp_path: Path, engine: AsyncEngine, trips: list[str]
) -> None:

    async def write() -> None:
        async with engine.begin() as connection:
            assert await connection.scalar(select(func.count()).select_from(NAMES)) == 1
            await connection.execute(insert(NAMES).values(name="second"))

    trips.clear()
    assert await _order_of_finishing(tmp_path, "BEGIN IMMEDIATE", write) == ["tick", "work"]
    assert trips == ["_run", "_run", "_commit"]


async def test_rowcount_lastrowid_and_executemany_read_as_before(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        added = await connection.execute(insert(NAMES), [{"name": n} for n in ("a", "b", "c")])
        assert added.rowcount == 3
        one = await connection.execute(insert(NAMES).values(name="d"))
        assert one.lastrowid == 4
        changed = await connection.execute(
            update(NAMES).where(NAMES.c.id <= bindparam("top")).values(name=NAMES.c.name + "!"),
            {"top": 2},
        )
        assert changed.rowcount == 2
        untouched = await connection.execute(update(NAMES).where(NAMES.c.id > 99).values(name="x"))
        assert untouched.rowcount == 0
        names = (await connection.execute(select(NAMES.c.name).order_by(NAMES.c.id))).scalars()
        assert list(names) == ["a!", "b!", "c", "d"]


async def test_an_error_is_the_same_sqlalchemy_error_and_the_connection_goes_on(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        await connection.execute(insert(NAMES).values(name="ada"))
        await connection.commit()
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await connection.execute(insert(NAMES).values(name="ada"))
        await connection.rollback()
        count = await connection.scalar(select(text("count(*)")).select_from(NAMES))
    assert count == 1


async def test_a_streamed_result_is_still_fetched_in_batches(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """Server-side cursors (the CSV export) keep aiosqlite's cursor: one batch in memory."""
    async with engine.begin() as connection:
        await connection.execute(insert(NAMES), [{"name": f"n{i}"} for i in range(5)])
        trips.clear()
        result = await connection.stream(
            select(NAMES.c.name).order_by(NAMES.c.id).execution_options(yield_per=2)
        )
        batches = [[name for (name,) in partition] async for partition in result.partitions()]
    assert batches == [["n0", "n1"], ["n2", "n3"], ["n4"]]
    assert trips.count("fetchmany") >= 3


async def test_a_transaction_begins_with_its_first_statement_in_the_same_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(NAMES).values(name="ada"))
    assert trips == ["_run", "_commit"]
    trips.clear()
    async with engine.begin():
        pass
    assert trips == [], "a BEGIN and COMMIT with nothing between need no trip"


async def test_a_transaction_that_only_read_commits_without_a_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(NAMES).values(name="ada"))
    trips.clear()
    async with engine.begin() as connection:
        await connection.execute(select(NAMES.c.name))
        await connection.execute(select(NAMES.c.id))
        raw = await connection.get_raw_connection()
        driver: Any = raw.dbapi_connection
    assert trips == [], "the reads and their COMMIT ran on the event loop's thread"
    assert not driver.driver._conn.in_transaction, "the read transaction ended"
    async with engine.begin() as connection:
        await connection.execute(select(NAMES.c.name))
        await connection.execute(update(NAMES).values(name="lovelace"))
    assert trips == ["_run", "_commit"], "a transaction that wrote commits on the thread"
    async with engine.connect() as connection:
        assert await connection.scalar(select(NAMES.c.name)) == "lovelace"


async def test_deferred_writes_go_with_the_next_statement_or_the_commit(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        async with deferred_writes(session) as writes:
            trips.clear()
            await writes.execute(insert(NAMES), [{"name": "a"}, {"name": "b"}])
            await writes.execute(insert(NAMES), [{"name": "c"}])
            assert trips == []
        names = (await session.execute(select(NAMES.c.name).order_by(NAMES.c.id))).scalars()
        assert list(names) == ["a", "b", "c"]
        assert trips == ["_run"]
        async with deferred_writes(session) as writes:
            await writes.execute(insert(NAMES), [{"name": "d"}])
        trips.clear()
    assert trips == ["_commit"]
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(NAMES)) == 4


@pytest.mark.parametrize(
    ("read_first", "trips_taken"),
    [(False, ["_commit"]), (True, [])],
    ids=["on the drivers thread", "on the event loops thread"],
)
async def test_a_held_back_writes_error_is_raised_by_the_commit_and_nothing_is_kept(
    engine: AsyncEngine, trips: list[str], read_first: bool, trips_taken: list[str]
) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(NAMES).values(name="taken"))
    rows = [{"name": "fresh"}, {"name": "taken"}]
    async with AsyncSession(engine) as session:
        await session.begin()
        trips.clear()
        if read_first:
            await _read_then_hold_back(session, rows)
        else:
            async with deferred_writes(session) as writes:
                await writes.execute(insert(NAMES), rows)
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await session.commit()
        assert trips == trips_taken
    async with AsyncSession(engine) as session, session.begin():
        await _read_then_hold_back(session, [{"name": "after"}])
    async with engine.connect() as connection:
        names = (await connection.execute(select(NAMES.c.name).order_by(NAMES.c.id))).scalars()
        assert list(names) == ["taken", "after"]


async def test_a_rollback_drops_what_was_deferred_without_a_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with AsyncSession(engine) as session:
        await session.begin()
        async with deferred_writes(session) as writes:
            await writes.execute(insert(NAMES), [{"name": "never"}])
        trips.clear()
        await session.rollback()
        assert trips == []
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(NAMES)) == 0


async def test_a_closed_connection_is_rolled_back_without_a_trip_or_an_error(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver_connection = raw.dbapi_connection
        assert driver_connection is not None
        await raw.driver_connection.close()
        driver_connection.rollback()
        driver_connection.commit()
        await connection.invalidate()


async def _read_then_hold_back(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """A writer's transaction as a create has it: a read first (its ``BEGIN IMMEDIATE`` runs
    with it, on the event loop's thread), then writes held back for the commit."""
    await session.execute(select(func.count()).select_from(NAMES))
    async with deferred_writes(session) as writes:
        await writes.execute(insert(NAMES), rows)


async def _autocheckpoint_of(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.dbapi_connection
        return int(driver.driver._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


async def test_a_small_write_under_the_write_lock_commits_without_a_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        trips.clear()
        await _read_then_hold_back(session, [{"name": "ada"}, {"name": "grace"}])
    assert trips == [], "the writes and their COMMIT ran on the event loop's thread"
    other = sqlite3.connect(engine.url.database or "")
    assert sorted(row[0] for row in other.execute("SELECT name FROM names")) == ["ada", "grace"]
    other.close()
    assert await _autocheckpoint_of(engine) == 0, "the connection runs its own checkpoints"


async def test_many_held_back_rows_commit_on_the_drivers_thread(
    engine: AsyncEngine, trips: list[str]
) -> None:
    rows = [{"name": f"n{i}"} for i in range(sqlite_driver.INLINE_COMMIT_ROWS + 1)]
    async with AsyncSession(engine) as session, session.begin():
        trips.clear()
        await _read_then_hold_back(session, rows)
    assert trips == ["_commit"]


async def test_writes_that_did_not_begin_under_the_write_lock_commit_on_the_drivers_thread(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """Held back with their ``BEGIN IMMEDIATE`` (no read before them), the writes could wait
    for another process's writer: they take the trip."""
    async with (
        AsyncSession(engine) as session,
        session.begin(),
        deferred_writes(session) as writes,
    ):
        trips.clear()
        await writes.execute(insert(NAMES), [{"name": "ada"}])
    assert trips == ["_commit"]


@asynccontextmanager
async def _engine_with(path: Path, pragma: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a new database at ``path`` whose connections also run ``pragma``."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine.sync_engine, "connect")
    def _also(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection._conn.execute(f"PRAGMA {pragma}")

    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
            )
        yield engine
    finally:
        await engine.dispose()


async def test_the_log_is_checkpointed_on_the_drivers_thread_after_an_inline_commit(
    tmp_path: Path, trips: list[str]
) -> None:
    """At SQLite's threshold (2 frames here), the checkpoint its ``COMMIT`` would have run on
    the event loop's thread runs on the driver's, after the commit."""
    async with _engine_with(tmp_path / "log.db", "wal_autocheckpoint=2") as engine:
        async with AsyncSession(engine) as session, session.begin():
            trips.clear()
            await _read_then_hold_back(session, [{"name": "ada"}])
        assert trips == ["checkpoint"]
        log = sqlite3.connect(tmp_path / "log.db")
        busy, frames, copied = log.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        log.close()
        assert (busy, frames) == (0, copied), "every frame of the log was copied already"


async def test_without_a_write_ahead_log_writes_commit_on_the_drivers_thread(
    tmp_path: Path, trips: list[str]
) -> None:
    """No log to read, no checkpoints taken over: SQLite keeps its own, and the commit its
    trip."""
    async with _engine_with(tmp_path / "journal.db", "journal_mode=DELETE") as engine:
        async with AsyncSession(engine) as session, session.begin():
            trips.clear()
            await _read_then_hold_back(session, [{"name": "ada"}])
        assert trips == ["_commit"]


@pytest.mark.parametrize("ending", ["close", "invalidate"])
async def test_a_connection_that_ends_stops_reading_the_log(
    engine: AsyncEngine, ending: str
) -> None:
    async with AsyncSession(engine) as session:
        await session.begin()
        await _read_then_hold_back(session, [{"name": "ada"}])
        raw = await (await session.connection()).get_raw_connection()
        driver: Any = raw.dbapi_connection
        await session.commit()
    shared_file = driver._checkpoints._shared_file
    os.fstat(shared_file)
    async with engine.connect() as connection:
        if ending == "invalidate":
            await connection.invalidate()
    if ending == "close":
        await engine.dispose()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(shared_file)


async def test_writes_whose_begin_went_with_them_leave_the_next_transactions_on_the_thread(
    tmp_path: Path, engine: AsyncEngine, trips: list[str]
) -> None:
    """A transaction whose ``BEGIN IMMEDIATE`` travelled with its commit held the write lock
    only then: the next one on the connection, held back the same way, waits for another
    process's writer on the driver's thread, the event loop going on meanwhile."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.dbapi_connection

        async def write_held_back(name: str) -> None:
            await connection.begin()
            driver.defer("INSERT INTO names (name) VALUES (?)", [(name,)])
            await connection.commit()

        await write_held_back("first")
        trips.clear()
        finished = await _order_of_finishing(
            tmp_path, "BEGIN IMMEDIATE", lambda: write_held_back("second")
        )
    assert finished == ["tick", "work"]
    assert trips == ["_commit"]
