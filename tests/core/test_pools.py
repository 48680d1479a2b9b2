"""Both databases' engines hold ``LEDGERLINE_DB_POOL_SIZE`` connections, and as many again in
overflow: fewer than the requests in flight, and a waiting request can be passed over."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool, StaticPool

from ledgerline.core.db import Database


async def test_the_engines_take_the_configured_pool_size(database_url: str) -> None:
    database = Database(database_url, pool_size=3)
    try:
        for engine in (database.engine, database.read_engine):
            pool = engine.sync_engine.pool
            assert isinstance(pool, QueuePool)
            assert pool.size() == 3
            assert pool._max_overflow == 3
    finally:
        await database.dispose()


async def test_an_in_memory_sqlite_database_keeps_its_one_connection() -> None:
    database = Database("sqlite://", pool_size=3)
    try:
        assert isinstance(database.engine.sync_engine.pool, StaticPool)
    finally:
        await database.dispose()
