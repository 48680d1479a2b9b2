"""Dependencies every domain uses: the request's database session and the app's shared parts.

They are ``async`` although they never wait: FastAPI runs a plain ``def`` dependency in a
worker thread, and that hop costs far more than reading an attribute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.config import Settings
from ledgerline.core.db import Database, read_in_snapshot
from ledgerline.core.ratelimit import RateLimiter
from ledgerline.core.readers import READERS
from ledgerline.core.routing import (
    CLOSED_AFTER_SENDING,
    SESSION_SCOPE_KEY,
    request_session,
    writes_in_one_statement,
)

_READ_METHODS = frozenset({"GET", "HEAD"})


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def get_session(request: Request) -> AsyncSession:
    """The request's one session (``session_of``), as a dependency: a plain one, as FastAPI's
    solving of one that yields costs about 45 us more."""
    return session_of(request)


def session_of(request: Request) -> AsyncSession:
    """The request's one session, opened on first use; ``LedgerlineRoute`` commits it before the
    response is sent and closes it. A function rather than only a dependency: the org guard
    takes the session this way, where FastAPI solving ``SessionDep`` as the guard's own
    dependency again (cached, but solved) cost every request to an org some 50 calls.

    Requests that cannot change anything (GET, HEAD) read through the read sessions. On SQLite
    the others read who is calling through a reader before they take the writers' connection
    (``core/readers.py``); on PostgreSQL a ``one_statement_write`` runs statement by statement
    until it asks for a transaction.
    """
    session = request_session(request)
    if session is not None:
        return session
    database: Database = request.app.state.database
    reads_only = request.method in _READ_METHODS
    if reads_only:
        session = database.read_sessions()
    elif database.one_statement_sessions is not None and writes_in_one_statement(request):
        session = database.one_statement_sessions()
    else:
        session = database.sessions()
    if database.readers is not None and not reads_only:
        session.info[READERS] = database.readers
    request.scope[SESSION_SCOPE_KEY] = session
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_snapshot_session(session: SessionDep) -> AsyncSession:
    """The request's session reading in one snapshot from its first statement on, the guard's
    included, for an answer made of several statements' figures (``read_in_snapshot``).

    Declared before the guard, it costs the transaction's ``BEGIN`` and ``COMMIT``: two round
    trips on PostgreSQL (0.14 ms each here), none on SQLite, where both travel with the reads.
    Asked for after the guard's statement, the snapshot also takes another pooled connection.
    """
    await read_in_snapshot(session)
    return session


SnapshotSessionDep = Annotated[AsyncSession, Depends(get_snapshot_session)]


async def get_streaming_session(session: SessionDep) -> AsyncIterator[AsyncSession]:
    """The request's session for an answer streamed from it (a CSV export): kept open until the
    last byte is sent, where ``LedgerlineRoute`` closes the others as the endpoint returns."""
    session.info[CLOSED_AFTER_SENDING] = True
    try:
        yield session
    finally:
        await session.close()


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


StreamingSessionDep = Annotated[AsyncSession, Depends(get_streaming_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
ClientAddress = Annotated[str, Depends(client_address)]
