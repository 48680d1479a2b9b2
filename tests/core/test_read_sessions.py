"""The read sessions, which serve the requests that only read: each statement is a transaction
of its own (no ``BEGIN``, no ``COMMIT``), unless the reader asks for one snapshot
(``read_in_snapshot``)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledgerline.core.db import Database, begin_writing, has_nothing_to_commit, read_in_snapshot
from ledgerline.orgs.models import Org


async def _orgs(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Org)) or 0)


async def _add_org(database: Database) -> None:
    async with database.sessions() as session:
        session.add(Org(name="Another", currency="USD"))
        await session.commit()


async def test_reads_see_each_commit_until_they_ask_for_one_snapshot(database: Database) -> None:
    async with database.read_sessions() as session:
        first = await _orgs(session)
        await _add_org(database)
        assert await _orgs(session) == first + 1, "each statement reads what is committed"
        await read_in_snapshot(session)
        snapshot = await _orgs(session)
        await _add_org(database)
        assert await _orgs(session) == snapshot, "one snapshot after read_in_snapshot"
    async with database.read_sessions() as session:
        seen = await _orgs(session)
        await _add_org(database)
        assert await _orgs(session) == seen + 1, "the pooled connection reads as before"


async def test_a_reader_in_its_snapshot_keeps_it(database: Database) -> None:
    """A page made of services that each ask for one snapshot reads them all in the first."""
    async with database.read_sessions() as session:
        await read_in_snapshot(session)
        first = await _orgs(session)
        await _add_org(database)
        await read_in_snapshot(session)
        assert await _orgs(session) == first, "the second request kept the first snapshot"


async def test_a_writers_session_is_left_as_it_is(database: Database) -> None:
    async with database.sessions() as session:
        await read_in_snapshot(session)
        assert not session.in_transaction(), "no transaction begun for a writer"
        session.add(Org(name="Written", currency="EUR"))
        await session.commit()
    async with database.read_sessions() as session:
        assert await session.scalar(select(func.count()).where(Org.name == "Written")) == 1


async def test_a_readers_request_takes_no_trip_on_sqlite(
    database: Database, trips: list[str]
) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite's driver thread")
    async with database.read_sessions() as session:
        await _orgs(session)
        trips.clear()
        await _orgs(session)
        await _orgs(session)
        await session.commit()
    assert trips == [], "short reads run on the event loop's thread; no BEGIN, no COMMIT"


async def test_only_a_reader_with_nothing_to_keep_skips_its_commit(database: Database) -> None:
    """``has_nothing_to_commit``: the route layer leaves such a session to its close."""
    async with database.read_sessions() as session:
        assert has_nothing_to_commit(session)
        await _orgs(session)
        assert has_nothing_to_commit(session), "statements that each were a transaction"
        session.add(Org(name="Pending", currency="USD"))
        assert not has_nothing_to_commit(session), "an object to flush"
    await _add_org(database)
    async with database.read_sessions() as session:
        org = (await session.scalars(select(Org).limit(1))).one()
        org.name = "Changed"
        assert not has_nothing_to_commit(session), "a changed object"
    async with database.read_sessions() as session:
        await read_in_snapshot(session)
        await _orgs(session)
        assert not has_nothing_to_commit(session), "a snapshot ends with its COMMIT"
    async with database.sessions() as session:
        await _orgs(session)
        assert not has_nothing_to_commit(session), "a writer's transaction"


def _one_statement_sessions(database: Database) -> async_sessionmaker[AsyncSession]:
    if database.one_statement_sessions is None:
        pytest.skip("SQLite's writers take their one connection; no session runs them apart")
    return database.one_statement_sessions


async def test_a_one_statement_session_commits_each_statement_as_it_runs(
    database: Database,
) -> None:
    """``Database.one_statement_sessions``: a write route's session, each statement a
    transaction of its own until the write asks for one."""
    sessions = _one_statement_sessions(database)
    async with sessions() as session:
        await session.execute(insert(Org).values(name="At once", currency="USD"))
        assert has_nothing_to_commit(session), "the statement committed as it ran"
        async with database.read_sessions() as reader:
            assert await reader.scalar(select(func.count()).where(Org.name == "At once")) == 1


async def test_begin_writing_makes_the_next_statements_one_transaction(
    database: Database,
) -> None:
    """``begin_writing``: what follows is kept by the commit, or by nothing at all."""
    sessions = _one_statement_sessions(database)
    async with sessions() as session:
        before = await _orgs(session)
        await begin_writing(session)
        await begin_writing(session)
        await session.execute(insert(Org).values(name="Pending one", currency="USD"))
        await session.execute(insert(Org).values(name="Pending two", currency="USD"))
        assert not has_nothing_to_commit(session), "a transaction to commit"
        async with database.read_sessions() as reader:
            assert await _orgs(reader) == before, "nothing seen before the commit"
        await session.rollback()
    async with sessions() as session:
        assert await _orgs(session) == before, "both statements rolled back together"
        await begin_writing(session)
        await session.execute(insert(Org).values(name="Kept", currency="USD"))
        await session.commit()
    async with database.read_sessions() as reader:
        assert await _orgs(reader) == before + 1


async def test_begin_writing_leaves_a_writers_session_as_it_is(database: Database) -> None:
    async with database.sessions() as session:
        await session.execute(insert(Org).values(name="In its transaction", currency="USD"))
        await begin_writing(session)
        assert session.in_transaction(), "the writer's transaction goes on"
        await session.rollback()
    async with database.read_sessions() as reader:
        assert (
            await reader.scalar(select(func.count()).where(Org.name == "In its transaction")) == 0
        )
