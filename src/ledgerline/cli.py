"""The ``ledgerline`` command line: serve, migrate, create admins (and more per domain)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import uvicorn

from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core import migrations
from ledgerline.core.config import Settings, get_settings
from ledgerline.core.console import console, one_line_errors, run_async
from ledgerline.core.db import Database
from ledgerline.users import service as users_service

app = typer.Typer(
    name="ledgerline",
    help="Ledgerline: finance records with exact money, roles and fast dashboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )


def migrate_if_configured(settings: Settings) -> None:
    if settings.should_auto_migrate:
        with one_line_errors():
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
    demo: Annotated[bool, typer.Option(help="Also load the demo org (see `demo`).")] = False,
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
    if demo:
        from ledgerline.imports_exports.cli import demo_command

        demo_command(reset_passwords=False)
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
    with one_line_errors():
        migrations.upgrade(settings.database_url, revision)
    console.print(f"Database at {revision}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision.")]) -> None:
    """Revert migrations down to REVISION (``base`` empties the schema)."""
    with one_line_errors():
        migrations.downgrade(get_settings().database_url, revision)
    console.print(f"Database at {revision}.")


def _register_domain_commands() -> None:
    from ledgerline.accounts.cli import app as accounts_app
    from ledgerline.dashboard.cli import app as aggregates_app
    from ledgerline.imports_exports.cli import demo_command, export_command, import_command

    app.add_typer(aggregates_app, name="aggregates")
    app.add_typer(accounts_app, name="accounts")
    app.command("import")(import_command)
    app.command("export")(export_command)
    app.command("demo")(demo_command)


_register_domain_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
