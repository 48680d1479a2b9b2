"""A compiled statement awaited on PostgreSQL's driver (asyncpg) from the event loop itself.

SQLAlchemy's asyncio support runs its synchronous execution code in a greenlet, which reaches
the driver through an adapter awaiting it from there: two greenlet switches, the adapter's
lock, its own cache of prepared statements and a cursor, around asyncpg's work. A statement
``CompiledSelect`` compiled once, on a connection in autocommit (PostgreSQL's read sessions and
one-statement writers), has no transaction to begin and its parameters processed already, so
it is awaited here on the pooled connection's asyncpg connection instead: 15-40 us less of a
request to an org (two statements) out of 0.6-1.1 ms of CPU (``bench.driver_path``).

What SQLAlchemy does around a statement is kept: the cursor events fire (tests and benchmarks
count statements with them; no cursor is passed), and an error is raised as SQLAlchemy raises
it, by its own code: translated to the DB-API's classes by the dialect's adapter, then handled
by the connection (wrapped in ``sqlalchemy.exc.DBAPIError``; a lost connection or an
interrupted statement invalidates the connection, as ``Connection._cursor_execute`` does).
A connection in a transaction, echoing SQL or with dialect-level events takes SQLAlchemy's
path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.util import greenlet_spawn


def usable(connection: Connection) -> bool:
    """Whether a statement on ``connection`` may run here: valid, in autocommit (no ``BEGIN``
    for the adapter to send first), not echoing, no dialect-level event listeners."""
    if connection.invalidated or connection.closed or connection._echo:
        return False
    if connection.dialect._has_events:
        return False
    adapted: Any = connection.connection.dbapi_connection
    return getattr(adapted, "autocommit", False) is True


async def fetch(connection: Connection, sql: str, arguments: Sequence[Any]) -> list[Any]:
    """The rows of ``sql`` with positional ``arguments``, on ``connection``'s asyncpg connection
    (``usable``)."""
    events = connection._has_events or connection.engine._has_events
    if events:
        for before in connection.dispatch.before_cursor_execute:
            sql, arguments = before(connection, None, sql, arguments, None, False)
    driver: Any = connection.connection.driver_connection
    try:
        rows: list[Any] = await driver.fetch(sql, *arguments)
    except BaseException as error:
        await greenlet_spawn(_raise_as_sqlalchemy, connection, sql, arguments, error)
        raise  # not reached: _raise_as_sqlalchemy always raises
    if events:
        connection.dispatch.after_cursor_execute(connection, None, sql, arguments, None, False)
    return rows


def _raise_as_sqlalchemy(
    connection: Connection, sql: str, arguments: Sequence[Any], error: BaseException
) -> None:
    """Raise ``error`` as SQLAlchemy's execution of the statement would have. In a greenlet:
    invalidating a connection closes it, which awaits the driver."""
    adapted: Any = connection.connection.dbapi_connection
    try:
        if isinstance(error, Exception):
            adapted._handle_exception(error)
        raise error
    except BaseException as translated:
        connection._handle_dbapi_exception(translated, sql, arguments, None, None)
