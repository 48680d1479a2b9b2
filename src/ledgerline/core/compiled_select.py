"""The few reads every request makes, run below SQLAlchemy's execution layer.

``session.execute`` spends 30 to 45 us of Python on a statement (its execution context, the
compiled cache's lookup, parameter processing, the result and its rows) before and after the
driver's work, which for the caller's role, a record by id or a new record's account takes
5 us on SQLite and about 70 us on PostgreSQL. A ``CompiledSelect`` is compiled once per
dialect; its parameters are bound and its values converted by the column types' own
processors, as SQLAlchemy would; and it runs on the session's DB-API cursor through
``Connection._cursor_execute``, SQLAlchemy's own path for a statement without an execution
context, which keeps what matters of the usual one: the cursor events (tests count statements
with them), and errors wrapped as SQLAlchemy's, a lost connection invalidated. The session
gives the connection as for any statement, in its transaction when it has one. On PostgreSQL,
a connection in autocommit (read sessions, one-statement writers) runs it on the driver from
the event loop, with the same events and errors (``asyncpg_direct``).

For statements built once with their parameters bound by name; not for ``IN`` lists that
expand or parameters rendered into the SQL.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import greenlet_spawn

from ledgerline.core import asyncpg_direct

RowT = TypeVar("RowT", bound=tuple[Any, ...])

_Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Compiled:
    """One dialect's SQL for the statement, and how its parameters and rows are converted."""

    sql: str
    names: tuple[str, ...]
    bind_processors: tuple[_Processor, ...]
    defaults: Mapping[str, Any]
    result_processors: tuple[_Processor, ...] | None = None

    def arguments(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, processor in zip(self.names, self.bind_processors, strict=True):
            value = parameters[name] if name in parameters else self.defaults[name]
            values.append(value if processor is None or value is None else processor(value))
        return tuple(values)


class CompiledSelect(Generic[RowT]):
    """``statement``'s rows as ``row`` (a named tuple whose fields are the statement's leading
    columns, by name; columns after them, such as a lock taken as a column, are dropped)."""

    def __init__(self, statement: Select[*tuple[Any, ...]], row: Callable[..., RowT]) -> None:
        keys = tuple(statement.selected_columns.keys())
        fields: tuple[str, ...] = getattr(row, "_fields", ())
        if keys[: len(fields)] != fields or not fields:
            raise ValueError(f"{row} takes {fields}; the statement's columns are {keys}")
        self.statement = statement
        self.row = row
        self._width = len(fields)
        self._keeps_every_column = len(fields) == len(keys)
        self._types: tuple[TypeEngine[Any], ...] = tuple(
            column.type for column in statement.selected_columns
        )
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    async def all(
        self, reader: AsyncSession | AsyncConnection, parameters: Mapping[str, Any]
    ) -> list[RowT]:
        """The rows, read through ``reader``: a session (in its transaction, if it has one) or
        a connection (as it is)."""
        if isinstance(reader, AsyncConnection):
            started = reader.sync_connection
            if started is not None and self._runs_on_driver(started):
                return await self._fetch_on_driver(started, parameters)
            return await reader.run_sync(self._run_on, parameters)
        bind = reader.bind
        if bind is None or bind.dialect.name != "postgresql":
            return await reader.run_sync(self._run, parameters)
        ran = await greenlet_spawn(self._run_unless_on_driver, reader.sync_session, parameters)
        if isinstance(ran, Connection):
            return await self._fetch_on_driver(ran, parameters)
        return ran

    def _runs_on_driver(self, connection: Connection) -> bool:
        """Whether to await the statement on PostgreSQL's driver from the event loop
        (``asyncpg_direct``): once a first run through SQLAlchemy has given the result's
        types."""
        return (
            connection.dialect.name == "postgresql"
            and self._compiled(connection.dialect).result_processors is not None
            and asyncpg_direct.usable(connection)
        )

    def _run_unless_on_driver(
        self, session: Session, parameters: Mapping[str, Any]
    ) -> list[RowT] | Connection:
        """The rows, or the session's connection for the statement to run on its driver: one
        trip into SQLAlchemy's greenlet either way."""
        connection = session.connection()
        if self._runs_on_driver(connection):
            return connection
        return self._run_on(connection, parameters)

    async def _fetch_on_driver(
        self, connection: Connection, parameters: Mapping[str, Any]
    ) -> list[RowT]:
        compiled = self._compiled(connection.dialect)
        assert compiled.result_processors is not None
        arguments = compiled.arguments(parameters)
        fetched = await asyncpg_direct.fetch(connection, compiled.sql, arguments)
        return self._rows(fetched, compiled.result_processors)

    async def one_or_none(
        self, reader: AsyncSession | AsyncConnection, parameters: Mapping[str, Any]
    ) -> RowT | None:
        rows = await self.all(reader, parameters)
        if len(rows) > 1:
            raise ValueError(f"more than one row where at most one was expected: {self.statement}")
        return rows[0] if rows else None

    def _run(self, session: Session, parameters: Mapping[str, Any]) -> list[RowT]:
        return self._run_on(session.connection(), parameters)

    def _run_on(self, connection: Connection, parameters: Mapping[str, Any]) -> list[RowT]:
        compiled = self._compiled(connection.dialect)
        arguments = compiled.arguments(parameters)
        cursor = connection.connection.cursor()
        try:
            connection._cursor_execute(cursor, compiled.sql, arguments)
            if compiled.result_processors is None:
                compiled.result_processors = self._result_processors(connection, cursor.description)
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        return self._rows(fetched, compiled.result_processors)

    def _rows(self, fetched: Sequence[Any], processors: Sequence[_Processor]) -> list[RowT]:
        make = self.row
        width = self._width
        if any(processors):
            return [make(*_converted(tuple(values)[:width], processors)) for values in fetched]
        if self._keeps_every_column:
            return [make(*values) for values in fetched]
        return [make(*tuple(values)[:width]) for values in fetched]

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect)
        if compiled is None:
            compiled = self._by_dialect[dialect] = _compile(self.statement, dialect)
        return compiled

    def _result_processors(
        self, connection: Connection, description: Sequence[Sequence[Any]] | None
    ) -> tuple[_Processor, ...]:
        """The column types' result processors, given the driver's type codes as SQLAlchemy
        gives them (PostgreSQL's numeric types choose theirs by it)."""
        dialect = connection.dialect
        codes = [entry[1] for entry in description or ()]
        return tuple(
            type_.dialect_impl(dialect).result_processor(dialect, code)
            for type_, code in zip(self._types[: self._width], codes, strict=False)
        )


def compilable(statement: Select[*tuple[Any, ...]]) -> bool:
    """Whether a ``CompiledSelect`` can run ``statement``: no parameter that SQLAlchemy expands
    (``IN`` lists) or renders into the SQL as it executes."""
    compiled = statement.compile()
    return not (compiled.literal_execute_params or compiled.post_compile_params)


def _converted(values: tuple[Any, ...], processors: Iterable[_Processor]) -> Iterable[Any]:
    return (
        value if processor is None or value is None else processor(value)
        for value, processor in zip(values, processors, strict=False)
    )


def _compile(statement: Select[*tuple[Any, ...]], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError(
            f"a CompiledSelect takes no expanding parameters (compilable): {statement}"
        )
    names = tuple(compiled.positiontup or ())
    binds = [compiled.binds[name] for name in names]
    return _Compiled(
        sql=compiled.string,
        names=names,
        bind_processors=tuple(
            bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds
        ),
        defaults={
            name: bind.effective_value
            for name, bind in zip(names, binds, strict=True)
            if not bind.required
        },
    )
