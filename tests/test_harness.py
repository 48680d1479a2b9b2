"""The suite itself: it says what it ran against, and in CI it refuses to skip a service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_suite_subset(**env: str) -> subprocess.CompletedProcess[str]:
    """Collect one quick test in a pytest of its own, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_cli.py", "-k", "history"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_run_names_its_databases_and_services() -> None:
    result = run_suite_subset(CI="false")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    services = [line for line in lines if line.startswith("databases: SQLite yes, PostgreSQL ")]
    assert len(services) == 2, result.stdout  # in the header and in the closing summary
    assert " Redis " in services[0]


def test_in_ci_a_service_that_does_not_answer_fails_the_run() -> None:
    result = run_suite_subset(CI="true", LEDGERLINE_TEST_REDIS_URL="redis://127.0.0.1:9/0")
    assert result.returncode == 4, result.stdout + result.stderr  # a usage error, not a skip
    assert "CI=true but the suite would skip services" in result.stderr
    assert "Redis NO, skipped (redis://127.0.0.1:9/0)" in result.stderr
