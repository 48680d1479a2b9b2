"""``ledgerline rules``: an org's category rules, in order.

The database machinery is imported inside the functions that use it, so that
``ledgerline rules --help`` starts fast.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from ledgerline.core.console import cli_settings, console, run_async

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ledgerline.imports_exports.category_rules.schemas import RuleRead

app = typer.Typer(help="Category rules of statement imports, in order.", no_args_is_help=True)

OrgOption = Annotated[uuid.UUID, typer.Option("--org", help="Organization id.")]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Email of the member acting (default: the org's longest-standing admin)."
    ),
]


def problems(exc: ValidationError) -> str:
    """A pydantic refusal of command-line values as one line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )


def _line(rule: RuleRead) -> str:
    case = "case-sensitive" if rule.case_sensitive else "any case"
    return (
        f"{rule.position:>3}. {rule.id}  {rule.field} {rule.match.value} {rule.pattern!r} "
        f"({case}) -> {rule.category}"
    )


@app.command("list")
def list_command(org: OrgOption, actor: ActorOption = None) -> None:
    """The org's rules in the order they are tried."""
    from ledgerline.imports_exports.category_rules import service
    from ledgerline.imports_exports.cli_work import acting_member, session_for
    from ledgerline.orgs.permissions import Permission

    async def work() -> list[str]:
        async with session_for(cli_settings()) as session:
            ctx = await acting_member(session, org, actor, Permission.IMPORT_SETTINGS_MANAGE)
            return [_line(rule) for rule in await service.list_rules(session, ctx.org_id)]

    for line in run_async(work):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("add")
def add_command(
    org: OrgOption,
    pattern: Annotated[str, typer.Option(help="Text to look for in the description.")],
    category: Annotated[str, typer.Option(help="Category given to matching rows.")],
    match: Annotated[str, typer.Option(help="contains, starts_with or equals.")] = "contains",
    case_sensitive: Annotated[
        bool, typer.Option("--case-sensitive", help="Match the case too.")
    ] = False,
    position: Annotated[
        int | None, typer.Option(help="1 is first (default: last); the others move down.")
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Add a rule."""
    from pydantic import ValidationError

    from ledgerline.core.console import fail
    from ledgerline.imports_exports.category_rules import service
    from ledgerline.imports_exports.category_rules.schemas import RuleCreate
    from ledgerline.imports_exports.cli_work import acting_member, session_for
    from ledgerline.orgs.permissions import Permission

    try:
        body = RuleCreate.model_validate(
            {
                "match": match,
                "pattern": pattern,
                "category": category,
                "case_sensitive": case_sensitive,
                **({"position": position} if position is not None else {}),
            }
        )
    except ValidationError as exc:
        raise fail(problems(exc)) from exc

    async def work() -> str:
        async with session_for(cli_settings()) as session:
            ctx = await acting_member(session, org, actor, Permission.IMPORT_SETTINGS_MANAGE)
            rule = await service.create_rule(session, ctx, body)
            await session.commit()
            return _line(rule)

    console.print(f"added {run_async(work)}", markup=False, highlight=False, soft_wrap=True)


@app.command("remove")
def remove_command(
    rule: Annotated[uuid.UUID, typer.Argument(help="Rule id (see `rules list`).")],
    org: OrgOption,
    actor: ActorOption = None,
) -> None:
    """Remove a rule; the ones after it move up."""
    from ledgerline.imports_exports.category_rules import service
    from ledgerline.imports_exports.cli_work import acting_member, session_for
    from ledgerline.orgs.permissions import Permission

    async def work() -> None:
        async with session_for(cli_settings()) as session:
            ctx = await acting_member(session, org, actor, Permission.IMPORT_SETTINGS_MANAGE)
            await service.delete_rule(session, ctx, rule)
            await session.commit()

    run_async(work)
    console.print(f"removed rule {rule}", markup=False, highlight=False)
