"""Migrations run up and down on every backend, and leave exactly the schema the models describe."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.models import metadata
from tests.conftest import empty_database_url


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    yield from empty_database_url(backend, tmp_path, "migrations")


async def _run(connection_work: Any, url: str) -> Any:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(connection_work)
    finally:
        await database.dispose()


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def tables(url: str) -> set[str]:
    names: set[str] = await _run(_table_names, url)
    return names


async def upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrations.upgrade, url, revision)


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(migrations.downgrade, url, revision)


def revisions(url: str) -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrations.alembic_config(url))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


class TestUpAndDown:
    async def test_upgrade_downgrade_and_upgrade_again(self, fresh_url: str) -> None:
        model_tables = set(metadata.tables)
        await upgrade(fresh_url)
        assert await tables(fresh_url) == model_tables | {"alembic_version"}
        await downgrade(fresh_url, "base")
        assert await tables(fresh_url) == {"alembic_version"}
        await upgrade(fresh_url)
        assert await tables(fresh_url) == model_tables | {"alembic_version"}

    async def test_each_revision_goes_down_and_up_again(self, fresh_url: str) -> None:
        chain = revisions(fresh_url)
        assert chain, "no migrations found"
        for revision in chain:
            await upgrade(fresh_url, revision)
            before = await tables(fresh_url)
            await downgrade(fresh_url, "-1")
            await upgrade(fresh_url, revision)
            assert await tables(fresh_url) == before, f"{revision} does not round-trip"

    async def test_app_refuses_a_database_behind_the_code(self, fresh_url: str) -> None:
        chain = revisions(fresh_url)
        await upgrade(fresh_url, chain[0])
        database = Database(fresh_url)
        try:
            if len(chain) > 1:
                with pytest.raises(migrations.DatabaseNotMigrated):
                    await migrations.ensure_current(database)
            await upgrade(fresh_url)
            await migrations.ensure_current(database)
        finally:
            await database.dispose()


class TestModelsMatchMigrations:
    async def test_autogenerate_finds_no_difference(self, fresh_url: str) -> None:
        await upgrade(fresh_url)
        differences = await _run(_schema_differences, fresh_url)
        assert differences == [], "models and migrations disagree; write a migration"
