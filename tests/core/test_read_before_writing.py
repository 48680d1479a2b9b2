"""A SQLite writer reads who is calling through a reader (``core/readers.py``: a read session
of its own, or the reader connection the process keeps for plain reads), and takes the
process's one writers' connection only at its first write: a reader holds no writer back, and
the writers take the connection in turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import Integer, String, column, event, func, insert, select, table, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ledgerline.core import db
from ledgerline.core.compiled_select import CompiledSelect
from ledgerline.core.db import Database
from ledgerline.core.deferred_writes import deferred_writes
from ledgerline.core.readers import READERS, adopt, plain_reader, read_before_writing
from ledgerline.users.models import User
from tests.factories import World

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
    session.info[READERS] = database.readers
    return session


async def _who_is_calling(session: AsyncSession) -> int:
    async with read_before_writing(session) as reader:
        count = await reader.scalar(select(func.count()).select_from(NAMES))
    assert count is not None
    return count


async def _write(database: Database, name: str) -> None:
    async with _writer(database) as session:
        await _who_is_calling(session)
        await session.execute(insert(NAMES).values(name=name))
        await session.commit()


async def _names(database: Database) -> list[str]:
    async with database.read_sessions() as session:
        return list((await session.execute(select(NAMES.c.name).order_by(NAMES.c.id))).scalars())


def _checkouts(database: Database) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"readers": [], "writers": []}
    for name, engine in (("readers", database.read_engine), ("writers", database.engine)):
        event.listen(engine.sync_engine, "checkout", lambda *args, n=name: seen[n].append(args))
    return seen


async def test_the_read_goes_to_a_reader_and_the_writes_to_the_one_writer(
    database: Database,
) -> None:
    checkouts = _checkouts(database)
    await _write(database, "ada")
    assert [len(checkouts["readers"]), len(checkouts["writers"])] == [1, 1]
    assert database.engine.sync_engine.pool.size() == 1
    assert await _names(database) == ["ada"]


async def test_a_writer_that_has_only_read_holds_no_other_writer_back(
    database: Database,
) -> None:
    async with _writer(database) as first:
        await _who_is_calling(first)
        await asyncio.wait_for(_write(database, "second"), timeout=5)
        await first.execute(insert(NAMES).values(name="first"))
        await first.commit()
    assert await _names(database) == ["second", "first"]


@pytest.mark.parametrize("held_back", [False, True], ids=["a statement", "held-back writes"])
async def test_writers_take_the_one_connection_in_turn(database: Database, held_back: bool) -> None:
    async with _writer(database) as first:
        await _who_is_calling(first)
        if held_back:
            async with deferred_writes(first) as writes:
                await writes.execute(insert(NAMES), [{"name": "first"}])
        else:
            await first.execute(insert(NAMES).values(name="first"))
        second = asyncio.ensure_future(_write(database, "second"))
        done, _ = await asyncio.wait({second}, timeout=0.3)
        assert not done, "the second writer waits for the first's connection"
        await first.commit()
    await asyncio.wait_for(second, timeout=5)
    assert await _names(database) == ["first", "second"]


async def test_a_writer_waiting_past_its_time_gives_up(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answered 503 by the route class (``core/faults.py`` takes the pool's timeout for the
    database being unavailable); the writer holding the connection is not disturbed."""
    monkeypatch.setitem(db._ONE_WRITER, "pool_timeout", 0.2)
    waiting = Database(database.url)
    try:
        async with _writer(waiting) as first:
            await first.execute(insert(NAMES).values(name="first"))
            with pytest.raises(PoolTimeout):
                await _write(waiting, "second")
            await first.commit()
    finally:
        await waiting.dispose()
    assert await _names(database) == ["first"]


async def test_what_the_read_loaded_is_adopted_without_reading_it_again(
    database_url: str, world: World
) -> None:
    database = Database(database_url)
    try:
        async with _writer(database) as session:
            async with read_before_writing(session) as reader:
                user = await reader.get(User, world.viewer.user_id)
            assert user is not None
            executed: list[str] = []
            event.listen(
                database.engine.sync_engine,
                "before_cursor_execute",
                lambda _c, _cur, sql, *_: executed.append(sql),
            )
            own = await adopt(session, user)
            assert own in session
            assert own.email == user.email
            assert not any(sql.lstrip().upper().startswith("SELECT") for sql in executed)
    finally:
        await database.dispose()


class _Count(NamedTuple):
    count: int


_COUNT_NAMES = CompiledSelect(select(func.count().label("count")).select_from(NAMES), _Count)


async def _plainly_who_is_calling(session: AsyncSession) -> int:
    async with plain_reader(session) as reader:
        row = await _COUNT_NAMES.one_or_none(reader, {})
    assert row is not None
    return row.count


async def test_plain_reads_go_to_the_one_reader_connection_the_process_keeps(
    database: Database,
) -> None:
    checkouts = _checkouts(database)
    for name in ("ada", "grace"):
        async with _writer(database) as session:
            assert await _plainly_who_is_calling(session) == len(await _names(database))
            await session.execute(insert(NAMES).values(name=name))
            await session.commit()
    assert len(checkouts["writers"]) == 2
    assert len(checkouts["readers"]) == 1 + 2, "the kept connection once, and _names' twice"
    assert database.readers is not None
    await database.readers.close()
    assert database.read_engine.sync_engine.pool.checkedout() == 0, "given back when closed"
    async with _writer(database) as session:
        assert await _plainly_who_is_calling(session) == 2, "opened again"


async def test_a_plain_read_while_the_kept_connection_is_in_use_takes_a_session(
    database: Database,
) -> None:
    async with _writer(database) as first, plain_reader(first) as kept:
        assert isinstance(kept, AsyncConnection)
        async with _writer(database) as second, plain_reader(second) as other:
            assert isinstance(other, AsyncSession), "a read session of its own"
            assert other is not second
            assert await _COUNT_NAMES.one_or_none(other, {}) == (0,)
        assert await _COUNT_NAMES.one_or_none(kept, {}) == (0,)
    async with _writer(database) as third, plain_reader(third) as again:
        assert again is kept, "given back, and taken again"


async def test_a_writer_that_began_reads_through_its_own_session(database: Database) -> None:
    async with _writer(database) as session:
        await session.execute(insert(NAMES).values(name="ada"))
        async with plain_reader(session) as reader:
            assert reader is session
            assert await _COUNT_NAMES.one_or_none(reader, {}) == (1,), "its own write"
        await session.rollback()
