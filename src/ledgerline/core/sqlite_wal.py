"""The write-ahead log's checkpoints, run by the driver instead of by SQLite's ``COMMIT``, so
that a small commit can run on the event loop's thread without ever running one there.

SQLite checkpoints the log in the connection whose ``COMMIT`` takes it to
``wal_autocheckpoint`` frames (1000 by default): it copies the log's pages into the database
and syncs both files, 4 to 20 ms on the machine of docs/benchmarks.md and more on a slower
disk, once every few dozen creates. A connection that may commit on the event loop's thread
(``OneTripConnection.commit``) turns that off for itself and, after each commit that wrote,
reads the log's length (``mxFrame``, a native-order 32-bit integer at byte 16 of the
wal-index header at the start of the database's ``-shm`` file, as
https://www.sqlite.org/walformat.html lays it out); at the same threshold it runs the same
``PASSIVE`` checkpoint on the driver's thread. Where the log's length cannot be read (not in
WAL mode, an in-memory database, a locking mode without the shared file), SQLite keeps its own
checkpoints and commits that wrote take the trip.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys

_MX_FRAME = slice(16, 20)
"""Where the wal-index header keeps the number of the log's last valid frame."""

log = logging.getLogger(__name__)


class WalCheckpoints:
    """One connection's checkpoints, once it has taken them over from SQLite (``take_over``)."""

    __slots__ = ("_shared_file", "threshold")

    def __init__(self, shared_file: int, threshold: int) -> None:
        self._shared_file = shared_file
        self.threshold = threshold

    @classmethod
    def take_over(cls, connection: sqlite3.Connection) -> WalCheckpoints | None:
        """Turn SQLite's automatic checkpoints off on ``connection`` and return what runs them
        instead; None, leaving them on, where the log's length cannot be read."""
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        threshold = connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        path = next(
            (
                file
                for _, name, file in connection.execute("PRAGMA database_list")
                if name == "main"
            ),
            "",
        )
        if str(mode).lower() != "wal" or threshold <= 0 or not path:
            return None
        try:
            shared_file = os.open(f"{path}-shm", os.O_RDONLY)
        except OSError:
            return None
        checkpoints = cls(shared_file, threshold)
        if checkpoints.frames() is None:
            checkpoints.close()
            return None
        connection.execute("PRAGMA wal_autocheckpoint=0").close()
        return checkpoints

    def frames(self) -> int | None:
        """The number of frames in the log, or None if the header cannot be read."""
        try:
            header = os.pread(self._shared_file, _MX_FRAME.stop, 0)
        except OSError:
            return None
        if len(header) < _MX_FRAME.stop:
            return None
        return int.from_bytes(header[_MX_FRAME], sys.byteorder)

    def due(self) -> bool:
        """Whether the log has reached the threshold (or its length cannot be read any more,
        when checkpointing is the safe side)."""
        frames = self.frames()
        return frames is None or frames >= self.threshold

    def close(self) -> None:
        os.close(self._shared_file)


def checkpoint(connection: sqlite3.Connection) -> None:
    """A ``PASSIVE`` checkpoint, as SQLite's automatic one: it copies what no reader still needs
    and waits for no one. The commit before it stands whatever happens here; a failure is
    logged, and the next commit tries again."""
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    except sqlite3.Error:
        log.warning("a write-ahead log checkpoint failed", exc_info=True)
