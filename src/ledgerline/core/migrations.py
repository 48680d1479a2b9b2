"""Alembic, driven from code so ``ledgerline db upgrade`` works from an installed package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from ledgerline.core.db import Database


class DatabaseNotMigrated(RuntimeError):
    """The schema is behind the code: the service refuses to start rather than misbehave."""


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("ledgerline") / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def _ensure_sqlite_directory(database_url: str) -> None:
    _, _, path = database_url.partition(":///")
    if database_url.startswith("sqlite") and path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: run in a thread from async code (Alembic's env runs its own event loop)."""
    _ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def ensure_current(database: Database) -> None:
    """Refuse to serve a database whose schema is behind the code."""
    async with database.engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    head = head_revision(database.url)
    if current != head:
        raise DatabaseNotMigrated(
            f"database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `ledgerline db upgrade`"
        )
