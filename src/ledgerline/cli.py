"""The ``ledgerline`` command line: serve, migrate, create admins (and more per domain)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console

from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core import migrations
from ledgerline.core.config import Settings, get_settings
from ledgerline.core.db import Database
from ledgerline.core.errors import AppError, ValidationFailed
from ledgerline.users import service as users_service

app = typer.Typer(
    name="ledgerline",
    help="Ledgerline: finance records with exact money, roles and fast dashboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def run_async(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work``; a user mistake or an unreachable database is one line, not a traceback."""
    try:
        return asyncio.run(work())
    except ValidationFailed as exc:
        raise fail("; ".join(f"{e.field} {e.message}" for e in exc.errors)) from exc
    except AppError as exc:
        raise fail(exc.detail) from exc
    except migrations.DatabaseNotMigrated as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"cannot reach the database: {exc}") from exc


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )


def migrate_if_configured(settings: Settings) -> None:
    if settings.should_auto_migrate:
        migrations.upgrade(settings.database_url)


async def _create_admin(
    settings: Settings, email: str, password: str | None, full_name: str, *, only_if_first: bool
) -> users_service.CreatedAdmin | None:
    database = Database(settings.database_url)
    try:
        await migrations.ensure_current(database)
        async with database.sessions() as session:
            if only_if_first and await users_service.any_user_exists(session):
                return None
            created = await users_service.create_admin(
                session,
                password_hasher(settings),
                settings,
                email=email,
                password=password,
                full_name=full_name,
            )
            await session.commit()
            return created
    finally:
        await database.dispose()


def report_admin(created: users_service.CreatedAdmin) -> None:
    console.print(f"Admin [bold]{created.user.email}[/] of organization {created.org_id}")
    if created.generated_password:
        console.print(
            f"Generated password (shown once, change it): [bold]{created.generated_password}[/]"
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API. Migrates SQLite and creates the first admin when no user exists."""
    settings = get_settings()
    migrate_if_configured(settings)
    created = run_async(
        lambda: _create_admin(
            settings,
            settings.admin_email or "admin@example.com",
            settings.admin_password.get_secret_value() if settings.admin_password else None,
            "Administrator",
            only_if_first=True,
        )
    )
    if created is not None:
        report_admin(created)
    console.print(f"Ledgerline on http://{host}:{port} (API docs at /docs)")
    uvicorn.run(
        "ledgerline.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=True,
    )


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Email of the new admin.", prompt=True)],
    full_name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
    password: Annotated[
        str | None,
        typer.Option(help="Password; generated and printed once when omitted.", envvar=None),
    ] = None,
) -> None:
    """Create an admin of the default organization."""
    settings = get_settings()
    migrate_if_configured(settings)
    created = run_async(
        lambda: _create_admin(settings, email, password, full_name, only_if_first=False)
    )
    assert created is not None
    report_admin(created)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = get_settings()
    migrations.upgrade(settings.database_url, revision)
    console.print(f"Database at {revision}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision.")]) -> None:
    """Revert migrations down to REVISION (``base`` empties the schema)."""
    migrations.downgrade(get_settings().database_url, revision)
    console.print(f"Database at {revision}.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
