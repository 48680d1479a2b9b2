"""The write-ahead log's length as ``core/sqlite_wal.py`` reads it, against SQLite's own count,
and a checkpoint that cannot run."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from ledgerline.core.sqlite_wal import WalCheckpoints, checkpoint


def _in_wal_mode(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (x TEXT)")
    return connection


def test_the_logs_length_is_sqlites_own_count(tmp_path: Path) -> None:
    connection = _in_wal_mode(tmp_path / "wal.db")
    checkpoints = WalCheckpoints.take_over(connection)
    assert checkpoints is not None
    try:
        assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        for i in range(40):
            connection.execute("INSERT INTO t VALUES (?)", ("x" * 3000 + str(i),))
        frames = checkpoints.frames()
        assert frames is not None
        assert frames > 40
        assert checkpoints.due() == (frames >= checkpoints.threshold)
        _busy, log_frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert frames == log_frames
    finally:
        checkpoints.close()
        connection.close()


def test_no_log_no_take_over(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "journal.db")
    try:
        assert WalCheckpoints.take_over(connection) is None
        assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        connection.close()


def test_a_checkpoint_that_cannot_run_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connection = _in_wal_mode(tmp_path / "wal.db")
    connection.close()
    with caplog.at_level(logging.WARNING, logger="ledgerline.core.sqlite_wal"):
        checkpoint(connection)
    assert "checkpoint failed" in caplog.text
