"""``ledgerline aggregates``: recount the dashboard and account balance aggregates from the
records.

The database machinery is imported inside the functions that use it, so that
``ledgerline aggregates --help`` starts fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from ledgerline.core.console import cli_settings, console, run_async

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ledgerline.core.db import Database
    from ledgerline.dashboard.aggregates import Drift

app = typer.Typer(help="Dashboard aggregates: check them against the records, or rebuild them.")

OrgOption = Annotated[uuid.UUID, typer.Option("--org", help="Organization id.")]
T = TypeVar("T")


async def _org_exists(session: AsyncSession, org_id: uuid.UUID) -> None:
    from ledgerline.orgs.models import Org

    if await session.get(Org, org_id) is None:
        raise typer.BadParameter(f"no organization {org_id}", param_hint="--org")


async def check_org(database: Database, org_id: uuid.UUID) -> list[Drift]:
    """Every bucket whose stored totals differ from a recount of the org's live records.

    The recount and the stored totals are read in one snapshot (REPEATABLE READ on PostgreSQL,
    a read transaction on SQLite), so writers committing meanwhile cause no false report.
    """
    from ledgerline.core.db import read_in_snapshot
    from ledgerline.dashboard import aggregates

    async with database.read_sessions() as session:
        await read_in_snapshot(session)
        await _org_exists(session, org_id)
        return await aggregates.find_drift(session, org_id)


async def rebuild_org(database: Database, org_id: uuid.UUID) -> int:
    """Recompute the org's aggregates from its records, in one transaction during which its
    writers wait; the number of aggregate rows that differed."""
    from ledgerline.dashboard import aggregates

    async with database.sessions() as session:
        await aggregates.lock_out_writers(session, org_id)
        await _org_exists(session, org_id)
        drift = await aggregates.find_drift(session, org_id)
        await aggregates.rebuild(session, org_id)
        await session.commit()
        return len(drift)


async def _with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    from ledgerline.core.db import Database
    from ledgerline.core.migrations import ensure_current

    database = Database(cli_settings().database_url)
    try:
        await ensure_current(database)
        return await work(database)
    finally:
        await database.dispose()


@app.command()
def check(org: OrgOption) -> None:
    """Report every aggregate row whose totals differ from the records (exit 1 if any)."""
    drift = run_async(lambda: _with_database(lambda database: check_org(database, org)))
    for item in drift:
        ids = {"org_id", "category_id", "account_id"}
        key = " ".join(str(value) for name, value in item.key.items() if name not in ids)
        if "category_id" in item.key:
            key += f" category {item.key['category_id']}"
        if "account_id" in item.key:
            key += f" account {item.key['account_id']}"
        console.print(
            f"{item.table}: {key}: "
            f"stored {item.stored[0]} minor units in {item.stored[1]} records, "
            f"records say {item.recounted[0]} in {item.recounted[1]}",
            soft_wrap=True,
        )
    if drift:
        console.print(f"[red]{len(drift)} row(s) differ[/]; run `ledgerline aggregates rebuild`")
        raise typer.Exit(code=1)
    console.print("Aggregates match the records.")


@app.command()
def rebuild(org: OrgOption) -> None:
    """Recompute the org's aggregates from its records, in one transaction."""
    fixed = run_async(lambda: _with_database(lambda database: rebuild_org(database, org)))
    console.print(f"Aggregates rebuilt ({fixed} row(s) had drifted).")
