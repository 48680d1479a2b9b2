"""A table of a test's own on the suite's database, for tests of the database plumbing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, insert

from ledgerline.core.db import Database


@asynccontextmanager
async def database_with(
    url: str, table: Table, rows: Sequence[Mapping[str, Any]] = ()
) -> AsyncIterator[Database]:
    """A ``Database`` on ``url`` with ``table`` created, holding ``rows``; dropped after."""
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(table.create)
        if rows:
            await connection.execute(insert(table), list(rows))
    try:
        yield database
    finally:
        async with database.engine.begin() as connection:
            await connection.run_sync(table.drop)
        await database.dispose()
