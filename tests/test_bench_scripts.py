"""Every benchmark under bench/ still runs, at a size that takes seconds: they import the
services they measure, which move on while a benchmark is run only now and then (mypy checks
src/, not bench/). What they print is not checked; only that they finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, POSTGRES_ANSWERS

ROOT = Path(__file__).resolve().parent.parent
SQLITE = "sqlite:///{tmp}/bench.db"
POSTGRES = "postgres"

SCRIPTS: list[tuple[str, list[str], str | None]] = [
    (
        "dashboard",
        ["--database-url", SQLITE, "--sizes", "300", "--requests", "2", "--warmup", "1"],
        None,
    ),
    ("web", ["--database-url", SQLITE, "--sizes", "300", "--requests", "2"], None),
    ("imports_exports", ["--database-url", SQLITE, "--rows", "300"], None),
    ("statements", ["--rows", "300", "--repeat", "1"], None),
    ("write_python", ["--writes", "50"], None),
    ("profile_requests", ["--records", "200", "--requests", "10", "--top", "0"], None),
    ("in_process", ["--records", "200", "--requests", "2"], None),
    (
        "in_process",
        ["--records", "200", "--requests", "2",
         "--paths", "POST /orgs/{{org}}/records,/orgs/{{org}}/records/{{record}}"],
        None,
    ),
    (
        "in_process",
        ["--records", "200", "--requests", "2", "--asgi",
         "--paths", "POST /orgs/{{org}}/records,/orgs/{{org}}/records?limit=5"],
        None,
    ),
    ("create_database_work", ["--records", "200", "--creates", "5"], None),
    (
        "load",
        ["--backends", "sqlite", "--records", "200", "--rounds", "1", "--seconds", "0.2",
         "--scenarios", "get,create"],
        None,
    ),
    ("driver_path", ["--records", "200", "--rounds", "2", "--requests", "2"], POSTGRES),
    ("categoriser", ["--records", "300", "--distinct", "30", "--rows", "300"], POSTGRES),
    ("copy_ceiling", ["--database-url", "{admin}", "--rows", "300", "--repeat", "1"], POSTGRES),
    ("explain_queries", ["--admin-url", "{admin}"], POSTGRES),
]  # fmt: skip


@pytest.mark.parametrize(("module", "arguments", "needs"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_it_runs(module: str, arguments: list[str], needs: str | None, tmp_path: Path) -> None:
    if needs == POSTGRES and not POSTGRES_ANSWERS:
        pytest.skip("this benchmark runs on PostgreSQL, and no server answers")
    admin = POSTGRES_ADMIN_URL or ""
    command = [sys.executable, "-m", f"bench.{module}"]
    command += [argument.format(tmp=tmp_path, admin=admin) for argument in arguments]
    environment = {**os.environ, "LEDGERLINE_TEST_POSTGRES_URL": admin} if admin else None
    finished = subprocess.run(  # noqa: S603
        command,
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=environment,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
