"""The ``ledgerline`` command line: help everywhere, first admins, one-line errors."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from pwdlib import PasswordHash
from typer.testing import CliRunner, Result

from ledgerline.cli import app
from ledgerline.core.config import get_settings

runner = CliRunner()


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*prefix, name))


COMMANDS = list(command_paths(typer.main.get_command(app)))


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the command line at a fresh SQLite file (cheap password hashing)."""
    path = tmp_path / "cli" / "ledgerline.db"
    monkeypatch.setenv("LEDGERLINE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("LEDGERLINE_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("LEDGERLINE_PASSWORD_HASH_MEMORY_KIB", "1024")
    monkeypatch.delenv("LEDGERLINE_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("LEDGERLINE_ADMIN_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def assert_one_line_error(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert "Traceback" not in result.output


def admins(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT u.email, u.password_hash, m.role FROM users u "
            "JOIN memberships m ON m.user_id = u.id JOIN orgs o ON o.id = m.org_id "
            "WHERE o.is_default"
        ).fetchall()
    return [(str(email), str(hashed), str(role)) for email, hashed, role in rows]


class TestHelp:
    @pytest.mark.parametrize(
        "path", [pytest.param(p, id=" ".join(p) or "ledgerline") for p in COMMANDS]
    )
    def test_every_command_has_help(self, path: tuple[str, ...]) -> None:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output

    def test_the_documented_commands_exist(self) -> None:
        names = {" ".join(path) for path in COMMANDS}
        assert {"serve", "db upgrade", "create-admin", "demo", "import", "export"} <= names


class TestCreateAdmin:
    def test_creates_an_admin_with_a_generated_password(self, sqlite_file: Path) -> None:
        result = runner.invoke(app, ["create-admin", "--email", "Boss@Example.com"])
        assert result.exit_code == 0, result.output
        match = re.search(r"Generated password \(shown once, change it\): (\S+)", result.stdout)
        assert match, result.stdout
        [(email, password_hash, role)] = admins(sqlite_file)
        assert (email, role) == ("Boss@example.com", "admin")  # the domain normalized
        assert PasswordHash.recommended().verify(match.group(1), password_hash)

    def test_given_password_is_used_and_not_printed(self, sqlite_file: Path) -> None:
        password = "a-Chosen-passphrase-31"
        result = runner.invoke(
            app, ["create-admin", "--email", "chief@example.com", "--password", password]
        )
        assert result.exit_code == 0, result.output
        assert password not in result.output
        [(_email, password_hash, _role)] = admins(sqlite_file)
        assert PasswordHash.recommended().verify(password, password_hash)

    def test_same_email_again_is_a_one_line_error(self, sqlite_file: Path) -> None:
        assert runner.invoke(app, ["create-admin", "--email", "boss@example.com"]).exit_code == 0
        again = runner.invoke(app, ["create-admin", "--email", "BOSS@example.com"])
        assert_one_line_error(again, "an account with this email already exists")
        assert len(admins(sqlite_file)) == 1

    def test_weak_password_is_a_one_line_error(self, sqlite_file: Path) -> None:
        result = runner.invoke(
            app, ["create-admin", "--email", "boss@example.com", "--password", "short"]
        )
        assert_one_line_error(result, "password must be at least 10 characters")

    def test_invalid_email_is_a_one_line_error(self, sqlite_file: Path) -> None:
        result = runner.invoke(app, ["create-admin", "--email", "admin"])
        assert_one_line_error(result, "email is not a valid email address")

    def test_unreachable_database_is_a_one_line_error(
        self, sqlite_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGERLINE_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
        get_settings.cache_clear()
        for args in (["create-admin", "--email", "boss@example.com"], ["db", "upgrade"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 1, result.output
            [line] = result.stderr.strip().splitlines()
            assert line.startswith("error: cannot reach the database")
            assert "Traceback" not in result.output


class TestDb:
    def test_upgrade_creates_the_schema(self, sqlite_file: Path) -> None:
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "Database at head." in result.stdout
        with sqlite3.connect(sqlite_file) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        assert {"users", "orgs", "memberships", "alembic_version"} <= tables
