"""``ledgerline import FILE --org ID --account ID``: a bank statement in any format, through
the same service as the endpoint; without --account the CSV import is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import World
from tests.imports_exports.statement_helpers import (
    GERMAN,
    US,
    account,
    account_records,
    add_profile,
)
from tests.imports_exports.statements.helpers import example
from tests.imports_exports.test_cli import (  # noqa: F401 - cli_env is a fixture
    assert_one_line_error,
    cli_env,
    run,
    written,
)

pytestmark = pytest.mark.usefixtures("cli_env")


async def test_an_ofx_file_into_an_account_then_again_creates_nothing(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    account_id = await account(client, world, "USD")
    path = written(tmp_path, example("ofx-1.02-sgml.ofx"), "dec.ofx")
    args = ("import", str(path), "--org", str(world.org_id), "--account", account_id)

    first = await run(*args)
    second = await run(*args)

    assert first.exit_code == 0, first.output
    assert "ofx: created 4 record(s); 0 duplicate(s)" in first.stdout
    assert "closing balance 4261.44 on 2026-12-03" in first.stdout
    assert "created 0 record(s); 4 duplicate(s)" in second.stdout
    assert len(await account_records(client, world, account_id)) == 4


async def test_a_bank_csv_with_a_saved_profile_or_a_mapping_file(
    app: FastAPI, client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    euros = await account(client, world, "EUR")
    dollars = await account(client, world, "USD")
    await add_profile(client, world.org_id, world.analyst, "Sparkasse", GERMAN)
    german = written(tmp_path, example("bank-de-cp1252.csv"), "umsaetze.csv")
    mapping = tmp_path / "us.json"
    mapping.write_text(json.dumps(US))
    us = written(tmp_path, example("bank-us.csv"), "us.csv")

    by_profile = await run(
        "import",
        str(german),
        "--org",
        str(world.org_id),
        "--account",
        euros,
        "--profile",
        "sparkasse",
    )
    dry = await run(
        "import", str(us), "--org", str(world.org_id), "--account", dollars,
        "--mapping", str(mapping), "--dry-run",
    )  # fmt: skip

    assert by_profile.exit_code == 0, by_profile.output
    assert "csv: created 3 record(s)" in by_profile.stdout
    assert dry.exit_code == 0, dry.output
    assert "would create 3 record(s)" in dry.stdout
    assert "2 pending or zero row(s) skipped" in dry.stdout
    assert len(await account_records(client, world, euros)) == 3
    assert await account_records(client, world, dollars) == []


async def test_mistakes_are_one_line_errors_and_write_nothing(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    account_id = await account(client, world, "USD")
    org = str(world.org_id)
    csv = written(tmp_path, example("bank-us.csv"), "us.csv")
    pdf = written(tmp_path, b"%PDF-1.4\n...", "statement.csv")

    assert_one_line_error(
        await run("import", str(csv), "--org", org, "--profile", "Nope"), says="--account"
    )
    assert_one_line_error(
        await run("import", str(csv), "--org", org, "--account", account_id, "--profile", "Nope"),
        says="profile 'Nope' is not an import profile",
    )
    assert_one_line_error(
        await run("import", str(pdf), "--org", org, "--account", account_id), says="PDF"
    )
    assert_one_line_error(
        await run(
            "import", str(csv), "--org", org, "--account", account_id, "--as", world.viewer.email
        ),
        says="viewer",
    )
    assert await account_records(client, world, account_id) == []


async def test_a_refused_statement_lists_its_errors(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    account_id = await account(client, world, "USD")
    euros = written(tmp_path, example("ofx-2.xml.ofx"), "eur.ofx")
    result = await run("import", str(euros), "--org", str(world.org_id), "--account", account_id)
    assert result.exit_code == 1
    assert "currency: the statement is in EUR" in result.output
    assert await account_records(client, world, account_id) == []
