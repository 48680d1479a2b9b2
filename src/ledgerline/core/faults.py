"""Which failures mean the database is unavailable: the one list behind every 503 it causes.

A database that refuses, drops or stops answering connections shows up in many shapes: raw
driver exceptions (asyncpg raises connect failures and timeouts as they are), the DB-API errors
SQLAlchemy wraps them in, the pool's own checkout timeout, and plain socket errors. Each of them
says "try again shortly", never "the request was wrong" nor "the code is wrong".
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})
"""Connection exception; insufficient resources (too many connections); operator intervention
(shutdown, crash, "cannot connect now", a statement cancelled by ``statement_timeout``); system
error (I/O)."""

UNAVAILABLE_SQLSTATES = frozenset({"55000"})
"""Object not in prerequisite state: how PostgreSQL refuses a connection to a database whose
``ALLOW_CONNECTIONS`` is off."""

_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    sa_exc.TimeoutError,  # no free connection in the pool within the checkout timeout
    sa_exc.DisconnectionError,  # a pooled connection that did not answer its ping
    sa_exc.OperationalError,  # SQLite: locked past its busy timeout, file unreadable
    sa_exc.InterfaceError,  # the connection is closed or unusable
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    OSError,  # refused, reset, unreachable, name not resolved
    TimeoutError,  # connect or command timeout (asyncio.TimeoutError is this class)
)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error``, or what it wraps, says the database cannot serve right now."""
    for cause in _causes(error):
        if isinstance(cause, _UNAVAILABLE_TYPES):
            return True
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if _sqlstate_says_unavailable(getattr(cause, "sqlstate", None)):
            return True
    return False


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE of the database error in ``error``'s chain, if there is one."""
    for cause in _causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def _sqlstate_says_unavailable(sqlstate: object) -> bool:
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in UNAVAILABLE_SQLSTATES
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, the driver error a DB-API error wraps (``orig``), and their causes."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
