"""The statements endpoint: a bank's file, in any format it reads, into an account."""

from __future__ import annotations

import httpx

from tests.factories import World
from tests.imports_exports.statement_helpers import (
    account,
    account_records,
    statement_imported,
)
from tests.imports_exports.statements.helpers import example


async def test_ofx_sgml_rows_become_records_of_the_account(
    client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    report = await statement_imported(client, world, account_id, example("ofx-1.02-sgml.ofx"))
    assert report["format"] == "ofx"
    records = await account_records(client, world, account_id)
    assert report["created"] == len(records) > 0
    again = await statement_imported(client, world, account_id, example("ofx-1.02-sgml.ofx"))
    assert (again["created"], again["duplicates"]) == (0, report["created"])
