"""The read sessions, which serve the requests that only read: on PostgreSQL each statement is a
transaction of its own (no ``BEGIN`` and ``COMMIT`` round trips), unless the reader asks for one
snapshot (``read_in_snapshot``)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.db import Database, read_in_snapshot


async def _two_readings_of_now(session: AsyncSession) -> tuple[dt.datetime, dt.datetime]:
    """PostgreSQL's ``now()``: when the statement's transaction began."""
    first = await session.scalar(select(func.now()))
    await asyncio.sleep(0.002)
    second = await session.scalar(select(func.now()))
    assert first is not None
    assert second is not None
    return first, second


async def test_on_postgresql_reads_are_each_their_own_transaction_unless_asked(
    database: Database, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's readers hold a transaction, whose BEGIN and COMMIT cost no trip")
    async with database.read_sessions() as session:
        first, second = await _two_readings_of_now(session)
        assert second > first, "each statement in a transaction of its own"
        await read_in_snapshot(session)
        third, fourth = await _two_readings_of_now(session)
        assert third == fourth, "one transaction for the reads after read_in_snapshot"
        assert third > second
    async with database.read_sessions() as session:
        first, second = await _two_readings_of_now(session)
        assert second > first, "the pooled connection came back reading statement by statement"
    async with database.sessions() as session:
        first, second = await _two_readings_of_now(session)
        assert second == first, "the writers' sessions are transactions"
