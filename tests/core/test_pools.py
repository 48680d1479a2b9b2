"""Both databases' engines hold ``LEDGERLINE_DB_POOL_SIZE`` connections, and as many again in
overflow, but for SQLite's writers, who take one connection in turn."""

from __future__ import annotations

import gc

import httpx
from fastapi import FastAPI
from sqlalchemy.pool import QueuePool, StaticPool

from ledgerline.core.db import Database
from tests.factories import World


async def test_the_engines_take_the_configured_pool_size(database_url: str) -> None:
    database = Database(database_url, pool_size=3)
    try:
        pool = database.read_engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (3, 3)
        writers = database.engine.sync_engine.pool
        assert isinstance(writers, QueuePool)
        expected = (1, 0) if database.is_sqlite else (3, 3)
        assert (writers.size(), writers._max_overflow) == expected
    finally:
        await database.dispose()


async def test_the_connection_given_back_last_is_handed_out_first(database_url: str) -> None:
    """After a burst opened several connections, one request at a time keeps to the one whose
    caches are warm, rather than rotating over all of them."""
    database = Database(database_url, pool_size=3)
    try:
        burst = [await database.read_engine.connect() for _ in range(3)]
        drivers = [(await each.get_raw_connection()).driver_connection for each in burst]
        for connection in burst:
            await connection.close()
        for _ in range(2):
            async with database.read_engine.connect() as connection:
                raw = await connection.get_raw_connection()
                assert raw.driver_connection is drivers[-1]
    finally:
        await database.dispose()


async def test_an_in_memory_sqlite_database_keeps_its_one_connection() -> None:
    database = Database("sqlite://", pool_size=3)
    try:
        assert isinstance(database.engine.sync_engine.pool, StaticPool)
    finally:
        await database.dispose()


async def test_every_request_gives_its_connection_back_whatever_its_answer(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    """Closed by the route class as the endpoint returns (and for a streamed export, once it is
    sent): none is left for the garbage collector, whose clean-up cannot roll back."""
    database: Database = app.state.database
    org = f"/orgs/{world.org_id}"
    body = {"amount": "1.00", "type": "expense", "category": "Food", "date": "2025-01-01"}
    gc.disable()
    try:
        answers = [
            await client.post(f"{org}/records", json=body, headers=world.analyst.headers),
            await client.get(f"{org}/records", headers=world.viewer.headers),
            await client.get(f"{org}/records/export", headers=world.analyst.headers),
            await client.post(f"{org}/records", json=body, headers=world.viewer.headers),
            await client.get(f"{org}/records", params={"limit": 0}, headers=world.viewer.headers),
            await client.get(f"{org}/records", headers=world.outsider.headers),
            await client.get(f"{org}/records"),
        ]
        assert [answer.status_code for answer in answers] == [201, 200, 200, 403, 422, 404, 401]
        kept = int(database.readers is not None and database.readers.keeps_one)
        assert database.read_engine.sync_engine.pool.checkedout() == kept, (
            "SQLite's kept reader connection alone stays out (core/readers.py)"
        )
        if database.engine is not database.read_engine:
            assert database.engine.sync_engine.pool.checkedout() == 0
    finally:
        gc.enable()
