"""The work behind ``ledgerline import``, ``export`` and ``demo``: sessions, the acting member
and the same services the API uses.

Kept apart from ``cli.py``, which imports this module only when a command runs, so that the
commands' ``--help`` loads neither SQLAlchemy nor the services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import typer
from pydantic import TypeAdapter, ValidationError
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.config import Settings
from ledgerline.core.console import cli_settings, console, fail, one_line_errors, run_async
from ledgerline.core.db import Database
from ledgerline.core.migrations import ensure_current
from ledgerline.core.text import fold_key
from ledgerline.imports_exports import demo, statement_import
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports.profiles.service import profile_by_name
from ledgerline.imports_exports.service import ImportRejected
from ledgerline.imports_exports.statements import CsvMapping, DateFormat
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Membership, Org
from ledgerline.orgs.permissions import Permission, Role, role_allows
from ledgerline.orgs.schemas import OrgRead
from ledgerline.records.schemas import RecordFilters, RecordType
from ledgerline.users.models import User


@asynccontextmanager
async def session_for(settings: Settings) -> AsyncIterator[AsyncSession]:
    database = Database(settings.database_url)
    try:
        await ensure_current(database)
        async with database.sessions() as session:
            yield session
    finally:
        await database.dispose()


async def acting_member(
    session: AsyncSession, org_id: uuid.UUID, email: str | None, permission: Permission
) -> OrgContext:
    """The org context the command acts in, checked against the same permission table."""
    org = await session.get(Org, org_id)
    if org is None:
        raise fail(f"no organization {org_id}")
    who = email if email is not None else "no active admin"
    statement = (
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, Membership.is_active.is_(True))
    )
    if email is not None:
        statement = statement.where(User.email_key == fold_key(email))
    else:
        statement = statement.where(Membership.role == Role.ADMIN.value).order_by(
            Membership.joined_at
        )
    row = (await session.execute(statement.limit(1))).first()
    if row is None:
        raise fail(f"{who} is not an active member of {org.name}")
    user, role_value = row
    role = Role(role_value)
    if not role_allows(role, permission):
        raise fail(f"{user.email} is a {role}, which does not allow {permission}")
    return OrgContext(org=OrgRead.model_validate(org), user_id=user.id, role=role)


async def _import(
    settings: Settings, path: Path, org_id: uuid.UUID, actor: str | None, dry_run: bool
) -> None:
    size = path.stat().st_size  # noqa: ASYNC240 - one stat before a long import
    async with session_for(settings) as session:
        ctx = await acting_member(session, org_id, actor, Permission.RECORDS_IMPORT)
        with path.open("rb") as stream, _progress() as progress:
            task = progress.add_task(escape(path.name), total=size)
            try:
                report = await imports_exports_service.import_csv(
                    session,
                    ctx,
                    stream,
                    dry_run=dry_run,
                    max_rows=settings.import_max_rows,
                    max_bytes=settings.import_max_bytes,
                    size=size,
                    file_name=path.name,
                    progress=lambda _rows: progress.update(task, completed=stream.tell()),
                )
            except ImportRejected as exc:
                progress.stop()
                _print_errors(exc)
                raise
            progress.update(task, completed=size)
        await session.commit()
    verb = "would create" if dry_run else "created"
    console.print(
        f"{verb} {report.created} record(s); {report.duplicates} duplicate(s) skipped",
        soft_wrap=True,
    )


def _print_errors(exc: ImportRejected) -> None:
    for error in exc.report.errors:
        console.print(
            f"row {error.row}, {error.field}: {error.message}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class StatementChoices:
    """How ``ledgerline import --account`` reads a bank's file."""

    profile: str | None = None
    mapping: Path | None = None
    source_account: str | None = None
    date_format: str | None = None


def refuse_statement_choices(choices: StatementChoices) -> None:
    """Without ``--account`` the file is our own CSV layout: the statement options are errors."""
    given = [
        option
        for option, value in (
            ("--profile", choices.profile),
            ("--mapping", choices.mapping),
            ("--source-account", choices.source_account),
            ("--date-format", choices.date_format),
        )
        if value is not None
    ]
    if given:
        raise fail(f"{', '.join(given)}: only with --account (a bank statement into that account)")


def _statement_options(
    choices: StatementChoices, file_name: str
) -> statement_import.StatementOptions:
    """The options, without the profile (read from the database): one line per bad option."""
    if choices.profile is not None and choices.mapping is not None:
        raise fail("give either --profile or --mapping, not both")
    mapping: CsvMapping | None = None
    if choices.mapping is not None:
        try:
            text = choices.mapping.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {choices.mapping}: {exc}") from exc
        mapping = statement_import.parse_mapping(text)
    date_format: DateFormat | None = None
    if choices.date_format is not None:
        try:
            date_format = TypeAdapter(DateFormat).validate_python(choices.date_format)
        except ValidationError as exc:
            raise fail(f"--date-format: {exc.errors()[0]['msg']}") from exc
    return statement_import.StatementOptions(
        mapping=mapping,
        source_account=choices.source_account,
        date_format=date_format,
        file_name=file_name,
    )


async def _import_statement(
    settings: Settings,
    path: Path,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    actor: str | None,
    options: statement_import.StatementOptions,
    profile: str | None,
    dry_run: bool,
) -> None:
    async with session_for(settings) as session:
        ctx = await acting_member(session, org_id, actor, Permission.STATEMENTS_IMPORT)
        if profile is not None:
            saved = await profile_by_name(session, org_id, profile)
            options = dataclasses.replace(options, mapping=CsvMapping.model_validate(saved.mapping))
        with path.open("rb") as stream, _row_progress() as progress:
            task = progress.add_task(escape(path.name), total=None)
            try:
                report = await statement_import.import_statement(
                    session,
                    ctx,
                    account_id,
                    stream,
                    options=options,
                    dry_run=dry_run,
                    max_rows=settings.import_max_rows,
                    max_bytes=settings.import_max_bytes,
                    progress=lambda rows: progress.update(task, completed=rows),
                    on_total=lambda rows: progress.update(task, total=rows),
                )
            except ImportRejected as exc:
                progress.stop()
                _print_errors(exc)
                raise
        await session.commit()
    verb = "would create" if dry_run else "created"
    console.print(
        f"{report.format}: {verb} {report.created} record(s); {report.duplicates} duplicate(s) "
        f"and {report.skipped} pending or zero row(s) skipped",
        soft_wrap=True,
    )
    if report.closing_balance is not None:
        console.print(
            f"closing balance {report.closing_balance} on {report.closing_balance_date}; "
            f"difference with the account's balance: {report.balance_difference}",
            soft_wrap=True,
        )


def _row_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


async def _export(
    settings: Settings,
    org_id: uuid.UUID,
    actor: str | None,
    filters: RecordFilters,
    output: Path | None,
) -> None:
    async with session_for(settings) as session:
        ctx = await acting_member(session, org_id, actor, Permission.RECORDS_EXPORT)
        try:
            target = output.open("wb") if output else sys.stdout.buffer
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from exc
        try:
            async for chunk in imports_exports_service.export_csv(session, ctx, filters):
                target.write(chunk)
        except BrokenPipeError:
            _quiet_stdout()
            raise typer.Exit(code=1) from None
        finally:
            if output:
                target.close()


def _quiet_stdout() -> None:
    """The reader of our output went away (``ledgerline export | head``): stop without the
    interpreter's complaint about flushing a closed pipe at exit."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _option_errors(exc: ValidationError) -> str:
    """``--date-to: must not be before date_from`` for each invalid option."""
    return "; ".join(
        f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    )


async def _demo(settings: Settings, reset_passwords: bool) -> demo.DemoResult:
    from ledgerline.cli import password_hasher

    async with session_for(settings) as session:
        result = await demo.load_demo(
            session,
            password_hasher(settings),
            today=dt.datetime.now(dt.UTC).date(),
            reset_passwords=reset_passwords,
        )
        await session.commit()
        return result


def run_import(path: Path, org_id: uuid.UUID, actor: str | None, *, dry_run: bool) -> None:
    settings = cli_settings()
    run_async(lambda: _import(settings, path, org_id, actor, dry_run))


def run_statement_import(
    path: Path,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    actor: str | None,
    choices: StatementChoices,
    *,
    dry_run: bool,
) -> None:
    settings = cli_settings()
    with one_line_errors():
        options = _statement_options(choices, path.name)
    run_async(
        lambda: _import_statement(
            settings, path, org_id, account_id, actor, options, choices.profile, dry_run
        )
    )


def export_filters(
    *,
    record_type: RecordType | None,
    categories: list[str],
    date_from: dt.date | None,
    date_to: dt.date | None,
    amount_min: str | None,
    amount_max: str | None,
    currency: str | None,
    search: str | None,
) -> RecordFilters:
    """The API list's filters from the options, or one line naming each invalid option."""
    try:
        return RecordFilters(
            type=record_type,
            category=categories,
            date_from=date_from,
            date_to=date_to,
            amount_min=amount_min,
            amount_max=amount_max,
            currency=currency,
            q=search,
        )
    except ValidationError as exc:
        raise fail(_option_errors(exc)) from exc


def run_export(
    org_id: uuid.UUID, actor: str | None, filters: RecordFilters, output: Path | None
) -> None:
    settings = cli_settings()
    run_async(lambda: _export(settings, org_id, actor, filters, output))
    if output:
        console.print(f"Records written to {escape(str(output))}", soft_wrap=True)


def run_demo(*, reset_passwords: bool) -> None:
    from ledgerline.cli import migrate_if_configured

    settings = cli_settings()
    migrate_if_configured(settings)
    result = run_async(lambda: _demo(settings, reset_passwords))
    console.print(
        f"[bold]{demo.ORG_NAME}[/] ({result.org_id}): {result.created} record(s) added, "
        f"{result.duplicates} already present",
        soft_wrap=True,
    )
    for account in result.accounts:
        secret = account.password or "(unchanged; use --reset-passwords to set a new one)"
        console.print(f"  {account.role:<8} {account.email}  password: {secret}", soft_wrap=True)
