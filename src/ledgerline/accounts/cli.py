"""``ledgerline accounts``: an org's accounts and their balances from the command line.

The database machinery is imported inside the functions that use it, so that
``ledgerline accounts --help`` starts fast.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerline.core.console import console, run_async

if TYPE_CHECKING:
    from ledgerline.accounts.models import Account

app = typer.Typer(help="Accounts and their balances.", no_args_is_help=True)


async def _accounts(
    org_id: uuid.UUID, on: dt.date, include_archived: bool
) -> list[tuple[Account, int]]:
    from ledgerline.accounts import balances
    from ledgerline.core.config import get_settings
    from ledgerline.core.db import Database
    from ledgerline.core.migrations import ensure_current
    from ledgerline.orgs.models import Org

    database = Database(get_settings().database_url)
    try:
        await ensure_current(database)
        async with database.read_sessions() as session:
            if await session.get(Org, org_id) is None:
                raise typer.BadParameter(f"no organization {org_id}", param_hint="--org")
            return await balances.accounts_with_balances(
                session, org_id, on, include_archived=include_archived
            )
    finally:
        await database.dispose()


@app.command("list")
def list_command(
    org: Annotated[uuid.UUID, typer.Option("--org", help="Organization id.")],
    on: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Balances at the end of this day (default today)."),
    ] = None,
    include_archived: Annotated[
        bool, typer.Option("--include-archived", help="Archived accounts too.")
    ] = False,
) -> None:
    """The org's accounts with their balances."""
    from rich.markup import escape

    from ledgerline.accounts import balances
    from ledgerline.core.money import format_amount

    day = on.date() if on is not None else balances.today()
    rows = run_async(lambda: _accounts(org, day, include_archived))
    console.print(f"Balances at the end of {day}:")
    for account, balance in rows:
        notes = [account.kind]
        if account.is_default:
            notes.append("default")
        if account.archived:
            notes.append("archived")
        if account.reconciled_through is not None:
            notes.append(f"reconciled through {account.reconciled_through.isoformat()}")
        amount = format_amount(balance, account.currency)
        console.print(
            f"{account.id}  {amount:>18} {account.currency}  {escape(account.name)}"
            f"  ({', '.join(notes)})",
            soft_wrap=True,
            highlight=False,
        )
