"""Statements built once, at import, bind UUIDs as UUIDs whatever module is imported first.

A foreign key column takes its type from the column it refers to once that table is defined:
a parameter compared with it before then stays untyped, and its UUID reaches the driver
unconverted (SQLite refuses it: a record's get answered 500 once an import moved). Each case
imports one module first, in a fresh interpreter, then the app, and lists every module-level
statement comparing a UUID column with an untyped parameter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

FIND_UNTYPED = """
import importlib, sys
importlib.import_module(sys.argv[1])
import ledgerline.app
from sqlalchemy import Uuid
from sqlalchemy.sql import visitors
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ColumnClause
from sqlalchemy.types import NullType

def statements(value, depth=0):
    if isinstance(value, Executable):
        yield value
    elif isinstance(value, dict) and depth < 2:
        for item in value.values():
            yield from statements(item, depth + 1)

for name, module in sorted(sys.modules.items()):
    if not name.startswith("ledgerline"):
        continue
    for attribute, value in vars(module).items():
        for statement in statements(value):
            for element in visitors.iterate(statement):
                if (
                    isinstance(element, BinaryExpression)
                    and isinstance(element.left, ColumnClause)
                    and isinstance(element.left.type, Uuid)
                    and isinstance(element.right, BindParameter)
                    and isinstance(element.right.type, NullType)
                ):
                    print(f"{name}.{attribute}: {element.left} = :{element.right.key}")
"""

FIRST_IMPORTED = [
    "ledgerline.app",
    "ledgerline.records.queries",
    "ledgerline.records.service",
    "ledgerline.dashboard.queries",
    "ledgerline.accounts.balances",
    "ledgerline.accounts.service",
    "ledgerline.auth.service",
    "ledgerline.orgs.dependencies",
    "ledgerline.orgs.service",
]


@pytest.mark.parametrize("first", FIRST_IMPORTED)
def test_no_prebuilt_statement_binds_a_uuid_untyped(first: str) -> None:
    found = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", FIND_UNTYPED, first],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert found.stdout == "", found.stdout
