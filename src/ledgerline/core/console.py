"""Command-line plumbing shared by every domain's commands: one-line errors, async entry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from ledgerline.core.errors import AppError, ValidationFailed
from ledgerline.core.migrations import DatabaseNotMigrated

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A user mistake or an unreachable database is one line, not a traceback."""
    try:
        yield
    except ValidationFailed as exc:
        raise fail("; ".join(f"{e.field} {e.message}" for e in exc.errors)) from exc
    except AppError as exc:
        raise fail(exc.detail) from exc
    except DatabaseNotMigrated as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from exc
    except DBAPIError as exc:
        raise fail(f"database error: {exc.orig}") from exc


def run_async(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` with ``one_line_errors``."""
    with one_line_errors():
        return asyncio.run(work())
