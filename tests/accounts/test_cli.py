"""``ledgerline accounts list``: the org's accounts and balances from the command line."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from ledgerline.cli import app as cli_app
from ledgerline.core.config import get_settings
from tests.accounts.helpers import create_account
from tests.factories import World
from tests.records.helpers import create_record


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[CliRunner]:
    monkeypatch.setenv("LEDGERLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def test_accounts_list_shows_each_account_with_its_balance(
    cli: CliRunner, client: httpx.AsyncClient, world: World
) -> None:
    card = await create_account(client, world.org_id, world.admin, name="Card", currency="EUR")
    await create_record(
        client, org_id=world.org_id, actor=world.analyst, account_id=card["id"], amount="7.25",
        date="2026-01-10",
    )  # fmt: skip
    result = await asyncio.to_thread(
        cli.invoke,
        cli_app,
        ["accounts", "list", "--org", str(world.org_id), "--on", "2026-01-31"],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [card_line] = [line for line in lines if "Card" in line]
    assert "-7.25 EUR" in card_line
    assert card["id"] in card_line
    [main_line] = [line for line in lines if "Main USD" in line]
    assert "0.00 USD" in main_line
    assert "default" in main_line


async def test_an_unknown_org_is_an_error(cli: CliRunner, world: World) -> None:
    result = await asyncio.to_thread(
        cli.invoke, cli_app, ["accounts", "list", "--org", str(uuid.uuid4())]
    )
    assert result.exit_code != 0
    assert "no organization" in result.output
