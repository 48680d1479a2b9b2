"""``ledgerline orgs``: the organizations of this instance, with the ids other commands take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledgerline.core.console import cli_settings, console, run_async

if TYPE_CHECKING:
    from ledgerline.core.config import Settings
    from ledgerline.orgs.service import OrgSummary

app = typer.Typer(help="Organizations and their ids.", no_args_is_help=True)


async def _all_orgs(settings: Settings) -> list[OrgSummary]:
    """Imported here: ``ledgerline orgs --help`` needs none of the database machinery."""
    from ledgerline.core.db import Database
    from ledgerline.core.migrations import ensure_current
    from ledgerline.orgs import service as orgs_service

    database = Database(settings.database_url)
    try:
        await ensure_current(database)
        async with database.read_sessions() as session:
            return await orgs_service.list_all_orgs(session)
    finally:
        await database.dispose()


@app.command("list")
def list_orgs(
    ids_only: Annotated[
        bool, typer.Option("--ids", help="Print only the ids, one a line.")
    ] = False,
) -> None:
    """List every organization: id, name, currency and active members (default org marked *)."""
    orgs = run_async(lambda: _all_orgs(cli_settings()))
    if ids_only:
        for org in orgs:
            console.print(str(org.id), highlight=False)
        return
    if not orgs:
        console.print("No organization yet: `ledgerline serve` or `create-admin` makes one.")
        return
    width = max(len(org.name) for org in orgs)
    console.print(f"{'ID':<36}  {'NAME':<{width}}  CUR  MEMBERS", highlight=False)
    for org in orgs:
        members = f"{org.active_members}{' *' if org.is_default else ''}"
        console.print(
            f"{org.id!s:<36}  {org.name:<{width}}  {org.currency:<3}  {members}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
