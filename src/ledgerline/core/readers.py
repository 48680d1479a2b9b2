"""Where a SQLite write request reads before it writes: who is calling, in which role.

SQLite's writers take the process's one writers' connection in turn (``core/db.py``). A write
request reads its caller through a reader instead, and takes the writers' connection only at
its first write: so it holds no other writer back while its credentials are checked, nor while
it does what comes between that and its writing (an import reads its file, the request limit
may ask Redis). The role still comes from the database on every request, as it would under
PostgreSQL's read committed. Elsewhere (PostgreSQL, a session that began already) the request's
session reads for itself.

The reader is a read session of its own (``read_before_writing``), whose loaded objects the
writer ``adopt``\\ s; or, for a plain read (``CompiledSelect``: the guard's caller and role,
which every write to an org makes), a reader connection the process keeps (``plain_reader``):
a session and a pooled connection of their own cost 80 to 95 us of a create's 1 ms. Reads on
it take turns: a request finding it in use reads through a session of its own instead.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

READERS = "ledgerline_readers"
"""``session.info`` key: the ``Readers`` of a SQLite writer's session."""


class Readers:
    """A SQLite database's readers for its writers: read sessions, and the kept connection."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine) -> None:
        self.sessions = sessions
        self._engine = engine
        self._kept: AsyncConnection | None = None
        self._in_use = False

    async def take(self) -> AsyncConnection | None:
        """The kept connection, this caller's until it ``give_back``\\ s it; None while another
        caller has it. Opened on first use, and again should it have been closed."""
        if self._in_use:
            return None
        self._in_use = True
        try:
            if self._kept is None or self._kept.closed:
                self._kept = await self._engine.connect()
        except BaseException:
            self._in_use = False
            raise
        return self._kept

    def give_back(self) -> None:
        self._in_use = False

    @property
    def keeps_one(self) -> bool:
        """Whether the kept connection is open (checked out of the readers' pool for good)."""
        return self._kept is not None and not self._kept.closed

    async def close(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            await kept.close()


class read_before_writing:  # noqa: N801 - used as a function: ``async with read_before_writing(s)``
    """The session to read who is calling with, before ``session`` writes: for a SQLite
    writer that has not begun, a read session of its own, closed at the block's end; elsewhere
    ``session`` itself. What the read loaded is not in ``session``: ``adopt`` it to change it
    there. A class rather than a generator-based context manager: cheaper to enter."""

    __slots__ = ("_reader", "_session")

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._reader: AsyncSession | None = None

    async def __aenter__(self) -> AsyncSession:
        readers: Readers | None = self._session.info.get(READERS)
        if readers is None or self._session.in_transaction():
            return self._session
        self._reader = readers.sessions()
        return self._reader

    async def __aexit__(self, *_: object) -> None:
        if self._reader is not None:
            await self._reader.close()


class plain_reader:  # noqa: N801 - used as a function: ``async with plain_reader(s)``
    """What to run a ``CompiledSelect`` on before ``session`` writes: for a SQLite writer that
    has not begun, the process's kept reader connection, or a read session of its own while
    another request reads on that; elsewhere ``session`` itself."""

    __slots__ = ("_readers", "_session", "_session_reader")

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._readers: Readers | None = None
        self._session_reader = read_before_writing(session)

    async def __aenter__(self) -> AsyncSession | AsyncConnection:
        readers: Readers | None = self._session.info.get(READERS)
        if readers is not None and not self._session.in_transaction():
            kept = await readers.take()
            if kept is not None:
                self._readers = readers
                return kept
        return await self._session_reader.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        if self._readers is not None:
            self._readers.give_back()
            return
        await self._session_reader.__aexit__(*exc)


_Mapped = TypeVar("_Mapped")


async def adopt(session: AsyncSession, instance: _Mapped) -> _Mapped:
    """``instance``, loaded by another session (``read_before_writing``), as ``session``'s own,
    without reading it again."""
    return await session.merge(instance, load=False)
