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

It reaches into aiosqlite's connection for its thread (``_execute``) and its sqlite3
connection (``_conn``), as aiosqlite's own cursor does; aiosqlite is pinned, and
tests/core/test_sqlite_driver.py fails should either change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

Outcome = tuple[Any, int, int | None, list[Any]]
"""What one statement left: description, rowcount, lastrowid and every row."""


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, *, many: bool) -> Outcome:
    """A whole statement, on the driver's thread."""
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


class OneTripCursor:
    """The driver cursor SQLAlchemy's adapter drives: ``execute`` and ``executemany`` take one
    trip to the thread; fetching and closing take none."""

    arraysize = 1

    def __init__(self, connection: aiosqlite.Connection) -> None:
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
        outcome = await connection._execute(  # type: ignore[no-untyped-call]
            _run, connection._conn, sql, parameters, many=many
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
        return OneTripCursor(connection)

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor


class _OneTripAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripAdaptedCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DB-API adapter with the one-trip cursor; pass it as
    ``create_async_engine(..., module=OneTripDBAPI())``."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> _OneTripAdaptedConnection:
        adapted = super().connect(*arg, **kw)
        return _OneTripAdaptedConnection(self, adapted._connection)
