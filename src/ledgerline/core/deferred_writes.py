"""Writes whose results nobody reads (a record's audit entry, the aggregates' upserts), sent
to SQLite with the next statement or the commit, in the same trip to its thread.

On SQLite each statement costs a hand-off to aiosqlite's thread and, through SQLAlchemy, a
tenth of a millisecond of Python (its execution context, parameter processing and result):
a record's create spent half a millisecond executing its seven inserts and upserts, though
none of them answers anything. Here each is compiled once, its rows are bound by the
columns' own bind processors, as SQLAlchemy would, and the driver keeps them until the next
statement or the commit (``OneTripConnection.defer``). An error in one is raised by the
statement or the commit that carried it, which rolls everything back as it would have.
PostgreSQL runs them as they come.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ledgerline.core.sqlite_driver import OneTripConnection

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewRow:
    """A row to insert through Core with a write's other statements (a record and its audit
    entry, with the aggregates' upserts: ``aggregates.apply``); ``values`` sets every column
    the insert sets, the same ones each time for one kind of row, so its statement is built
    once."""

    table: Table
    values: dict[str, Any]

    @property
    def shape(self) -> tuple[str, tuple[str, ...]]:
        return self.table.name, tuple(self.values)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """An insert's SQL for one set of row keys, and how a row becomes its parameters."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: Mapping[str, Any]

    def bind(self, row: Row) -> tuple[Any, ...]:
        values = []
        for name, processor in zip(self.names, self.processors, strict=True):
            value = row[name] if name in row else self.defaults[name]
            values.append(value if processor is None or value is None else processor(value))
        return tuple(values)


@functools.lru_cache(maxsize=128)
def _compiled(statement: Insert, keys: tuple[str, ...], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ())
    table = statement.table
    defaults: dict[str, Any] = {}
    for name in names:
        if name in keys:
            continue
        default = getattr(table.c[name], "default", None) if isinstance(table, Table) else None
        if default is None or not default.is_scalar:
            raise ValueError(f"a deferred insert into {table} must set {name}")
        defaults[name] = default.arg
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return _Compiled(compiled.string, names, processors, defaults)


class DeferredWrites:
    """Inserts (and upserts) of whole rows: ``insert(table)``, not ``.values(...)``."""

    def __init__(
        self, session: AsyncSession, dialect: Dialect, driver: OneTripConnection | None
    ) -> None:
        self._session = session
        self._dialect = dialect
        self._driver = driver

    async def execute(self, statement: Insert, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self._driver is None:
            connection = await self._session.connection()
            await connection.execute(statement, list(rows))
            return
        compiled = _compiled(statement, tuple(rows[0]), self._dialect)
        self._driver.defer(compiled.sql, [compiled.bind(row) for row in rows])


@asynccontextmanager
async def deferred_writes(session: AsyncSession) -> AsyncIterator[DeferredWrites]:
    """Writes on the session's connection, held back on SQLite until its next statement or
    commit. What the ORM holds is flushed first, so the rows written come after it."""
    dialect, driver = await session.run_sync(_flushed_connection)
    yield DeferredWrites(session, dialect, driver)


def _flushed_connection(session: Session) -> tuple[Dialect, OneTripConnection | None]:
    """The session flushed, and its connection's dialect and one-trip driver (None on
    PostgreSQL): in one hop to SQLAlchemy's greenlet, where three took 10 us more."""
    session.flush()
    connection = session.connection()
    driver = connection.connection.dbapi_connection
    return connection.dialect, driver if isinstance(driver, OneTripConnection) else None
