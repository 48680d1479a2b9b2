"""The command line's top-level group: commands imported when run, mistakes told in one line.

``ledgerline --help`` must start fast, so each domain's commands are named here with their
one-line help and imported only when invoked (their modules pull in SQLAlchemy and the
services). Typer vendors Click; its exception classes live in ``typer._click``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click import Command, Context, HelpFormatter
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperCommand, TyperGroup

from ledgerline.core.console import fail


@dataclass(frozen=True)
class LazyCommand:
    """``target`` is ``module:attribute``, a ``typer.Typer`` app or a command function."""

    target: str
    help: str


def plain_help(command: Command) -> Command:
    """No rich boxes in any help or error: the output is read by people and by scripts."""
    if isinstance(command, TyperGroup | TyperCommand):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


def _load(name: str, lazy: LazyCommand) -> Command:
    module_name, _, attribute = lazy.target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command: Command = typer.main.get_group(target)
    else:
        single = typer.Typer()
        single.command(name, help=target.__doc__)(target)
        command = typer.main.get_command(single)
    command.name = name
    return plain_help(command)


class LazyGroup(TyperGroup):
    """Subclasses list their ``lazy_commands``; every user mistake is one line on stderr."""

    lazy_commands: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.rich_markup_mode = None
        self._loaded: dict[str, Command] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        eager = super().get_command(ctx, cmd_name)
        if eager is not None:
            return plain_help(eager)
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is None:
            return None
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = _load(cmd_name, lazy)
        return self._loaded[cmd_name]

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [
            (name, command.get_short_help_str(formatter.width))
            for name, command in self.commands.items()
            if not command.hidden
        ]
        rows += [(name, lazy.help) for name, lazy in self.lazy_commands.items()]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def run() -> Any:
            return super(LazyGroup, self).main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )

        if not standalone_mode:
            return run()
        sys.exit(_exit_code(run))


def _exit_code(run: Any) -> int:
    try:
        result = run()
    except NoArgsIsHelpError as exc:
        exc.show()
        return exc.exit_code
    except UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        fail(f"{exc.format_message()}{hint}")
        return exc.exit_code
    except ClickException as exc:
        fail(exc.format_message())
        return exc.exit_code
    except typer.Abort:
        fail("aborted")
        return 1
    return result if isinstance(result, int) else 0
