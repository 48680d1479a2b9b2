"""A SQLite writer reads who is calling before it takes the process's write lock
(``core/db.py``, ``read_before_writing``), then writes on the same connection: the lock is
taken by its next statement, or by writes held back for one, never by the read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, String, column, event, func, insert, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.db import DEFER_WRITE_LOCK, Database, read_before_writing
from ledgerline.core.deferred_writes import deferred_writes

NAMES = table("names", column("id", Integer), column("name", String))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    async with database.engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        )
    yield database
    await database.dispose()


def _writer(database: Database) -> AsyncSession:
    session = database.sessions()
    session.info[DEFER_WRITE_LOCK] = True
    return session


async def _who_is_calling(session: AsyncSession) -> None:
    async with read_before_writing(session):
        await session.execute(select(func.count()).select_from(NAMES))


async def _write(database: Database, name: str) -> None:
    async with _writer(database) as session:
        await _who_is_calling(session)
        await session.execute(insert(NAMES).values(name=name))
        await session.commit()


async def _names(database: Database) -> list[str]:
    async with database.read_sessions() as session:
        return list((await session.execute(select(NAMES.c.name).order_by(NAMES.c.id))).scalars())


async def test_the_read_and_the_writes_share_one_connection(database: Database) -> None:
    checkouts: list[Any] = []
    event.listen(database.engine.sync_engine, "checkout", lambda *args: checkouts.append(args))
    await _write(database, "ada")
    assert len(checkouts) == 1
    assert await _names(database) == ["ada"]


async def test_the_read_takes_no_write_lock(database: Database) -> None:
    async with _writer(database) as first:
        await _who_is_calling(first)
        await asyncio.wait_for(_write(database, "second"), timeout=5)
        await first.execute(insert(NAMES).values(name="first"))
        await first.commit()
    assert await _names(database) == ["second", "first"]


@pytest.mark.parametrize("held_back", [False, True], ids=["a statement", "held-back writes"])
async def test_the_next_write_takes_the_lock(database: Database, held_back: bool) -> None:
    async with _writer(database) as first:
        await _who_is_calling(first)
        if held_back:
            async with deferred_writes(first) as writes:
                await writes.execute(insert(NAMES), [{"name": "first"}])
        else:
            await first.execute(insert(NAMES).values(name="first"))
        second = asyncio.ensure_future(_write(database, "second"))
        done, _ = await asyncio.wait({second}, timeout=0.3)
        assert not done, "the second writer waits for the first's lock"
        await first.commit()
    await asyncio.wait_for(second, timeout=5)
    assert await _names(database) == ["first", "second"]


async def test_a_writer_that_wrote_nothing_leaves_no_lock_to_its_connections_next_user(
    database: Database,
) -> None:
    async with _writer(database) as first:
        await _who_is_calling(first)
    async with _writer(database) as second:
        await _who_is_calling(second)
        await asyncio.wait_for(_write(database, "third"), timeout=5)
    assert await _names(database) == ["third"]
