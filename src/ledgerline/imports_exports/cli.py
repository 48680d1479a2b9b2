"""``ledgerline import``, ``export`` and ``demo``: the same services the API uses.

Only the options are declared here; their work (``cli_work``, SQLAlchemy, the services) is
imported when a command runs, so each command's ``--help`` starts fast.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Annotated

import typer

from ledgerline.records.types import RecordType

OrgOption = Annotated[uuid.UUID, typer.Option("--org", help="Organization id.")]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Email of the member acting (default: the org's longest-standing admin)."
    ),
]


def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Our own CSV layout; with --account, any bank statement (OFX/QFX, QIF, CAMT, "
            "MT940, or CSV with --profile or --mapping).",
        ),
    ],
    org: OrgOption,
    account: Annotated[
        uuid.UUID | None,
        typer.Option(
            "--account",
            help="Account id: read FILE as a bank statement of this account (any format).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Saved import profile (by name) to read a bank's CSV."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            exists=True,
            dir_okay=False,
            readable=True,
            help="JSON file holding a CSV mapping (see docs/statements.md).",
        ),
    ] = None,
    source_account: Annotated[
        str | None,
        typer.Option(help="IBAN or number of the bank account to take from a file of several."),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(help="QIF dates, e.g. DD/MM/YYYY (default: month first, as Quicken)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and count without writing.")] = False,
    actor: ActorOption = None,
) -> None:
    """Import records from a CSV file, or (with --account) a bank statement in any format:
    every row or none, duplicates skipped."""
    from ledgerline.imports_exports import cli_work

    choices = cli_work.StatementChoices(
        profile=profile, mapping=mapping, source_account=source_account, date_format=date_format
    )
    if account is None:
        cli_work.refuse_statement_choices(choices)
        cli_work.run_import(file, org, actor, dry_run=dry_run)
        return
    cli_work.run_statement_import(
        file,
        org,
        account,
        actor,
        choices,
        dry_run=dry_run,
    )


def export_command(
    org: OrgOption,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    record_type: Annotated[
        RecordType | None, typer.Option("--type", help="income or expense.")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Category (repeat for several).")
    ] = None,
    date_from: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First day included (YYYY-MM-DD)."),
    ] = None,
    date_to: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last day included (YYYY-MM-DD)."),
    ] = None,
    amount_min: Annotated[
        str | None, typer.Option(help="Smallest amount included, e.g. 10.00.")
    ] = None,
    amount_max: Annotated[str | None, typer.Option(help="Largest amount included.")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Text in the notes or category, any case.")
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Export records as CSV, with the same filters as the API's list."""
    from ledgerline.imports_exports import cli_work

    filters = cli_work.export_filters(
        record_type=record_type,
        categories=category or [],
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        amount_min=amount_min,
        amount_max=amount_max,
        currency=currency,
        search=search,
    )
    cli_work.run_export(org, actor, filters, output)


def demo_command(
    reset_passwords: Annotated[
        bool, typer.Option(help="Give the demo users new passwords and print them.")
    ] = False,
) -> None:
    """Load the "Demo Company" org: three users (admin, analyst, viewer), two years of records."""
    from ledgerline.imports_exports import cli_work

    cli_work.run_demo(reset_passwords=reset_passwords)
