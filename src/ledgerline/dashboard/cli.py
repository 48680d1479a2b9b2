"""``ledgerline aggregates``: recount the dashboard aggregates from the records."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from ledgerline.core.config import get_settings
from ledgerline.core.console import console, run_async
from ledgerline.core.db import Database
from ledgerline.core.migrations import ensure_current
from ledgerline.dashboard import aggregates
from ledgerline.orgs.models import Org

app = typer.Typer(help="Dashboard aggregates: check them against the records, or rebuild them.")

OrgOption = Annotated[uuid.UUID, typer.Option("--org", help="Organization id.")]


async def _check(org_id: uuid.UUID) -> list[aggregates.Drift]:
    database = Database(get_settings().database_url)
    try:
        await ensure_current(database)
        async with database.sessions() as session:
            if await session.get(Org, org_id) is None:
                raise typer.BadParameter(f"no organization {org_id}", param_hint="--org")
            return await aggregates.find_drift(session, org_id)
    finally:
        await database.dispose()


async def _rebuild(org_id: uuid.UUID) -> int:
    database = Database(get_settings().database_url)
    try:
        await ensure_current(database)
        async with database.sessions() as session:
            if await session.get(Org, org_id) is None:
                raise typer.BadParameter(f"no organization {org_id}", param_hint="--org")
            drift = await aggregates.find_drift(session, org_id)
            await aggregates.rebuild(session, org_id)
            await session.commit()
            return len(drift)
    finally:
        await database.dispose()


@app.command()
def check(org: OrgOption) -> None:
    """Report every day/category bucket whose totals differ from the records (exit 1 if any)."""
    drift = run_async(lambda: _check(org))
    for item in drift:
        b = item.bucket
        console.print(
            f"{b.day} {b.type} {b.currency} category {b.category_id}: "
            f"stored {item.stored[0]} minor units in {item.stored[1]} records, "
            f"records say {item.recounted[0]} in {item.recounted[1]}"
        )
    if drift:
        console.print(f"[red]{len(drift)} bucket(s) differ[/]; run `ledgerline aggregates rebuild`")
        raise typer.Exit(code=1)
    console.print("Aggregates match the records.")


@app.command()
def rebuild(org: OrgOption) -> None:
    """Recompute the org's aggregates from its records, in one transaction."""
    fixed = run_async(lambda: _rebuild(org))
    console.print(f"Aggregates rebuilt ({fixed} bucket(s) had drifted).")
