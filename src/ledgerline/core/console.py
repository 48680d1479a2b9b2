"""Command-line plumbing shared by every domain's commands: one-line errors, settings, async entry.

Imported by ``ledgerline --help``: it must stay light, so SQLAlchemy, Alembic and the app's
errors are imported only when a command runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from ledgerline.core.config import Settings

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def warn(message: str) -> None:
    errors.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A user mistake, a bad setting or an unreachable database is one line, not a traceback."""
    from sqlalchemy.exc import DBAPIError

    from ledgerline.core.config import InvalidSettings
    from ledgerline.core.errors import AppError, ValidationFailed
    from ledgerline.core.migrations import DatabaseNotMigrated, MigrationFailed

    try:
        yield
    except ValidationFailed as exc:
        raise fail("; ".join(f"{e.field} {e.message}" for e in exc.errors)) from exc
    except AppError as exc:
        raise fail(exc.detail) from exc
    except (DatabaseNotMigrated, MigrationFailed, InvalidSettings) as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from exc
    except DBAPIError as exc:
        raise fail(f"database error: {exc.orig}") from exc


def missing_sqlite_file(settings: Settings) -> Path | None:
    """The absolute path of a relative SQLite database that does not exist, else None.

    A relative path is resolved against the current directory: run from elsewhere, it would
    silently name a new, empty database instead of the one the user means.
    """
    path = settings.sqlite_path
    if path is None or path.is_absolute() or path.exists():
        return None
    return path.absolute()


def cli_settings(*, may_create_database: bool = False) -> Settings:
    """The settings, or a one-line error naming the variable to fix.

    Only ``serve`` and ``db upgrade`` may create a SQLite database at a relative path.
    """
    from ledgerline.core.config import get_settings

    with one_line_errors():
        settings = get_settings()
    missing = None if may_create_database else missing_sqlite_file(settings)
    if missing is not None:
        raise fail(
            f"no database at {missing}: set LEDGERLINE_DATABASE_URL to sqlite:////absolute/path.db "
            "(a relative path is read from the current directory), "
            "or create it here with `ledgerline db upgrade`"
        )
    return settings


def run_async(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` with ``one_line_errors``."""
    with one_line_errors():
        return asyncio.run(work())
