"""Engine, sessions and the declarative base, for SQLite and PostgreSQL from one plain URL."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, DateTime, MetaData, Uuid, bindparam, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

from ledgerline.core.readers import Readers
from ledgerline.core.sqlite_driver import BEGIN_WRITING, BUSY_TIMEOUT_MS, OneTripDBAPI

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def uuid_parameter(name: str, *, expanding: bool = False) -> BindParameter[uuid.UUID]:
    """A bound UUID for a statement built once, at import, compared with a foreign key column.

    Such a column takes its type from the column it refers to once that table is defined; a
    plain ``bindparam`` compared with it before then stays untyped, and its UUID goes to the
    driver unconverted (SQLite refuses it). Whether it worked depended on which module was
    imported first (tests/core/test_prebuilt_statements.py). ``expanding``: a list of them,
    for ``IN``.
    """
    return bindparam(name, type_=Uuid(), expanding=expanding)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def async_url(url: str) -> URL:
    """Turn a plain ``sqlite:///`` or ``postgresql://`` URL into its async-driver form."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name()
    if backend == "sqlite" and driver != "aiosqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql" and driver != "asyncpg":
        return parsed.set(drivername="postgresql+asyncpg")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    _set_pragmas(dbapi_connection, foreign_keys=True)


def _sqlite_pragmas_for_migrations(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Alembic's batch mode rebuilds a table by dropping it, which SQLite refuses while other
    tables' foreign keys point at it; migrations run with enforcement off (Alembic's advice)."""
    _set_pragmas(dbapi_connection, foreign_keys=False)


def _set_pragmas(dbapi_connection: Any, *, foreign_keys: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long PostgreSQL may take before a request gives up on it (503).

    ``connect`` bounds opening a connection, waiting for a free one in the pool, and the ping
    of a pooled connection that sat idle (``PING_AFTER_IDLE``) before its use. ``statement`` is
    PostgreSQL's ``statement_timeout``; the driver's own command timeout, which is what ends a
    wait on a server that stopped answering altogether, is a little longer, so that a slow
    statement is normally cancelled by the server, which keeps the connection.
    """

    connect: float = 5.0
    statement: float = 30.0

    @property
    def command(self) -> float:
        return self.statement + COMMAND_TIMEOUT_GRACE


COMMAND_TIMEOUT_GRACE = 1.0
CLIENT_CHECK_MILLISECONDS = 200
"""PostgreSQL's ``client_connection_check_interval`` for the app's connections (PostgreSQL 14
or later): a statement whose client went away (a request cancelled at the shutdown timeout, a
process that died) is ended within this long, even while it waits on a lock, rather than run
to its end. A write that is one statement (a record's create) commits as it ends: ended, it
writes nothing."""
_LIFTED_COMMAND_TIMEOUT = "ledgerline_lifted_command_timeout"
_IDLE_SINCE = "ledgerline_idle_since"
PING_AFTER_IDLE = 1.0
"""Seconds a pooled PostgreSQL connection may sit in the pool before its next use pings it."""


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    read_only: bool = False,
    for_migrations: bool = False,
    timeouts: Timeouts | None = None,
) -> AsyncEngine:
    """An engine for ``url``; ``timeouts`` (PostgreSQL) bound every connect and statement."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        if _in_memory(target):
            pool = {}
        elif read_only or for_migrations:
            pool = _pool(pool_size)
        else:
            pool = _ONE_WRITER
        engine = create_async_engine(target, echo=echo, module=OneTripDBAPI(), **pool)
        pragmas = _sqlite_pragmas_for_migrations if for_migrations else _sqlite_pragmas
        event.listen(engine.sync_engine, "connect", pragmas)
        _begin_explicitly(engine, "BEGIN" if read_only else BEGIN_WRITING)
        return engine
    if timeouts is None:
        return create_async_engine(target, echo=echo, pool_pre_ping=True, **_pool(pool_size))
    engine = create_async_engine(
        target,
        echo=echo,
        **_pool(pool_size),
        pool_timeout=timeouts.connect,
        connect_args={
            "timeout": timeouts.connect,
            "command_timeout": timeouts.command,
            "server_settings": {
                "statement_timeout": str(round(timeouts.statement * 1000)),
                "client_connection_check_interval": str(CLIENT_CHECK_MILLISECONDS),
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", _pinger(timeouts.connect))
    event.listen(engine.sync_engine, "checkin", _restore_command_timeout)
    event.listen(engine.sync_engine, "checkin", _mark_idle)
    return engine


def _pool(size: int) -> dict[str, Any]:
    """The pool's settings: ``size`` connections kept, as many more opened for a burst, and
    the most recently returned handed out first (LIFO).

    LIFO keeps a light load on the few connections whose caches are warm. SQLite drops a
    connection's whole page cache when another connection wrote since its last transaction;
    handing out the one that sat longest (FIFO, the default) rotated one client's requests over
    every connection a burst had opened, each reading its pages afresh: a create at one client
    took 0.1-0.4 ms more CPU that way (docs/benchmarks.md, tenth pass). On PostgreSQL the
    difference was within the runs' spread; LIFO also lets the server's idle timeouts retire
    what a burst opened."""
    return {"pool_size": size, "max_overflow": size, "pool_use_lifo": True}


WRITE_WAIT = 30.0
"""Seconds a SQLite writer waits for the writers' connection (SQLite's busy timeout, too):
past it, the request is answered 503."""
_ONE_WRITER: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": WRITE_WAIT}
"""The SQLite writers' pool: one connection, which the process's writers take in turn.

SQLite lets one connection write at a time anyway; this is where the process's writers queue
for it, woken one at a time in arrival order (SQLite's busy handler has waiters poll with
sleeps of up to 100 ms, which once made a 16-writer p95 forty times its p50). And since no
other connection of the process writes, its page cache stays warm: SQLite drops a
connection's whole cache when another connection wrote since its last transaction, and with a
pool of writers every create read its pages afresh (docs/benchmarks.md, tenth pass)."""


def _in_memory(target: URL) -> bool:
    """An in-memory SQLite database, which SQLAlchemy serves from one connection
    (``StaticPool``, which takes no size)."""
    return target.database in (None, "", ":memory:") or target.query.get("mode") == "memory"


def _mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _pinger(timeout: float) -> Callable[[Any, ConnectionPoolEntry, Any], None]:
    """SQLAlchemy's ``pool_pre_ping``, within ``timeout`` rather than the command timeout, and
    only for a connection that sat idle for ``PING_AFTER_IDLE`` or more.

    A ping is a round trip, a fifth of a small request's time on this service; a connection
    back in use within a second needs none: one the server closed (a restart, a terminated
    backend, a cut link) is known closed by the driver as soon as the event loop has read the
    end of its stream, and is replaced without a round trip. A link gone silent without
    closing is what a long idle risks (a firewall's or NAT's timeout), and what the ping of an
    idle connection finds; on a connection in steady use it is found by the statement's own
    timeout. A pooled connection that does not answer is closed at once (not gracefully, which
    would wait on a frozen server too) and the pool replaces it; a connection just opened has
    answered already and is not pinged, so a replacement that cannot connect fails with the
    connect error itself.
    """

    def ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        driver = dbapi_connection.driver_connection
        if driver.is_closed():
            raise DisconnectionError("the server closed the pooled connection")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            await_(driver.fetchval("SELECT 1", timeout=timeout))
        except Exception as exc:
            driver.terminate()
            raise DisconnectionError("the pooled connection did not answer a ping") from exc

    return ping


async def lift_statement_timeout(session: AsyncSession) -> None:
    """Free the rest of the session's transaction from the statement timeouts (an import's
    statements may each take longer than any request should).

    PostgreSQL's own timeout is lifted for the transaction (``SET LOCAL``); the driver's command
    timeout, a property of the connection, comes back when the connection returns to the pool.
    asyncpg keeps that timeout in the connection's ``_config`` and has no call to change it;
    should that change, tests/faults/test_statement_timeouts.py fails.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    config = getattr(driver, "_config", None)
    if config is None or not hasattr(config, "command_timeout"):
        return
    raw.info.setdefault(_LIFTED_COMMAND_TIMEOUT, config.command_timeout)
    driver._config = config._replace(command_timeout=None)


def _restore_command_timeout(
    dbapi_connection: Any, record: ConnectionPoolEntry | PoolProxiedConnection
) -> None:
    if _LIFTED_COMMAND_TIMEOUT not in record.info or dbapi_connection is None:
        return
    command_timeout = record.info.pop(_LIFTED_COMMAND_TIMEOUT)
    driver = dbapi_connection.driver_connection
    driver._config = driver._config._replace(command_timeout=command_timeout)


def _begin_explicitly(engine: AsyncEngine, begin: str) -> None:
    """Issue SQLite's BEGIN ourselves (the recipe in SQLAlchemy's SQLite dialect documentation).

    Writers use ``BEGIN IMMEDIATE``, taking the write lock at the start, so two writers queue
    instead of one failing when it upgrades a read lock. Within a process they queue before
    that, for the writers' one connection (``_ONE_WRITER``). Writers of other processes queue
    on the busy timeout. Readers run statement by statement, with no ``BEGIN``
    (``_statement_by_statement``), or under a plain ``BEGIN`` when they ask for one snapshot
    (``SNAPSHOT``): under WAL they never block and are never blocked.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(STATEMENT_BY_STATEMENT, False) and not options.get(SNAPSHOT, False):
            return
        conn.exec_driver_sql(begin)


AUTOCOMMIT = "AUTOCOMMIT"
STATEMENT_BY_STATEMENT = "ledgerline_statement_by_statement"
"""Execution option of the read sessions' engine: each statement a transaction of its own."""
SNAPSHOT = "ledgerline_snapshot"
"""Execution option: this reader's statements share a transaction, one snapshot
(``read_in_snapshot``)."""


def _statement_by_statement(engine: AsyncEngine) -> AsyncEngine:
    """The read sessions' engine, on ``engine``'s pool: each statement in a transaction of its
    own, with no ``BEGIN`` and no ``COMMIT`` (autocommit).

    A statement reads what was committed when it began whether or not a transaction holds it
    (PostgreSQL's READ COMMITTED, SQLite's WAL), so a request that only reads loses nothing and
    saves its ``BEGIN`` and ``COMMIT``: two round trips to PostgreSQL, one trip to SQLite's
    thread (whose ``BEGIN`` travels with the first statement). What needs one snapshot for
    several statements, or a server-side cursor, asks for a transaction (``read_in_snapshot``).
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(
            isolation_level=AUTOCOMMIT, **{STATEMENT_BY_STATEMENT: True}
        )
    return engine.execution_options(**{STATEMENT_BY_STATEMENT: True})


async def read_in_snapshot(session: AsyncSession) -> None:
    """Make the session's next reads one transaction of their own, one snapshot: for an answer
    made of several statements' figures (a dashboard's parts, a balance series and its
    opening balances), which must not each see a different set of commits, and for a read of
    many batches, such as a streamed export, whose server-side cursor PostgreSQL keeps only
    inside a transaction. REPEATABLE READ on PostgreSQL; a ``BEGIN`` on SQLite.

    A session reading statement by statement (``_statement_by_statement``) ends what it holds
    first; it holds no changes. A reader already in its snapshot keeps it, so a page made of
    services that each ask for one reads them all in the first. Writers' sessions are one
    transaction already and are left as they are.
    """
    if not _reads_statement_by_statement(session):
        return
    if session.in_transaction():
        held = (await session.connection()).sync_connection
        if held is not None and held.get_execution_options().get(SNAPSHOT):
            return
        await session.commit()
    session.info[SNAPSHOT] = True
    options: dict[str, Any] = {SNAPSHOT: True}
    if is_postgresql(session):
        options["isolation_level"] = "REPEATABLE READ"
    await session.connection(execution_options=options)


WRITING = "ledgerline_writing"
"""``session.info`` key: a session that ran statement by statement is one transaction now
(``begin_writing``)."""
READ_COMMITTED = "READ COMMITTED"


async def begin_writing(session: AsyncSession) -> None:
    """Make a session running statement by statement one transaction from its next statement
    to the request's commit, for a write route whose usual work is one statement
    (``@one_statement_write``) when this write needs more. It holds no changes; what it
    read stays read (its objects are not expired). The transaction takes the database's
    default isolation, as a writer's session does. Any other session is left as it is."""
    if not _reads_statement_by_statement(session) or session.info.get(WRITING):
        return
    if session.in_transaction():
        await session.commit()
    session.info[WRITING] = True
    level = session.bind.dialect.default_isolation_level if session.bind is not None else None
    await session.connection(execution_options={"isolation_level": level or READ_COMMITTED})


def _reads_statement_by_statement(session: AsyncSession) -> bool:
    bind = session.bind
    return isinstance(bind, AsyncEngine) and bool(
        bind.get_execution_options().get(STATEMENT_BY_STATEMENT)
    )


def has_nothing_to_commit(session: AsyncSession) -> bool:
    """Whether committing ``session`` would change nothing: a read session reading statement
    by statement (each statement its own transaction, ``_statement_by_statement``), never in a
    snapshot, holding no object added, changed or deleted. Its commit would only walk
    SQLAlchemy's bookkeeping (20 us of a small request); closing it gives its connection back
    all the same. A snapshot's ``COMMIT`` is kept: on SQLite it ends there without the trip a
    rollback takes."""
    info = session.info
    if not _reads_statement_by_statement(session) or info.get(SNAPSHOT) or info.get(WRITING):
        return False
    sync = session.sync_session
    return not (sync.new or sync.dirty or sync.deleted)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def is_postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def upsert_insert(session: AsyncSession) -> Any:
    """The session's dialect's ``insert``, which has ``on_conflict_do_*`` (both databases)."""
    return postgresql.insert if is_postgresql(session) else sqlite.insert


def _retrieve_outcome(check: asyncio.Future[None]) -> None:
    """Mark a finished check's failure as seen (it was answered as "down" already)."""
    if not check.cancelled():
        check.exception()


class Database:
    """The engines and session factories; held by the app, the CLI and the tests alike.

    ``read_sessions`` serve requests that only read (GET): statement by statement, with no
    transaction unless one is asked for (``read_in_snapshot``), never taking SQLite's write
    lock; on PostgreSQL they may go to a read replica (``read_url``).
    ``one_statement_sessions`` (PostgreSQL) serve the write routes whose usual work is one
    statement (``@one_statement_write``): statement by statement on the primary, each statement
    a transaction of its own, until the write asks for one (``begin_writing``).
    ``timeouts`` bound PostgreSQL for the app serving requests; the command line runs without.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        read_url: str | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, echo=echo, timeouts=timeouts)
        self.sessions = create_session_factory(self.engine)
        self.read_engine = self.engine
        if read_url is not None or self.engine.dialect.name == "sqlite":
            self.read_engine = create_engine(
                read_url or url,
                pool_size=pool_size,
                echo=echo,
                read_only=True,
                timeouts=timeouts,
            )
        statement_by_statement = _statement_by_statement(self.read_engine)
        self.read_sessions = create_session_factory(statement_by_statement)
        self.one_statement_sessions = (
            None if self.is_sqlite else create_session_factory(_statement_by_statement(self.engine))
        )
        self.readers = (
            Readers(self.read_sessions, statement_by_statement) if self.is_sqlite else None
        )
        self._check: asyncio.Future[None] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def ping(self) -> None:
        """``SELECT 1`` where a request would read: on SQLite on a reader, as the writers' one
        connection may be held by a long write (an import) that leaves the database as
        available as ever."""
        engine = self.read_engine if self.is_sqlite else self.engine
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    async def answers_within(self, seconds: float) -> bool:
        """Whether ``SELECT 1`` succeeds within ``seconds``, whatever the database does.

        A check that runs out of time is left to finish rather than cancelled: cancelling it
        waits for its connection's graceful close, which on a frozen server takes seconds
        more. It ends by itself within the connect timeouts, and meanwhile the next caller
        waits on it instead of starting another.
        """
        check = self._check
        if check is None or check.done():
            check = self._check = asyncio.ensure_future(self.ping())
            check.add_done_callback(_retrieve_outcome)
        done, _ = await asyncio.wait({check}, timeout=seconds)
        return bool(done) and not check.cancelled() and check.exception() is None

    async def dispose(self) -> None:
        if self._check is not None and not self._check.done():
            self._check.cancel()
            await asyncio.wait({self._check})
        if self.readers is not None:
            await self.readers.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
