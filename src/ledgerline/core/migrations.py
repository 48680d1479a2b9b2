"""Alembic, driven from code so ``ledgerline db upgrade`` works from an installed package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RangeNotAncestorError, RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection

from ledgerline.core.db import Database


class DatabaseNotMigrated(RuntimeError):
    """The schema is behind the code: the service refuses to start rather than misbehave."""


class MigrationFailed(RuntimeError):
    """Alembic refused a command (an unknown revision, a downgrade target above the current
    one): the message says why, in one line."""


@contextmanager
def _alembic_refusals() -> Iterator[None]:
    try:
        yield
    except (CommandError, RevisionError) as exc:
        raise MigrationFailed(str(exc).splitlines()[0]) from exc


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
    with _alembic_refusals():
        if not revision.startswith(("+", "-")):
            scripts().get_revisions(revision)  # an unknown one is refused before connecting
        _ensure_sqlite_directory(database_url)
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    with _alembic_refusals():
        command.downgrade(alembic_config(database_url), revision)


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def head_revision() -> str | None:
    return scripts().get_current_head()


def history() -> list[Script]:
    """Every migration, oldest first."""
    return list(reversed(list(scripts().walk_revisions())))


def revisions_to_revert(current: str | None, target: str) -> list[Script]:
    """The migrations a downgrade from ``current`` to ``target`` would undo, newest first."""
    if current is None:
        return []
    with _alembic_refusals():
        try:
            return list(scripts().iterate_revisions(current, target, select_for_downgrade=True))
        except RangeNotAncestorError:
            raise MigrationFailed(
                f"{target} is not below the database's revision {current}: "
                "use `ledgerline db upgrade` to move forward"
            ) from None


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def ensure_current(database: Database) -> None:
    """Refuse to serve a database whose schema is behind the code."""
    current = await current_revision(database)
    head = head_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"database schema is at {current or 'nothing'}, the code needs {head}: "
            "run `ledgerline db upgrade`"
        )
