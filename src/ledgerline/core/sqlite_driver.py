"""SQLite through aiosqlite, one trip to the driver's thread per statement.

aiosqlite runs SQLite on a thread of its own and hands it one DB-API call at a time, and
SQLAlchemy's adapter makes a call of each step of a statement: open a cursor, execute, fetch
the rows, close the cursor. That is four hand-offs between threads for a ``SELECT`` and three
for an ``INSERT``, each costing more (0.2 to 0.8 ms on a 2-core virtual machine) than the
statement itself: a record's create made 44 of them. The cursor here does a statement's steps
in one hand-off: it executes, reads every row and closes the sqlite3 cursor on the driver's
thread, then answers SQLAlchemy's fetches from those rows.

Server-side cursors (``yield_per``, ``stream``: the CSV export) keep aiosqlite's own cursor,
which fetches in batches, so a large export still holds one batch at a time.

Statements with nothing to answer travel with the next one that has, in the same trip: a
transaction's ``BEGIN`` (a ``BEGIN`` and ``COMMIT`` with nothing between take no trip at all),
and the writes handed to ``OneTripConnection.defer`` (``core/deferred_writes.py``), which go
with the next statement or the ``COMMIT``; an error in one of them is raised there.

A ``SELECT`` with nothing held back but its transaction's ``BEGIN`` takes no trip at all: both
run on the event loop's thread, where a short one costs a few microseconds against a trip's 40
to 100 (and, with many connections, the threads' contention for the GIL: a get's throughput at
16 clients was a third lower). A read that turns out long is stopped once it has run
``INLINE_READ_BUDGET`` seconds and run again on the driver's thread, so no read holds up other
requests for longer than that; a stopped ``SELECT`` leaves its transaction as it was, and
takes the trip straight away for a while (``LongReads``). Inline, the busy timeout is off: a
``BEGIN IMMEDIATE`` that would wait for another process's writer, or a read that would wait
for a lock (under WAL, only while a connection recovers the log; or where WAL is
unavailable), is sent to the driver's thread to wait there. Writes take the trip, and so does
the commit of a transaction that wrote, with two exceptions on the event loop's thread: a
transaction that only read (a snapshot several reads share) ends there, and so does one that
began under the write lock and whose few writes were all held back for its commit (a record's
create: its record, audit entry and aggregates), which wait for no one and take less than the
trip's hand-offs. Such a connection runs the log's checkpoints itself, on the driver's thread,
so that none runs in a ``COMMIT`` on the event loop's (``core/sqlite_wal.py``).

Whatever runs on the calling thread, the driver's has nothing of the connection's in hand
meanwhile: SQLAlchemy awaits each statement before the next, and a request cancelled while a
statement ran (an exit exception) invalidates the connection rather than reuse it (sqlite3 is
in serialized mode besides).

It reaches into aiosqlite's connection for its thread (``_execute``) and its sqlite3
connection (``_conn``), as aiosqlite's own cursor does; aiosqlite is pinned, and
tests/core/test_sqlite_driver.py fails should either change.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import await_

from ledgerline.core.sqlite_wal import WalCheckpoints, checkpoint

Outcome = tuple[Any, int, int | None, list[Any]]
"""What one statement left: description, rowcount, lastrowid and every row."""


class Deferred(NamedTuple):
    """A statement held back to travel with the next one."""

    sql: str
    parameters: Any
    many: bool


BEGIN_WRITING = "BEGIN IMMEDIATE"
"""How the writers' engine begins (``core/db.py``); the driver knows it by this exact text."""
BEGINS = frozenset({"BEGIN", BEGIN_WRITING})
BUSY_TIMEOUT_MS = 30_000
"""How long a statement on the driver's thread waits for a lock another connection holds."""
INLINE_READ_BUDGET = 0.0005
"""Seconds a ``SELECT`` may run on the event loop's thread before it is sent to the driver's."""
INLINE_COMMIT_ROWS = 32
"""Rows a transaction's held-back writes may hold for its commit to run on the event loop's
thread (a create holds 7: its record, audit entry and five aggregate rows; 0.1 to 0.3 ms)."""
_STEPS_BETWEEN_CHECKS = 1000
"""SQLite virtual machine instructions between two looks at the clock (a few microseconds)."""
log = logging.getLogger(__name__)
_SENT_TO_THREAD = frozenset({sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _run_deferred(connection: sqlite3.Connection, deferred: Sequence[Deferred]) -> None:
    for statement in deferred:
        run = connection.executemany if statement.many else connection.execute
        run(statement.sql, statement.parameters).close()


def _run(
    connection: sqlite3.Connection,
    deferred: Sequence[Deferred],
    sql: str,
    parameters: Any,
    *,
    many: bool,
) -> Outcome:
    """A whole statement, after the ones held back for it (on the driver's thread, or inline)."""
    _run_deferred(connection, deferred)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _reads_only(sql: str) -> bool:
    """Whether ``sql`` is a ``SELECT``, which in SQLite writes nothing and can run again."""
    return sql[:6].upper() == "SELECT"


class _WouldWait(Exception):
    """An inline statement ran past its budget or met a lock: it is to take the trip."""

    def __init__(self, *, ran_long: bool) -> None:
        super().__init__()
        self.ran_long = ran_long


class LongReads:
    """The ``SELECT`` statements lately stopped for running past the budget (a dashboard's over
    many months, a search): each takes the trip straight away for its next ``RETRY_AFTER``
    runs rather than spend the budget again every time, then tries inline once more, as the
    data it reads may have changed."""

    RETRY_AFTER = 100
    _LIMIT = 512

    def __init__(self) -> None:
        self._trips_left: dict[str, int] = {}

    def may_run_inline(self, sql: str) -> bool:
        left = self._trips_left.get(sql)
        if left is None:
            return True
        if left <= 1:
            del self._trips_left[sql]
        else:
            self._trips_left[sql] = left - 1
        return False

    def ran_long(self, sql: str) -> None:
        if len(self._trips_left) >= self._LIMIT:
            self._trips_left.clear()
        self._trips_left[sql] = self.RETRY_AFTER


@contextmanager
def _inline(connection: sqlite3.Connection) -> Iterator[None]:
    """Run the block's statements on the calling thread within ``INLINE_READ_BUDGET`` seconds
    and without waiting for a lock; past the budget, or at a lock, they stop (``_WouldWait``)."""
    connection.execute("PRAGMA busy_timeout=0").close()
    deadline = time.perf_counter() + INLINE_READ_BUDGET
    connection.set_progress_handler(lambda: time.perf_counter() > deadline, _STEPS_BETWEEN_CHECKS)
    try:
        yield
    except sqlite3.OperationalError as error:
        code = error.sqlite_errorcode & 0xFF
        if code in _SENT_TO_THREAD:
            raise _WouldWait(ran_long=code == sqlite3.SQLITE_INTERRUPT) from error
        raise
    finally:
        connection.set_progress_handler(None, 0)
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}").close()


def _commit(
    connection: sqlite3.Connection,
    deferred: Sequence[Deferred],
    checkpoints: WalCheckpoints | None = None,
) -> None:
    """The statements held back, then the commit; should either fail, the transaction is rolled
    back here, as SQLAlchemy takes a failed commit for an ended transaction. Then the log's
    checkpoint, if the connection runs its own and one is due (``core/sqlite_wal.py``)."""
    try:
        _run_deferred(connection, deferred)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    if checkpoints is not None and checkpoints.due():
        checkpoint(connection)


class OneTripCursor:
    """The driver cursor SQLAlchemy's adapter drives: ``execute`` and ``executemany`` take one
    trip to the thread (a short ``SELECT``, none); fetching and closing take none."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        return await self._trip(sql, () if parameters is None else parameters, many=False)

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> OneTripCursor:
        return await self._trip(sql, parameters, many=True)

    async def _trip(self, sql: str, parameters: Any, *, many: bool) -> OneTripCursor:
        connection = self._connection
        if connection.holds_back(Deferred(sql, parameters, many)):
            self.description, self.rowcount, self.lastrowid, self._rows = None, -1, None, []
            return self
        driver = connection.driver
        outcome = None
        if not many and _reads_only(sql):
            outcome = connection.read_inline(sql, parameters)
        else:
            connection.wrote = True
        if outcome is None:
            if connection.wrote:
                connection.wrote_on_thread = True
            outcome = await driver._execute(  # type: ignore[no-untyped-call]
                _run, driver._conn, connection.take_deferred(), sql, parameters, many=many
            )
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    def close(self) -> None:
        self._rows = []


class _OneTripAdaptedCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        assert isinstance(self._adapt_connection, OneTripConnection)
        return OneTripCursor(self._adapt_connection)

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's adapted aiosqlite connection, holding back what has nothing to answer."""

    __slots__ = (
        "_checkpoints",
        "_deferred",
        "_holds_write_lock",
        "_wal_looked_at",
        "wrote",
        "wrote_on_thread",
    )
    _cursor_cls = _OneTripAdaptedCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._deferred: list[Deferred] = []
        self.wrote = False
        """Whether anything but a ``SELECT`` ran since the last commit or rollback."""
        self.wrote_on_thread = False
        """Whether any of that ran on the driver's thread (not held back for the commit)."""
        self._holds_write_lock = False
        """Whether the transaction began with ``BEGIN IMMEDIATE``: its writes wait for no one."""
        self._checkpoints: WalCheckpoints | None = None
        self._wal_looked_at = False

    @property
    def driver(self) -> aiosqlite.Connection:
        return cast(aiosqlite.Connection, self._connection)

    def holds_back(self, statement: Deferred) -> bool:
        """Whether ``statement`` waits for the next one: a transaction's ``BEGIN``."""
        if statement.sql in BEGINS and not self._deferred:
            self._deferred.append(statement)
            return True
        return False

    def defer(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run ``sql`` for each of ``rows`` (in SQLite's form) before the next statement or
        the commit, in its trip: for writes whose results nobody reads."""
        self._deferred.append(Deferred(sql, rows, many=True))
        self.wrote = True

    def read_inline(self, sql: str, parameters: Any) -> Outcome | None:
        """A ``SELECT`` run on the calling thread, after the transaction's ``BEGIN`` if that
        is all that was held back (``_inline``); None when it is to take the trip."""
        if self._deferred and (len(self._deferred) > 1 or not self._holds_its_begin()):
            return None
        long_reads: LongReads = self.dbapi.long_reads
        if not long_reads.may_run_inline(sql):
            return None
        connection: sqlite3.Connection = self.driver._conn
        try:
            with _inline(connection):
                return _run(connection, self._deferred, sql, parameters, many=False)
        except _WouldWait as stopped:
            if stopped.ran_long:
                long_reads.ran_long(sql)
            return None
        finally:
            # Whether the BEGIN ran by the transaction's state, not by whether it raised:
            # SQLite may stop a statement (a cached one counts its steps on) as it ends, when
            # it has taken effect.
            if self._deferred and connection.in_transaction:
                self._holds_write_lock = self._deferred[0].sql == BEGIN_WRITING
                self._deferred.clear()

    def take_deferred(self) -> list[Deferred]:
        """What was held back, to travel with a statement: a ``BEGIN IMMEDIATE`` among it
        takes the write lock for the rest of the transaction."""
        deferred, self._deferred = self._deferred, []
        if deferred and deferred[0].sql == BEGIN_WRITING:
            self._holds_write_lock = True
        return deferred

    def _holds_its_begin(self) -> bool:
        """Whether the transaction's ``BEGIN`` is still held back: nothing of it has run."""
        return bool(self._deferred) and self._deferred[0].sql in BEGINS

    def _in_transaction(self) -> bool:
        """sqlite3's flag, read without a trip: no statement of this connection is running.
        A connection closed already is in none."""
        connection: sqlite3.Connection | None = self.driver._connection
        try:
            return connection is not None and connection.in_transaction
        except sqlite3.ProgrammingError:
            return False

    def commit(self) -> None:
        """A transaction that only read ends on the calling thread (a read's ``COMMIT`` only
        lets go of its snapshot, and waits for no lock), and so does a small one holding the
        write lock whose writes were all held back for the commit
        (``_inline_commit_checkpoints``); the others take the trip."""
        wrote, self.wrote = self.wrote, False
        on_thread, self.wrote_on_thread = self.wrote_on_thread, False
        holds_write_lock, self._holds_write_lock = self._holds_write_lock, False
        if self._holds_its_begin() and len(self._deferred) == 1:
            self._deferred.clear()
            return
        if not self._deferred and not self._in_transaction():
            return
        driver = self.driver
        inline = self._inline_commit_checkpoints() if holds_write_lock and not on_thread else None
        try:
            if not (wrote or self._deferred):
                _commit(driver._conn, ())
            elif inline is not None:
                deferred, self._deferred = self._deferred, []
                _commit(driver._conn, deferred)
            else:
                deferred, self._deferred = self._deferred, []
                await_(driver._execute(_commit, driver._conn, deferred, self._checkpoints))  # type: ignore[no-untyped-call]
        except Exception as error:
            self._handle_exception(error)
        if inline is not None and inline.due():
            self._checkpoint_on_thread()

    def _inline_commit_checkpoints(self) -> WalCheckpoints | None:
        """What runs the log's checkpoints, when the held-back writes, few enough, may run
        with the ``COMMIT`` on the calling thread: under the write lock they wait for no one,
        and with no checkpoint in the ``COMMIT`` (this connection runs its own,
        ``core/sqlite_wal.py``) they take a tenth to a third of a millisecond, less than the
        trip's hand-offs between threads. None when they take the trip."""
        rows = sum(len(held.parameters) if held.many else 1 for held in self._deferred)
        if not self._deferred or self._holds_its_begin() or rows > INLINE_COMMIT_ROWS:
            return None
        if not self._wal_looked_at:
            self._wal_looked_at = True
            self._checkpoints = WalCheckpoints.take_over(self.driver._conn)
        return self._checkpoints

    def _checkpoint_on_thread(self) -> None:
        """The log's checkpoint, after a commit made on the calling thread, on the driver's:
        the commit stands, and a checkpoint that cannot run is logged and left to the next."""
        driver = self.driver
        try:
            await_(driver._execute(checkpoint, driver._conn))  # type: ignore[no-untyped-call]
        except Exception:
            log.warning("could not run a write-ahead log checkpoint", exc_info=True)

    def close(self) -> None:
        self._stop_reading_the_log()
        super().close()

    def terminate(self) -> None:
        """How SQLAlchemy closes a connection it invalidates (not through ``close``)."""
        self._stop_reading_the_log()
        super().terminate()

    def _stop_reading_the_log(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None

    def rollback(self) -> None:
        """What was held back never ran: with the ``BEGIN`` among it, or out of a transaction
        (the pool's rollback of a connection it takes back), there is nothing to undo."""
        began = not self._holds_its_begin()
        self._deferred.clear()
        self.wrote = self.wrote_on_thread = self._holds_write_lock = False
        if began and self._in_transaction():
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DB-API adapter with the one-trip cursor; pass it as
    ``create_async_engine(..., module=OneTripDBAPI())``."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.long_reads = LongReads()

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)
