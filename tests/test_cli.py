"""The ``ledgerline`` command line: help everywhere and fast, first admins, one-line errors,
settings named by their variable, migrations that ask before dropping data."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from pwdlib import PasswordHash
from typer._click import Context
from typer.testing import CliRunner, Result

from ledgerline.cli import app as cli
from ledgerline.core import migrations
from ledgerline.core.config import get_settings
from tests.conftest import empty_database_url
from tests.factories import World

runner = CliRunner()
ROOT_COMMAND = typer.main.get_command(cli)
HEAD = migrations.head_revision()
BEFORE_HEAD = migrations.history()[-2].revision


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    if not hasattr(command, "list_commands"):
        return
    ctx = Context(command)  # type: ignore[arg-type]
    for name in command.list_commands(ctx):
        yield from command_paths(command.get_command(ctx, name), (*prefix, name))  # type: ignore[attr-defined]


COMMANDS = list(command_paths(ROOT_COMMAND))


def cli_environment(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEDGERLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGERLINE_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("LEDGERLINE_PASSWORD_HASH_MEMORY_KIB", "1024")
    for name in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "SECRET_KEY", "AUTO_MIGRATE"):
        monkeypatch.delenv(f"LEDGERLINE_{name}", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the command line at a fresh SQLite file (cheap password hashing)."""
    path = tmp_path / "cli" / "ledgerline.db"
    cli_environment(monkeypatch, f"sqlite:///{path}")
    yield path
    get_settings.cache_clear()


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database of each backend of its own, that the commands point at."""
    for url in empty_database_url(backend, tmp_path, "cli"):
        cli_environment(monkeypatch, url)
        yield url
    get_settings.cache_clear()


def assert_one_line_error(result: Result, message: str, *, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert "Traceback" not in result.output


def one_line_error(result: Result, *, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: "), line
    return line.removeprefix("error: ")


def admins(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT u.email, u.password_hash, m.role FROM users u "
            "JOIN memberships m ON m.user_id = u.id JOIN orgs o ON o.id = m.org_id "
            "WHERE o.is_default"
        ).fetchall()
    return [(str(email), str(hashed), str(role)) for email, hashed, role in rows]


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}


class TestHelp:
    @pytest.mark.parametrize(
        "path", [pytest.param(p, id=" ".join(p) or "ledgerline") for p in COMMANDS]
    )
    def test_every_command_has_help(self, path: tuple[str, ...]) -> None:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output
        assert "╭" not in result.output  # plain text, no rich boxes

    def test_the_documented_commands_exist(self) -> None:
        names = {" ".join(path) for path in COMMANDS}
        assert {
            "serve",
            "db upgrade",
            "db downgrade",
            "db current",
            "db history",
            "create-admin",
            "orgs list",
            "demo",
            "import",
            "export",
            "aggregates check",
        } <= names

    @pytest.mark.parametrize(
        "args",
        [
            [],
            ["db"],
            ["orgs"],
            ["serve"],
            ["create-admin"],
            ["import"],
            ["export"],
            ["demo"],
            ["aggregates"],
            ["aggregates", "check"],
            ["accounts"],
            ["accounts", "list"],
            ["profiles"],
            ["profiles", "suggest"],
            ["rules"],
            ["rules", "add"],
        ],
        ids=" ".join,
    )
    def test_help_imports_neither_fastapi_nor_sqlalchemy_nor_alembic(self, args: list[str]) -> None:
        probe = (
            "import sys\n"
            "from ledgerline.cli import main\n"
            f"sys.argv = ['ledgerline', *{args!r}, '--help']\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as exit:\n"
            "    assert exit.code == 0, exit.code\n"
            "heavy = ('fastapi', 'sqlalchemy', 'alembic', 'pydantic_settings', 'uvicorn')\n"
            "print(sorted(name for name in heavy if name in sys.modules))\n"
        )
        result = subprocess.run(  # noqa: S603 - the test's own interpreter
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        assert "Usage: ledgerline" in result.stdout
        assert result.stdout.strip().splitlines()[-1] == "[]"


class TestUsageErrors:
    def test_a_bad_option_value_is_one_line_with_exit_code_2(self) -> None:
        result = runner.invoke(cli, ["serve", "--port", "eighty"])
        message = one_line_error(result, exit_code=2)
        assert message.startswith("Invalid value for '--port'")
        assert message.endswith("(see 'ledgerline serve --help')")

    def test_an_unknown_command_is_one_line_with_exit_code_2(self) -> None:
        result = runner.invoke(cli, ["orgs", "lst"])
        assert "No such command 'lst'" in one_line_error(result, exit_code=2)

    def test_a_missing_argument_is_one_line_with_exit_code_2(self) -> None:
        result = runner.invoke(cli, ["db", "downgrade"])
        assert "Missing argument 'revision'" in one_line_error(result, exit_code=2)


class TestSettingsErrors:
    def test_a_short_secret_key_is_named_by_its_variable_and_never_echoed(
        self, sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        secret = "hunter2-but-longer"
        monkeypatch.setenv("LEDGERLINE_SECRET_KEY", secret)
        result = runner.invoke(cli, ["db", "upgrade"])
        assert_one_line_error(result, "LEDGERLINE_SECRET_KEY: must be at least 32 bytes")
        assert secret not in result.output
        assert not sqlite_file.exists()

    def test_a_database_url_of_another_kind_is_named_and_its_password_not_echoed(
        self, sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for url in ("mysql://boss:pa55word-9@db/ledger", "pa55word-9"):
            monkeypatch.setenv("LEDGERLINE_DATABASE_URL", url)
            get_settings.cache_clear()
            result = runner.invoke(cli, ["db", "upgrade"])
            message = one_line_error(result, exit_code=1)
            assert message.startswith("LEDGERLINE_DATABASE_URL: not a database URL")
            assert "pa55word-9" not in result.output

    def test_every_bad_setting_is_named_in_the_one_line(
        self, sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGERLINE_DB_POOL_SIZE", "many")
        monkeypatch.setenv("LEDGERLINE_ADMIN_PASSWORD", "x")
        monkeypatch.setenv("LEDGERLINE_LOGIN_FAILURES_PER_EMAIL", "often")
        result = runner.invoke(cli, ["orgs", "list"])
        message = one_line_error(result, exit_code=1)
        assert "LEDGERLINE_DB_POOL_SIZE: Input should be a valid integer" in message
        assert "LEDGERLINE_LOGIN_FAILURES_PER_EMAIL:" in message
        assert "db_pool_size" not in message


class TestRelativeSqlitePath:
    @pytest.fixture
    def elsewhere(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
        """The default relative path, from a directory that holds no database."""
        monkeypatch.chdir(tmp_path)
        cli_environment(monkeypatch, "sqlite:///ledgerline.db")
        yield tmp_path / "ledgerline.db"
        get_settings.cache_clear()

    @pytest.mark.parametrize(
        "args",
        [
            ["orgs", "list"],
            ["db", "current"],
            ["db", "downgrade", "base", "--yes"],
            ["create-admin", "--email", "boss@example.com"],
            ["demo"],
            ["export", "--org", "01a23f48-095a-75be-b719-f2fab074dd89"],
        ],
        ids=" ".join,
    )
    def test_is_an_error_naming_the_absolute_path_and_the_variable(
        self, elsewhere: Path, args: list[str]
    ) -> None:
        result = runner.invoke(cli, args)
        message = one_line_error(result, exit_code=1)
        assert message.startswith(f"no database at {elsewhere}: set LEDGERLINE_DATABASE_URL")
        assert not elsewhere.exists()

    def test_db_upgrade_creates_it(self, elsewhere: Path) -> None:
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        assert "users" in tables(elsewhere)
        listed = runner.invoke(cli, ["orgs", "list"])
        assert listed.exit_code == 0, listed.output


class TestCreateAdmin:
    def test_creates_an_admin_with_a_generated_password(self, sqlite_file: Path) -> None:
        result = runner.invoke(cli, ["create-admin", "--email", "Boss@Example.com"])
        assert result.exit_code == 0, result.output
        match = re.search(r"Generated password \(shown once, change it\): (\S+)", result.stdout)
        assert match, result.stdout
        [(email, password_hash, role)] = admins(sqlite_file)
        assert (email, role) == ("Boss@example.com", "admin")  # the domain normalized
        assert PasswordHash.recommended().verify(match.group(1), password_hash)

    def test_password_from_stdin_is_used_and_not_printed(self, sqlite_file: Path) -> None:
        password = "a-Chosen-passphrase-31"
        result = runner.invoke(
            cli,
            ["create-admin", "--email", "chief@example.com", "--password-stdin"],
            input=f"{password}\n",
        )
        assert result.exit_code == 0, result.output
        assert password not in result.output
        assert "Generated password" not in result.output
        [(_email, password_hash, _role)] = admins(sqlite_file)
        assert PasswordHash.recommended().verify(password, password_hash)

    def test_empty_stdin_is_a_one_line_error(self, sqlite_file: Path) -> None:
        result = runner.invoke(
            cli, ["create-admin", "--email", "chief@example.com", "--password-stdin"], input=""
        )
        assert_one_line_error(result, "--password-stdin: stdin gave no password")

    def test_password_on_the_command_line_is_refused_without_echoing_it(
        self, sqlite_file: Path
    ) -> None:
        password = "a-Chosen-passphrase-31"
        result = runner.invoke(
            cli, ["create-admin", "--email", "chief@example.com", "--password", password]
        )
        message = one_line_error(result, exit_code=2)
        assert "--password-stdin" in message
        assert password not in result.output
        assert not sqlite_file.exists()

    def test_password_typed_twice_at_a_hidden_prompt(self, sqlite_file: Path) -> None:
        password = "Typed-at-the-prompt-77"
        transcript = run_in_terminal(
            ["create-admin", "--email", "typist@example.com"], [password, password]
        )
        assert "Admin typist@example.com" in transcript, transcript
        assert password not in transcript  # hidden input
        [(_email, password_hash, _role)] = admins(sqlite_file)
        assert PasswordHash.recommended().verify(password, password_hash)

    def test_same_email_again_is_a_one_line_error(self, sqlite_file: Path) -> None:
        assert runner.invoke(cli, ["create-admin", "--email", "boss@example.com"]).exit_code == 0
        again = runner.invoke(cli, ["create-admin", "--email", "BOSS@example.com"])
        assert_one_line_error(again, "an account with this email already exists")
        assert len(admins(sqlite_file)) == 1

    def test_weak_password_is_a_one_line_error(self, sqlite_file: Path) -> None:
        result = runner.invoke(
            cli,
            ["create-admin", "--email", "boss@example.com", "--password-stdin"],
            input="short\n",
        )
        assert_one_line_error(result, "password must be at least 10 characters")

    def test_invalid_email_is_a_one_line_error(self, sqlite_file: Path) -> None:
        result = runner.invoke(cli, ["create-admin", "--email", "admin"])
        assert_one_line_error(result, "email is not a valid email address")

    def test_unreachable_database_is_a_one_line_error(
        self, sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGERLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
        get_settings.cache_clear()
        for args in (["create-admin", "--email", "boss@example.com"], ["db", "upgrade"]):
            result = runner.invoke(cli, args)
            assert one_line_error(result, exit_code=1).startswith("cannot reach the database")


def run_in_terminal(args: list[str], answers: list[str]) -> str:
    """Run ``ledgerline ARGS`` on a pseudo-terminal of its own, typing each answer after a
    prompt; everything the terminal showed."""
    import pty
    import select

    main, child_side = pty.openpty()
    child = subprocess.Popen(  # noqa: S603 - the test's own interpreter
        [
            sys.executable,
            "-c",
            "import fcntl, sys, termios\n"
            "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"  # the pty becomes the controlling terminal
            "from ledgerline.cli import main\n"
            f"sys.argv = ['ledgerline', *{args!r}]\n"
            "main()\n",
        ],
        stdin=child_side,
        stdout=child_side,
        stderr=child_side,
        start_new_session=True,
        env=os.environ.copy(),
    )
    os.close(child_side)
    shown = b""
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 60)
            if not ready:
                raise AssertionError(f"no output within 60 s: {shown!r}")
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            # Click shows "Prompt:", then getpass turns echo off (flushing typed-ahead input)
            # and writes the final space: only then is the answer hidden and kept.
            if pending and shown.endswith(b": "):
                os.write(main, pending.pop(0).encode() + b"\n")
    finally:
        os.close(main)
        child.wait(timeout=60)
    assert child.returncode == 0, shown
    return re.sub(r"\x1b\[[0-9;]*m", "", shown.decode())  # without the terminal's colours


class TestOrgsList:
    async def test_lists_every_org_with_its_id_currency_and_active_members(
        self, app: FastAPI, world: World, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        cli_environment(monkeypatch, database_url)
        result = await asyncio.to_thread(runner.invoke, cli, ["orgs", "list"])
        assert result.exit_code == 0, result.output
        rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
        assert result.stdout.splitlines()[0].split() == ["ID", "NAME", "CUR", "MEMBERS"]
        assert rows[str(world.org_id)][-2:] == ["USD", "3"]  # admin, analyst, viewer
        assert rows[str(world.outsider_org_id)][-1] == "1"
        ids = await asyncio.to_thread(runner.invoke, cli, ["orgs", "list", "--ids"])
        assert set(ids.stdout.split()) == set(rows)


class TestDb:
    def test_upgrade_creates_the_schema(self, sqlite_file: Path) -> None:
        result = runner.invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "Database at head." in result.stdout
        assert {"users", "orgs", "memberships", "alembic_version"} <= tables(sqlite_file)

    def test_upgrade_to_an_unknown_revision_is_one_line_and_creates_nothing(
        self, sqlite_file: Path
    ) -> None:
        result = runner.invoke(cli, ["db", "upgrade", "nonsense"])
        assert_one_line_error(result, "Can't locate revision identified by 'nonsense'")
        assert not sqlite_file.exists()

    def test_history_lists_every_migration_oldest_first(self) -> None:
        result = runner.invoke(cli, ["db", "history"])
        assert result.exit_code == 0, result.output
        revisions = [line.split()[0] for line in result.stdout.splitlines()]
        assert revisions == [script.revision for script in migrations.history()]
        assert result.stdout.splitlines()[-1].startswith(f"{HEAD} (head)")

    def test_current_says_where_the_database_is(self, fresh_database: str) -> None:
        empty = runner.invoke(cli, ["db", "current"])
        assert empty.stdout.startswith(f"Database is empty; the code needs {HEAD}")
        assert runner.invoke(cli, ["db", "upgrade", BEFORE_HEAD]).exit_code == 0
        behind = runner.invoke(cli, ["db", "current"])
        assert "run `ledgerline db upgrade`" in behind.stdout
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        at_head = runner.invoke(cli, ["db", "current"])
        assert at_head.stdout.strip() == f"Database at {HEAD} (head)."

    def test_downgrade_asks_first_and_a_no_changes_nothing(self, fresh_database: str) -> None:
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        for answer in ("n\n", "", "\n"):
            result = runner.invoke(cli, ["db", "downgrade", "base"], input=answer)
            assert "dropping their tables and columns with the data in them? [y/N]" in (
                result.stdout
            )
            assert result.stderr.strip().splitlines() == [
                "error: downgrade not confirmed; nothing changed (--yes skips the question)"
            ]
            assert result.exit_code == 1
        assert runner.invoke(cli, ["db", "current"]).stdout.startswith(f"Database at {HEAD}")

    def test_downgrade_confirmed_or_with_yes_reverts(self, fresh_database: str) -> None:
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        answered = runner.invoke(cli, ["db", "downgrade", BEFORE_HEAD], input="y\n")
        assert answered.exit_code == 0, answered.output
        assert f"Database at {BEFORE_HEAD}." in answered.stdout
        forced = runner.invoke(cli, ["db", "downgrade", "base", "--yes"])
        assert forced.exit_code == 0, forced.output
        assert runner.invoke(cli, ["db", "current"]).stdout.startswith("Database is empty")

    def test_downgrade_above_the_current_revision_is_one_line(self, fresh_database: str) -> None:
        assert runner.invoke(cli, ["db", "upgrade", BEFORE_HEAD]).exit_code == 0
        result = runner.invoke(cli, ["db", "downgrade", HEAD or "head", "--yes"])
        assert "is not below the database's revision" in one_line_error(result, exit_code=1)
