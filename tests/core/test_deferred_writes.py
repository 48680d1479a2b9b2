"""``core/deferred_writes.py``: rows bound as SQLAlchemy binds them, and on SQLite held back
for the next statement or the commit (the trips themselves: tests/core/test_sqlite_driver.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import JSON, Column, Date, Integer, MetaData, String, Table, Uuid, insert, select

from ledgerline.core.db import Database, UTCDateTime, utcnow
from ledgerline.core.deferred_writes import deferred_writes
from tests.probe_tables import database_with

PROBES = Table(
    "deferred_write_probes",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("day", Date, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("details", JSON, nullable=False),
    Column("note", String(20)),
    Column("count", Integer, nullable=False, default=7),
    Column("made", UTCDateTime(), nullable=False, default=utcnow),
)
ROW = {
    "day": dt.date(2026, 12, 4),
    "at": dt.datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=dt.UTC),
    "details": {"amount": "12.50", "tags": ["a", "b"]},
    "note": None,
    "made": dt.datetime(2026, 12, 4, 9, 31, tzinfo=dt.UTC),
}


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with database_with(database_url, PROBES) as database:
        yield database


async def test_a_deferred_row_is_stored_as_sqlalchemy_stores_it(database: Database) -> None:
    through_sqlalchemy, deferred = uuid.uuid4(), uuid.uuid4()
    async with database.sessions() as session, session.begin():
        await session.execute(insert(PROBES), [{**ROW, "id": through_sqlalchemy}])
        async with deferred_writes(session) as writes:
            await writes.execute(insert(PROBES), [{**ROW, "id": deferred}])
    async with database.engine.connect() as connection:
        raw = {
            row[0]: tuple(row[1:])
            for row in await connection.exec_driver_sql(
                "SELECT id, day, at, details, note, count FROM deferred_write_probes"
            )
        }
        typed = (await connection.execute(select(PROBES).where(PROBES.c.id == deferred))).one()
    assert len(raw) == 2
    first, second = raw.values()
    assert first == second, "the same stored values, column type by column type"
    assert typed.day == ROW["day"]
    assert typed.at == ROW["at"]
    assert typed.details == ROW["details"]
    assert typed.note is None
    assert typed.count == 7, "a column left out takes its default"


async def test_a_column_whose_default_is_computed_must_be_given(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("PostgreSQL runs the statement through SQLAlchemy as it comes")
    row = {key: value for key, value in ROW.items() if key != "made"}
    async with database.sessions() as session, session.begin(), deferred_writes(session) as writes:
        with pytest.raises(ValueError, match="must set made"):
            await writes.execute(insert(PROBES), [{**row, "id": uuid.uuid4()}])
