"""``ledgerline import``, ``export`` and ``demo`` against the test database.

Each command opens its own engine on ``LEDGERLINE_DATABASE_URL`` and commits, like a user's
shell would; it runs in a worker thread because it starts an event loop of its own. A user's
mistake must end as one ``error:`` line and exit code 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from ledgerline.accounts.models import Transfer
from ledgerline.cli import app as cli_app
from ledgerline.core.config import get_settings
from ledgerline.core.db import Database
from ledgerline.imports_exports import demo
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.orgs.models import Membership, Org
from ledgerline.records.models import Record
from tests.factories import World
from tests.imports_exports.helpers import (
    HEADER,
    csv_bytes,
    read_csv,
    spy_on_writes,
)
from tests.records.helpers import audit_log, record_total, walk_records

STATEMENT = csv_bytes(
    HEADER,
    "2025-03-01,income,Salary,5200.00,March payroll,USD,pay-2025-03",
    "2025-03-02,expense,Rent,1850.00,Office rent,,",
    "2025-03-05,expense,Groceries,84.17,,EUR,",
)


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The commands' environment: the test database, cheap password hashing."""
    monkeypatch.setenv("LEDGERLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGERLINE_AUTO_MIGRATE", "false")
    monkeypatch.setenv("LEDGERLINE_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("LEDGERLINE_PASSWORD_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("LEDGERLINE_LOG_JSON", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))


def assert_one_line_error(result: Result, *, says: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]


def written(tmp_path: Path, content: bytes, name: str = "statement.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.usefixtures("cli_env")
class TestImportCommand:
    async def test_imports_as_the_orgs_admin_by_default(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        result = await run("import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id))

        assert result.exit_code == 0, result.output
        assert "created 3 record(s); 0 duplicate(s) skipped" in result.stdout
        records = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert {r["created_by"] for r in records} == {str(world.admin.user_id)}
        [entry] = [
            e
            for e in await audit_log(client, org_id=world.org_id, admin=world.admin)
            if e["action"] == "records.imported"
        ]
        assert entry["changes"]["file"] == [None, "statement.csv"]

    async def test_imports_as_the_member_named_with_as(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        path = written(tmp_path, STATEMENT)

        result = await run(
            "import", str(path), "--org", str(world.org_id), "--as", world.analyst.email.upper()
        )

        assert result.exit_code == 0, result.output
        records = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert {r["created_by"] for r in records} == {str(world.analyst.user_id)}

    async def test_a_second_run_skips_every_row_as_a_duplicate(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        path = written(tmp_path, STATEMENT)
        await run("import", str(path), "--org", str(world.org_id))

        result = await run("import", str(path), "--org", str(world.org_id))

        assert "created 0 record(s); 3 duplicate(s) skipped" in result.stdout
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 3

    async def test_dry_run_counts_and_writes_nothing(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        path = written(tmp_path, STATEMENT)

        result = await run("import", str(path), "--org", str(world.org_id), "--dry-run")

        assert result.exit_code == 0, result.output
        assert "would create 3 record(s)" in result.stdout
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_a_viewer_may_not_import(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        path = written(tmp_path, STATEMENT)

        result = await run(
            "import", str(path), "--org", str(world.org_id), "--as", world.viewer.email
        )

        assert_one_line_error(result, says="viewer")
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_a_non_member_may_not_import(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        path = written(tmp_path, STATEMENT)

        result = await run(
            "import", str(path), "--org", str(world.org_id), "--as", world.outsider.email
        )

        assert_one_line_error(result, says="not an active member")

    async def test_a_malformed_file_lists_its_row_errors_and_writes_nothing(
        self, client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount",
            "2025-01-02,expense,Food,1",
            "2025-01-02,transfer,Food,abc",
        )

        result = await run("import", str(written(tmp_path, content)), "--org", str(world.org_id))

        assert_one_line_error(result, says="2 problem(s) found; nothing was imported")
        assert "row 3, type: must be income or expense" in result.stdout
        assert "row 3, amount: must be a decimal number" in result.stdout
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_text_that_looks_like_markup_is_printed_as_is(
        self, world: World, tmp_path: Path
    ) -> None:
        content = csv_bytes("date,type,category,amount,[/bold]", "2025-01-02,expense,Food,1,x")

        result = await run("import", str(written(tmp_path, content)), "--org", str(world.org_id))
        as_markup = await run(
            "import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id), "--as", "[/x]"
        )

        assert_one_line_error(result, says="problem(s) found")
        assert "row 1, [/bold]: unknown column" in result.stdout
        assert_one_line_error(as_markup, says="[/x] is not an active member")

    async def test_binary_and_empty_files_are_one_line_errors(
        self, world: World, tmp_path: Path
    ) -> None:
        for name, content in (("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\xff"), ("empty.csv", b"")):
            result = await run(
                "import", str(written(tmp_path, content, name)), "--org", str(world.org_id)
            )

            assert_one_line_error(result, says="problem(s) found")
            assert "row 1, file:" in result.stdout

    async def test_more_rows_than_the_limit_is_a_one_line_error(
        self, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGERLINE_IMPORT_MAX_ROWS", "2")
        get_settings.cache_clear()

        result = await run("import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id))

        assert_one_line_error(result, says="more than 2 rows")

    async def test_more_rows_than_the_limit_are_refused_before_any_is_written(
        self,
        client: httpx.AsyncClient,
        world: World,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("LEDGERLINE_IMPORT_MAX_ROWS", "2")
        get_settings.cache_clear()
        monkeypatch.setattr(imports_exports_service, "BATCH_SIZE", 1)
        writes = spy_on_writes(monkeypatch)

        result = await run("import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id))

        assert_one_line_error(result, says="more than 2 rows")
        assert writes == []
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_an_unknown_org_is_a_one_line_error(self, tmp_path: Path) -> None:
        result = await run("import", str(written(tmp_path, STATEMENT)), "--org", str(uuid.uuid4()))

        assert_one_line_error(result, says="no organization")

    async def test_usage_mistakes_are_reported_without_a_traceback(
        self, world: World, tmp_path: Path
    ) -> None:
        missing = await run("import", str(tmp_path / "nope.csv"), "--org", str(world.org_id))
        not_an_id = await run("import", str(written(tmp_path, STATEMENT)), "--org", "acme")

        for result in (missing, not_an_id):
            assert result.exit_code == 2
            assert "Traceback" not in result.output

    async def test_an_unreachable_database_is_a_one_line_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGERLINE_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
        get_settings.cache_clear()

        result = await run("import", str(written(tmp_path, STATEMENT)), "--org", str(uuid.uuid4()))

        assert_one_line_error(result, says="database")


@pytest.mark.usefixtures("cli_env")
class TestExportCommand:
    async def test_writes_the_orgs_records_to_a_file(self, world: World, tmp_path: Path) -> None:
        await run("import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id))
        target = tmp_path / "out.csv"

        result = await run("export", "--org", str(world.org_id), "-o", str(target))

        assert result.exit_code == 0, result.output
        rows = read_csv(target.read_bytes())
        assert sorted(row["amount"] for row in rows) == ["1850.00", "5200.00", "84.17"]
        assert f"Records written to {target}" in result.stdout.replace("\n", "")

    async def test_filters_narrow_the_export_on_stdout(self, world: World, tmp_path: Path) -> None:
        await run("import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id))

        result = await run(
            "export",
            "--org",
            str(world.org_id),
            "--type",
            "expense",
            "--category",
            "groceries",
            "--date-from",
            "2025-03-01",
            "--currency",
            "eur",
        )

        assert result.exit_code == 0, result.output
        assert [row["amount"] for row in read_csv(result.stdout_bytes)] == ["84.17"]

    async def test_amount_and_text_filters(self, world: World, tmp_path: Path) -> None:
        await run("import", str(written(tmp_path, STATEMENT)), "--org", str(world.org_id))

        result = await run(
            "export",
            "--org",
            str(world.org_id),
            "--amount-min",
            "100",
            "--amount-max",
            "6000",
            "--search",
            "PAYROLL",
        )

        assert result.exit_code == 0, result.output
        assert [row["category"] for row in read_csv(result.stdout_bytes)] == ["Salary"]

    async def test_a_viewer_may_not_export(self, world: World, tmp_path: Path) -> None:
        target = tmp_path / "out.csv"

        result = await run(
            "export", "--org", str(world.org_id), "--as", world.viewer.email, "-o", str(target)
        )

        assert_one_line_error(result, says="viewer")
        assert not target.exists()

    async def test_an_unwritable_output_is_a_one_line_error(
        self, world: World, tmp_path: Path
    ) -> None:
        target = tmp_path / "missing" / "out.csv"

        result = await run("export", "--org", str(world.org_id), "-o", str(target))

        assert_one_line_error(result, says="cannot write")

    async def test_invalid_filters_are_one_line_errors(self, world: World) -> None:
        reversed_dates = await run(
            "export",
            "--org",
            str(world.org_id),
            "--date-from",
            "2025-02-01",
            "--date-to",
            "2025-01-01",
        )
        unknown_currency = await run("export", "--org", str(world.org_id), "--currency", "XYZ")
        bad_amount = await run("export", "--org", str(world.org_id), "--amount-min", "[/x]")

        assert_one_line_error(reversed_dates, says="--date-to: must not be before date_from")
        assert_one_line_error(unknown_currency, says="--currency")
        assert_one_line_error(bad_amount, says="--amount-min")


@pytest.mark.usefixtures("cli_env")
class TestDemoCommand:
    async def test_running_demo_twice_creates_everything_once(self, app: FastAPI) -> None:
        first = await run("demo")
        second = await run("demo")

        assert first.exit_code == 0, first.output
        assert second.exit_code == 0, second.output
        database: Database = app.state.database
        async with database.sessions() as session:
            orgs = list(await session.scalars(select(Org).where(Org.name == demo.ORG_NAME)))
            assert len(orgs) == 1
            org = orgs[0]
            records = await session.scalar(
                select(func.count())
                .select_from(Record)
                .where(Record.org_id == org.id, Record.type != "transfer")
            )
            transfers = await session.scalar(
                select(func.count()).select_from(Transfer).where(Transfer.org_id == org.id)
            )
            roles = set(
                await session.scalars(select(Membership.role).where(Membership.org_id == org.id))
            )
        assert roles == {"admin", "analyst", "viewer"}
        assert records is not None
        assert records > 24 * 4
        assert f"{records} record(s) added, 0 already present" in first.stdout
        assert f"0 record(s) added, {records} already present" in second.stdout
        today = dt.date.today()
        months = [start.replace(day=28) for start in demo._month_starts(today, 24)]
        assert transfers == sum(1 for day in months if day <= today) > 0
        for email, _name in demo.DEMO_USERS.values():
            assert email in first.stdout
            assert email in second.stdout
        assert first.stdout.count("password: ") == 3
        assert "unchanged" not in first.stdout
        assert second.stdout.count("unchanged") == 3

    async def test_demo_users_can_sign_in_with_the_printed_passwords(
        self, client: httpx.AsyncClient
    ) -> None:
        result = await run("demo", "--reset-passwords")

        assert result.exit_code == 0, result.output
        for line in result.stdout.splitlines():
            if "password: " in line:
                email = line.split()[1]
                password = line.rsplit("password: ", 1)[1].strip()
                response = await client.post(
                    "/auth/login", json={"email": email, "password": password}
                )
                assert response.status_code == 200, (email, response.text)


class TestHelp:
    @pytest.mark.parametrize(
        ("command", "says"),
        [
            ([], "import"),
            (["import"], "CSV"),
            (["export"], "CSV"),
            (["demo"], "Demo Company"),
            (["aggregates"], "aggregates"),
        ],
    )
    def test_every_command_explains_itself(self, command: list[str], says: str) -> None:
        result = CliRunner().invoke(cli_app, [*command, "--help"])

        assert result.exit_code == 0, result.output
        assert says in result.stdout
        assert "Usage" in result.stdout
