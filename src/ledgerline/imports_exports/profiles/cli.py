"""``ledgerline profiles``: an org's saved CSV mappings, and a mapping suggested for a file.

The database machinery is imported inside the functions that use it, so that
``ledgerline profiles --help`` starts fast.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerline.core.console import cli_settings, console, run_async

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ledgerline.imports_exports.profiles.models import ImportProfile
    from ledgerline.orgs.dependencies import OrgContext

app = typer.Typer(
    help="Import profiles: saved CSV mappings of bank statements.", no_args_is_help=True
)

OrgOption = Annotated[uuid.UUID, typer.Option("--org", help="Organization id.")]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Email of the member acting (default: the org's longest-standing admin)."
    ),
]
ProfileArgument = Annotated[str, typer.Argument(help="Profile id or name.")]


async def _context(session: AsyncSession, org: uuid.UUID, actor: str | None) -> OrgContext:
    from ledgerline.imports_exports.cli_work import acting_member
    from ledgerline.orgs.permissions import Permission

    return await acting_member(session, org, actor, Permission.IMPORT_SETTINGS_MANAGE)


async def _find(session: AsyncSession, org_id: uuid.UUID, which: str) -> ImportProfile:
    """A profile by id, else by name (case-insensitively)."""
    from ledgerline.imports_exports.profiles.models import ImportProfile
    from ledgerline.imports_exports.profiles.service import profile_by_name

    try:
        profile_id = uuid.UUID(which)
    except ValueError:
        return await profile_by_name(session, org_id, which)
    found = await session.get(ImportProfile, profile_id)
    if found is None or found.org_id != org_id:
        return await profile_by_name(session, org_id, which)
    return found


def _print_json(value: object) -> None:
    console.print(json.dumps(value, indent=2, ensure_ascii=False), markup=False, highlight=False)


@app.command("list")
def list_command(org: OrgOption, actor: ActorOption = None) -> None:
    """The org's profiles: id and name."""
    from ledgerline.imports_exports.cli_work import session_for
    from ledgerline.imports_exports.profiles import service

    async def work() -> list[tuple[uuid.UUID, str]]:
        async with session_for(cli_settings()) as session:
            ctx = await _context(session, org, actor)
            return [(p.id, p.name) for p in await service.list_profiles(session, ctx.org_id)]

    for profile_id, name in run_async(work):
        console.print(f"{profile_id}  {name}", markup=False, highlight=False, soft_wrap=True)


@app.command("show")
def show_command(profile: ProfileArgument, org: OrgOption, actor: ActorOption = None) -> None:
    """A profile's mapping, as JSON (what the API's ``mapping`` field takes)."""
    from ledgerline.imports_exports.cli_work import session_for
    from ledgerline.imports_exports.profiles import service

    async def work() -> dict[str, object]:
        async with session_for(cli_settings()) as session:
            ctx = await _context(session, org, actor)
            found = service.to_read(await _find(session, ctx.org_id, profile))
            return found.model_dump(mode="json", include={"id", "name", "mapping"})

    _print_json(run_async(work))


@app.command("delete")
def delete_command(profile: ProfileArgument, org: OrgOption, actor: ActorOption = None) -> None:
    """Delete a profile."""
    from ledgerline.imports_exports.cli_work import session_for
    from ledgerline.imports_exports.profiles import service

    async def work() -> str:
        async with session_for(cli_settings()) as session:
            ctx = await _context(session, org, actor)
            found = await _find(session, ctx.org_id, profile)
            name = found.name
            await service.delete_profile(session, ctx, found.id)
            await session.commit()
            return name

    console.print(f"deleted profile {run_async(work)}", markup=False, highlight=False)


@app.command("suggest")
def suggest_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A bank's CSV.")
    ],
    org: OrgOption,
    save: Annotated[
        str | None, typer.Option("--save", help="Save the mapping as a profile of this name.")
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Propose a mapping for a bank's CSV, show the first rows read with it, and the choices
    left open (an ambiguous date format is one: pass it with the API, or edit and save)."""
    from pydantic import TypeAdapter, ValidationError

    from ledgerline.core.console import fail
    from ledgerline.imports_exports.category_rules.cli import problems
    from ledgerline.imports_exports.cli_work import session_for
    from ledgerline.imports_exports.profiles import service
    from ledgerline.imports_exports.profiles.schemas import (
        ProfileCreate,
        ProfileName,
        SuggestionRead,
    )

    settings = cli_settings()
    if save is not None:
        try:
            TypeAdapter(ProfileName).validate_python(save)
        except ValidationError as exc:
            raise fail(problems(exc)) from exc

    async def work() -> tuple[SuggestionRead, str | None]:
        async with session_for(settings) as session:
            ctx = await _context(session, org, actor)
            with file.open("rb") as stream:
                suggestion = service.suggest_mapping(
                    stream,
                    max_bytes=settings.import_max_bytes,
                    size=file.stat().st_size,
                    default_currency=ctx.org.currency,
                )
            if save is None or not suggestion.complete:
                return suggestion, None
            body = ProfileCreate.model_validate({"name": save, "mapping": suggestion.mapping})
            saved = await service.create_profile(session, ctx, body)
            await session.commit()
            return suggestion, str(saved.id)

    suggestion, saved_id = run_async(work)
    _print_json(suggestion.mapping)
    for choice in suggestion.choices:
        console.print(
            f"choose {choice.field}: {' or '.join(choice.options)} ({choice.reason})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if suggestion.problem:
        console.print(f"problem: {suggestion.problem}", markup=False, highlight=False)
    for row in suggestion.preview:
        console.print(
            f"row {row.line}: {row.date}  {row.type:<7} {row.amount:>12} {row.currency}  "
            f"{row.description}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if save is not None:
        if saved_id is None:
            raise fail("not saved: make the open choices first (see above)")
        console.print(f"saved as profile {save} ({saved_id})", markup=False, highlight=False)
