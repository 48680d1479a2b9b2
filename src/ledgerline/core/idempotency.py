"""Idempotency keys: a retried create returns the first answer instead of creating twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import JSON, ForeignKey, Index, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, utcnow
from ledgerline.core.errors import Conflict

KEY_LIFETIME = dt.timedelta(hours=24)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(default=None)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "created_at"),)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def claim(
    session: AsyncSession, *, user_id: uuid.UUID, scope: str, key: str, payload_hash: str
) -> StoredResponse | None:
    """Reserve ``key`` for this request, or return the answer an earlier request stored.

    The reservation is a row insert, so two concurrent requests with one key cannot both
    proceed: the second waits for the first to commit and then replays its answer.
    """
    now = utcnow()
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < now - KEY_LIFETIME,
        )
    )
    if await _reserve(session, user_id=user_id, scope=scope, key=key, payload_hash=payload_hash):
        return None
    existing = await session.scalar(
        select(IdempotencyKey)
        .where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
        .execution_options(populate_existing=True)
    )
    if existing is None or existing.status is None or existing.response is None:
        raise Conflict("a request with this Idempotency-Key is still in progress")
    if existing.request_hash != payload_hash:
        raise Conflict("this Idempotency-Key was used with a different request body")
    return StoredResponse(existing.status, existing.response)


async def _reserve(
    session: AsyncSession, *, user_id: uuid.UUID, scope: str, key: str, payload_hash: str
) -> bool:
    """Insert the key's row; False when another request already holds the key."""
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyKey(user_id=user_id, scope=scope, key=key, request_hash=payload_hash)
            )
    except IntegrityError:
        return False
    return True


async def store(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    status: int,
    body: dict[str, Any],
) -> None:
    row = await session.get_one(IdempotencyKey, (user_id, scope, key))
    row.status = status
    row.response = body
    await session.flush()


Answer = TypeVar("Answer", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class IdempotentCreate:
    """One create under an optional ``Idempotency-Key``: ``replay`` before doing anything (the
    first answer when the key was used, with this body, before), ``remember`` the answer after,
    in the same transaction as the create."""

    user_id: uuid.UUID
    scope: str
    key: str | None

    async def replay(
        self, session: AsyncSession, request: BaseModel, answer: type[Answer]
    ) -> Answer | None:
        if self.key is None:
            return None
        stored = await claim(
            session,
            user_id=self.user_id,
            scope=self.scope,
            key=self.key,
            payload_hash=request_hash(request.model_dump(mode="json")),
        )
        return None if stored is None else answer.model_validate(stored.body)

    async def remember(self, session: AsyncSession, answer: BaseModel) -> None:
        if self.key is not None:
            await store(
                session,
                user_id=self.user_id,
                scope=self.scope,
                key=self.key,
                status=201,
                body=answer.model_dump(mode="json"),
            )
