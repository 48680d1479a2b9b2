"""The statement formats, found as the modules of ``formats/``: adding a format is adding a
file there that defines ``FORMAT``.

A format is recognised from the content, never from a file name: each format's ``sniff``
looks at the start of the decoded text, in ``order`` (CSV, which almost any text resembles,
goes last).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Final

from ledgerline.imports_exports.statements import formats
from ledgerline.imports_exports.statements.dates import DateFormat
from ledgerline.imports_exports.statements.mapping import CsvMapping
from ledgerline.imports_exports.statements.model import (
    Statement,
    StatementFile,
    UnsupportedFormat,
)
from ledgerline.imports_exports.statements.text import refuse_non_text, sniff_text

SNIFF_BYTES: Final = 8_192


@dataclass(frozen=True, slots=True)
class ReadOptions:
    default_currency: str | None = None
    """The currency of rows whose file does not state one (the account's)."""
    date_format: DateFormat | None = None
    """Overrides a format's own date reading (QIF's month-first convention)."""
    mapping: CsvMapping | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    statements: list[Statement]
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class StatementFormat:
    name: str
    title: str
    order: int
    sniff: Callable[[str], bool]
    """True when the start of the text (decoded loosely) is of this format."""
    parse: Callable[[bytes, ReadOptions], Parsed]


@cache
def all_formats() -> tuple[StatementFormat, ...]:
    found: list[StatementFormat] = []
    for module_info in pkgutil.iter_modules(formats.__path__):
        module = importlib.import_module(f"{formats.__name__}.{module_info.name}")
        candidate = getattr(module, "FORMAT", None)
        if isinstance(candidate, StatementFormat):
            found.append(candidate)
    return tuple(sorted(found, key=lambda f: f.order))


def supported() -> str:
    return ", ".join(f.title for f in all_formats())


def detect(data: bytes) -> StatementFormat:
    """The format of ``data``, or UnsupportedFormat naming those this package reads."""
    refuse_non_text(data)
    text = sniff_text(data[:SNIFF_BYTES])
    for statement_format in all_formats():
        if statement_format.sniff(text):
            return statement_format
    raise UnsupportedFormat(f"the file is in no format this server reads; it reads {supported()}")


def read_statements(data: bytes, options: ReadOptions | None = None) -> StatementFile:
    """Every statement in the file, in the format its content shows."""
    statement_format = detect(data)
    parsed = statement_format.parse(data, options or ReadOptions())
    return StatementFile(statement_format.name, parsed.statements, parsed.skipped)
