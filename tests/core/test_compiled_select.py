"""``core/compiled_select.py``: the same rows as ``session.execute``, in the session's
transaction, seen by the cursor events, and failing as SQLAlchemy's statements fail, whether it
runs through SQLAlchemy or on PostgreSQL's driver from the event loop (``asyncpg_direct``: a
connection in autocommit, from its second run on)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import NamedTuple

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError

from ledgerline.core.compiled_select import CompiledSelect, compilable
from ledgerline.core.db import Database, Timeouts, UTCDateTime
from ledgerline.core.faults import is_database_unavailable
from tests.conftest import _pg_admin
from tests.probe_tables import database_with
from tests.statements import statements_counted

PROBES = Table(
    "compiled_select_probes",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("day", Date),
    Column("at", UTCDateTime()),
    Column("amount", Numeric(12, 2)),
    Column("count", Integer),
    Column("flag", Boolean),
    Column("note", String(20)),
)
ROWS = [
    {
        "id": uuid.UUID("01a245c2-0000-7000-8000-000000000001"),
        "day": dt.date(2026, 12, 4),
        "at": dt.datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=dt.UTC),
        "amount": Decimal("12.50"),
        "count": 3,
        "flag": True,
        "note": "café",
    },
    {
        "id": uuid.UUID("01a245c2-0000-7000-8000-000000000002"),
        "day": None,
        "at": None,
        "amount": None,
        "count": None,
        "flag": False,
        "note": None,
    },
]


class Probe(NamedTuple):
    id: uuid.UUID
    day: dt.date | None
    at: dt.datetime | None
    amount: Decimal | None
    count: int | None
    flag: bool | None
    note: str | None


class Labelled(NamedTuple):
    id: uuid.UUID
    prefix: str


class OnlyId(NamedTuple):
    id: int


BY_FLAG = select(PROBES).where(PROBES.c.flag == bindparam("flag")).order_by(PROBES.c.id)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with database_with(database_url, PROBES, ROWS) as database:
        yield database


@pytest.mark.parametrize("flag", [True, False])
async def test_rows_are_the_values_and_types_sqlalchemy_reads(
    database: Database, flag: bool
) -> None:
    compiled = CompiledSelect(BY_FLAG, Probe)
    for sessions in (database.sessions, database.read_sessions):
        async with sessions() as session:
            expected = [tuple(row) for row in await session.execute(BY_FLAG, {"flag": flag})]
            rows = await compiled.all(session, {"flag": flag})
        assert rows == expected
        assert [type(value) for row in rows for value in row] == [
            type(value) for row in expected for value in row
        ]
        assert all(isinstance(row, Probe) for row in rows)


async def test_values_bound_in_the_statement_and_trailing_columns(database: Database) -> None:
    statement = select(
        PROBES.c.id, literal("p-").label("prefix"), (PROBES.c.count + 1).label("next")
    ).where(PROBES.c.id == bindparam("id"))
    async with database.read_sessions() as session:
        row = await CompiledSelect(statement, Labelled).one_or_none(session, {"id": ROWS[0]["id"]})
        missing = await CompiledSelect(statement, Labelled).one_or_none(
            session, {"id": uuid.uuid4()}
        )
    assert row == (ROWS[0]["id"], "p-"), "the literal's value bound; the column after, dropped"
    assert missing is None


async def test_it_reads_in_the_sessions_transaction(database: Database) -> None:
    added = {**ROWS[0], "id": uuid.uuid4(), "flag": None}
    by_id = CompiledSelect(select(PROBES).where(PROBES.c.id == bindparam("id")), Probe)
    async with database.sessions() as session:
        await session.execute(insert(PROBES), [added])
        assert await by_id.one_or_none(session, {"id": added["id"]}) is not None
        await session.rollback()
        assert await by_id.one_or_none(session, {"id": added["id"]}) is None


async def test_the_cursor_events_see_its_statement(database: Database) -> None:
    compiled = CompiledSelect(BY_FLAG, Probe)
    with statements_counted(database) as statements:
        async with database.read_sessions() as session:
            first = await compiled.all(session, {"flag": True})
            again = await compiled.all(session, {"flag": True})
    assert first == again
    assert [s for s in statements if "compiled_select_probes" in s] == [
        str(BY_FLAG.compile(dialect=database.engine.dialect))
    ] * 2


async def test_a_failing_statement_in_autocommit_raises_sqlalchemys_error_and_goes_on(
    database: Database,
) -> None:
    """A read session's statement, run a second time (on PostgreSQL, on the driver itself),
    fails as the first run would have, and its connection stays in use."""
    absolute = CompiledSelect(
        select(func.abs(bindparam("n", type_=BigInteger)).label("id")), OnlyId
    )
    async with database.read_sessions() as session:
        assert await absolute.all(session, {"n": -2}) == [(2,)]
        connection = await session.connection()
        raw_before = await connection.get_raw_connection()
        with pytest.raises(DBAPIError, match=r"out of range|overflow") as raised:
            await absolute.all(session, {"n": -(2**63)})
        assert not raised.value.connection_invalidated
        assert await absolute.all(session, {"n": -5}) == [(5,)]
        assert (await connection.get_raw_connection()) is raw_before


async def test_a_failing_statement_raises_sqlalchemys_error_and_the_session_goes_on(
    database: Database,
) -> None:
    missing = CompiledSelect(
        select(table("no_such_table", column("id"))).where(column("id") == bindparam("id")),
        OnlyId,
    )
    async with database.sessions() as session:
        with pytest.raises(DBAPIError):
            await missing.all(session, {"id": 1})
        await session.rollback()
        assert len(await CompiledSelect(BY_FLAG, Probe).all(session, {"flag": True})) == 1


def test_a_row_type_must_name_the_statements_columns() -> None:
    with pytest.raises(ValueError, match="columns"):
        CompiledSelect(BY_FLAG, Labelled)


async def test_one_or_none_refuses_several_rows(database: Database) -> None:
    every = CompiledSelect(select(PROBES).order_by(PROBES.c.id), Probe)
    async with database.read_sessions() as session:
        with pytest.raises(ValueError, match="more than one row"):
            await every.one_or_none(session, {})


async def test_expanding_parameters_are_refused(database: Database) -> None:
    statement = select(PROBES).where(PROBES.c.id.in_(bindparam("ids", expanding=True)))
    assert not compilable(statement), "told before it is tried"
    assert compilable(BY_FLAG)
    listed = CompiledSelect(statement, Probe)
    async with database.read_sessions() as session:
        with pytest.raises(ValueError, match="expanding"):
            await listed.all(session, {"ids": [ROWS[0]["id"]]})


async def test_a_lost_connection_is_invalidated_and_the_pool_replaces_it(
    database_url: str, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("terminating a backend is PostgreSQL's")
    one = CompiledSelect(select(literal(1).label("id")), OnlyId)
    database = Database(database_url, pool_size=1, timeouts=Timeouts())
    try:
        async with database.read_sessions() as session:
            assert await one.all(session, {}) == [(1,)], "its next run goes to the driver"
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")))
            await _pg_admin(f"SELECT pg_terminate_backend({pid})")
            await _until_gone(database, pid)
            with pytest.raises(DBAPIError) as raised:
                await one.all(session, {})
        assert raised.value.connection_invalidated
        assert is_database_unavailable(raised.value), "answered 503"
        async with database.read_sessions() as session:
            assert await one.all(session, {}) == [(1,)]
    finally:
        await database.dispose()


async def _until_gone(database: Database, pid: int) -> None:
    """Wait for the terminated backend to be gone (asked on another connection)."""
    running = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    for _ in range(100):
        async with database.engine.connect() as connection:
            if not await connection.scalar(running, {"pid": pid}):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} still runs")


class Slept(NamedTuple):
    slept: str


async def test_a_cancelled_statement_invalidates_its_connection(
    database_url: str, backend: str
) -> None:
    """As SQLAlchemy does for a statement interrupted on its own path: the connection's state is
    unknown, so it is closed rather than given back, and the server's backend ends."""
    if backend != "postgresql":
        pytest.skip("SQLite's statements run in its driver's thread")
    sleep = CompiledSelect(
        select(func.pg_sleep(bindparam("seconds", type_=Float)).cast(String).label("slept")),
        Slept,
    )
    database = Database(database_url, pool_size=1, timeouts=Timeouts())
    try:
        async with database.read_sessions() as session:
            await sleep.all(session, {"seconds": 0})
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")))
            sleeping = asyncio.ensure_future(sleep.all(session, {"seconds": 60}))
            await _until_sleeping(database, pid)
            sleeping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sleeping
        await _until_gone(database, pid)
        async with database.read_sessions() as session:
            assert int(await session.scalar(text("SELECT pg_backend_pid()"))) != pid
            assert await sleep.all(session, {"seconds": 0}) == [("",)]
    finally:
        await database.dispose()


async def _until_sleeping(database: Database, pid: int) -> None:
    """Wait for backend ``pid`` to be running its ``pg_sleep``."""
    sleeping = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE pid = :pid AND state = 'active' AND query LIKE '%pg_sleep%'"
    )
    for _ in range(100):
        async with database.engine.connect() as connection:
            if await connection.scalar(sleeping, {"pid": pid}):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} is not sleeping")
