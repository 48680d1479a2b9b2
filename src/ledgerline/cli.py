"""The ``ledgerline`` command line: serve, migrate, create admins (and more per domain).

Nothing heavy is imported at module level (FastAPI, SQLAlchemy, Alembic, the services): each
command imports what it uses, so ``ledgerline --help`` starts in a fraction of a second.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerline.core.cli_group import LazyCommand, LazyGroup
from ledgerline.core.console import cli_settings, console, fail, one_line_errors, run_async

if TYPE_CHECKING:
    from ledgerline.auth.passwords import PasswordHasher
    from ledgerline.core.config import Settings
    from ledgerline.users.service import CreatedAdmin


class LedgerlineCommands(LazyGroup):
    lazy_commands = {
        "orgs": LazyCommand("ledgerline.orgs.cli:app", "Organizations and their ids."),
        "accounts": LazyCommand("ledgerline.accounts.cli:app", "Accounts and their balances."),
        "aggregates": LazyCommand(
            "ledgerline.dashboard.cli:app",
            "Dashboard aggregates: check them against the records, or rebuild them.",
        ),
        "import": LazyCommand(
            "ledgerline.imports_exports.cli:import_command",
            "Import records from a CSV file, or a bank statement into an account.",
        ),
        "export": LazyCommand(
            "ledgerline.imports_exports.cli:export_command", "Export records as CSV."
        ),
        "profiles": LazyCommand(
            "ledgerline.imports_exports.profiles.cli:app",
            "Import profiles: saved CSV mappings of bank statements.",
        ),
        "rules": LazyCommand(
            "ledgerline.imports_exports.category_rules.cli:app",
            "Category rules of statement imports, in order.",
        ),
        "demo": LazyCommand(
            "ledgerline.imports_exports.cli:demo_command",
            'Load the "Demo Company" org: three users, two years of records.',
        ),
    }


app = typer.Typer(
    name="ledgerline",
    cls=LedgerlineCommands,
    help="Ledgerline: finance records with exact money, roles and fast dashboards.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Database schema migrations.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(db_app, name="db")


def password_hasher(settings: Settings) -> PasswordHasher:
    from ledgerline.auth.passwords import PasswordHasher

    return PasswordHasher(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )


def migrate_if_configured(settings: Settings) -> None:
    if settings.should_auto_migrate:
        from ledgerline.core import migrations

        with one_line_errors():
            migrations.upgrade(settings.database_url)


async def _create_admin(
    settings: Settings, email: str, password: str | None, full_name: str, *, only_if_first: bool
) -> CreatedAdmin | None:
    from ledgerline.core import migrations
    from ledgerline.core.db import Database
    from ledgerline.users import service as users_service

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


def report_admin(created: CreatedAdmin) -> None:
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
    """Serve the web app and the HTTP API. Migrates SQLite and creates the first admin when no
    user exists.

    SIGTERM stops taking connections and lets requests in flight finish (up to
    LEDGERLINE_SHUTDOWN_TIMEOUT_SECONDS; what is still running then is cancelled and its
    transaction rolled back).
    """
    import uvicorn

    from ledgerline.core.workers import prepare_worker_processes

    settings = cli_settings(may_create_database=True)
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
    console.print(f"Ledgerline on http://{host}:{port}/ (API docs at /docs)")
    prepare_worker_processes(settings, workers)
    uvicorn.run(
        "ledgerline.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )


def _read_password(from_stdin: bool) -> str | None:
    """The new admin's password: a line of stdin, or typed twice at a hidden prompt when a
    person is there (empty: generate one), or None to generate one."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("--password-stdin: stdin gave no password")
        return password
    if not sys.stdin.isatty():
        return None
    typed: str = typer.prompt(
        "Password (empty: generate one)",
        default="",
        show_default=False,
        hide_input=True,
        confirmation_prompt=True,
    )
    return typed or None


def _refuse_password_option(value: str | None) -> None:
    if value is not None:
        raise typer.BadParameter(
            "no longer accepted: a password on the command line is kept in shell history and "
            "shown to other users by `ps`; use --password-stdin or the prompt"
        )


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Email of the new admin.", prompt=True)],
    full_name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    password: Annotated[
        str | None,
        typer.Option(hidden=True, callback=_refuse_password_option, expose_value=True),
    ] = None,
) -> None:
    """Create an admin of the default organization.

    The password is asked twice at a hidden prompt, or read with --password-stdin; when there
    is neither a terminal nor --password-stdin, one is generated and printed once.
    """
    settings = cli_settings()
    secret = _read_password(password_stdin)
    migrate_if_configured(settings)
    created = run_async(
        lambda: _create_admin(settings, email, secret, full_name, only_if_first=False)
    )
    assert created is not None
    report_admin(created)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from ledgerline.core import migrations

    settings = cli_settings(may_create_database=True)
    with one_line_errors():
        migrations.upgrade(settings.database_url, revision)
    console.print(f"Database at {revision}.")


async def _current(settings: Settings) -> str | None:
    from ledgerline.core import migrations
    from ledgerline.core.db import Database

    database = Database(settings.database_url)
    try:
        return await migrations.current_revision(database)
    finally:
        await database.dispose()


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether the code needs a newer one."""
    from ledgerline.core import migrations

    settings = cli_settings()
    current = run_async(lambda: _current(settings))
    head = migrations.head_revision()
    if current is None:
        console.print(f"Database is empty; the code needs {head}: run `ledgerline db upgrade`.")
    elif current == head:
        console.print(f"Database at {current} (head).")
    else:
        console.print(f"Database at {current}; the code needs {head}: run `ledgerline db upgrade`.")


@db_app.command("history")
def db_history() -> None:
    """List every migration, oldest first."""
    from ledgerline.core import migrations

    for script in migrations.history():
        head = " (head)" if script.is_head else ""
        console.print(f"{script.revision}{head}  {script.doc}", markup=False, soft_wrap=True)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or base for none.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Revert migrations down to REVISION (``base`` empties the schema).

    Reverting a migration drops what it created, data included: asks first, unless --yes.
    """
    from ledgerline.core import migrations

    settings = cli_settings()
    current = run_async(lambda: _current(settings))
    with one_line_errors():
        reverted = migrations.revisions_to_revert(current, revision)
    if not reverted:
        console.print(f"Database already at {current or 'base'}; nothing to revert.")
        return
    if not yes:
        from sqlalchemy.engine import make_url

        names = ", ".join(script.revision for script in reverted)
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        question = (
            f"Revert {len(reverted)} migration(s) ({names}) of {where}, "
            "dropping their tables and columns with the data in them?"
        )
        try:
            confirmed = typer.confirm(question)
        except typer.Abort:
            confirmed = False
        if not confirmed:
            raise fail("downgrade not confirmed; nothing changed (--yes skips the question)")
    with one_line_errors():
        migrations.downgrade(settings.database_url, revision)
    console.print(f"Database at {reverted[-1].down_revision or 'base'}.")


def main() -> None:
    app()
