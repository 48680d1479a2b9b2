"""``ledgerline profiles`` and ``ledgerline rules`` against the test database."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.factories import World
from tests.imports_exports.test_cli import assert_one_line_error, cli_env, run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
__all__ = ["cli_env"]


@pytest.mark.usefixtures("cli_env")
class TestProfilesCommand:
    async def test_suggest_save_list_show_delete(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        org = str(world.org_id)
        suggested = await run(
            "profiles", "suggest", str(EXAMPLES / "bank-us.csv"), "--org", org, "--save", "Chase"
        )
        assert suggested.exit_code == 0, suggested.output
        assert '"date_format": "MM/DD/YYYY"' in suggested.stdout
        assert "Blue Bottle Coffee" in suggested.stdout
        assert "saved as profile Chase" in suggested.stdout

        listed = await run("profiles", "list", "--org", org)
        assert listed.exit_code == 0, listed.output
        assert listed.stdout.strip().endswith("Chase")

        shown = await run("profiles", "show", "chase", "--org", org)
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["mapping"]["amount_column"] == "Amount"

        api = await client.get(f"/orgs/{org}/import-profiles", headers=world.analyst.headers)
        assert [p["name"] for p in api.json()] == ["Chase"]

        deleted = await run("profiles", "delete", "Chase", "--org", org)
        assert deleted.exit_code == 0, deleted.output
        missing = await run("profiles", "show", "Chase", "--org", org)
        assert_one_line_error(
            missing, says="profile 'Chase' is not an import profile of this organization"
        )

    async def test_an_ambiguous_file_lists_the_choice_and_is_not_saved(
        self, world: World, tmp_path: Path
    ) -> None:
        path = tmp_path / "ambiguous.csv"
        path.write_bytes(b"Date,Description,Amount\n01/02/2026,Coffee,-3.50\n03/04/2026,Pay,9\n")
        result = await run(
            "profiles", "suggest", str(path), "--org", str(world.org_id), "--save", "X"
        )
        assert "choose date_format: DD/MM/YYYY or MM/DD/YYYY" in result.stdout
        assert_one_line_error(result, says="not saved")

    async def test_a_viewer_may_not(self, world: World) -> None:
        result = await run(
            "profiles", "list", "--org", str(world.org_id), "--as", world.viewer.email
        )
        assert_one_line_error(result, says="does not allow import-settings:manage")


@pytest.mark.usefixtures("cli_env")
class TestRulesCommand:
    async def test_add_list_remove(self, client: httpx.AsyncClient, world: World) -> None:
        org = str(world.org_id)
        first = await run("rules", "add", "--org", org, "--pattern", "coffee", "--category", "Food")
        assert first.exit_code == 0, first.output
        second = await run(
            "rules",
            "add",
            "--org",
            org,
            "--pattern",
            "RENT",
            "--category",
            "Housing",
            "--match",
            "equals",
            "--case-sensitive",
            "--position",
            "1",
        )
        assert second.exit_code == 0, second.output
        listed = await run("rules", "list", "--org", org)
        lines = listed.stdout.strip().splitlines()
        assert lines[0].startswith("1. ")
        assert "equals 'RENT' (case-sensitive) -> Housing" in lines[0]
        assert "'coffee'" in lines[1]
        rules = (
            await client.get(f"/orgs/{org}/category-rules", headers=world.analyst.headers)
        ).json()
        removed = await run("rules", "remove", rules[0]["id"], "--org", org)
        assert removed.exit_code == 0, removed.output
        after = (await run("rules", "list", "--org", org)).stdout.strip().splitlines()
        assert len(after) == 1
        assert after[0].startswith("1. ")
        assert "contains 'coffee' (any case) -> Food" in after[0]

    async def test_a_bad_match_is_one_line(self, world: World) -> None:
        result = await run(
            "rules",
            "add",
            "--org",
            str(world.org_id),
            "--pattern",
            "x",
            "--category",
            "Y",
            "--match",
            "regex",
        )
        assert_one_line_error(result, says="match")
