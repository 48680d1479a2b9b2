"""The read sessions, which serve the requests that only read: each statement is a transaction
of its own (no ``BEGIN``, no ``COMMIT``), unless the reader asks for one snapshot
(``read_in_snapshot``)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.db import Database, has_nothing_to_commit, read_in_snapshot
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
