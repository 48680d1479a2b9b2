from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, utcnow
from ledgerline.core.ids import new_id


class Login(Base):
    """One sign-in: its access tokens carry its id, its refresh tokens chain under it.

    Revoking the login (logout, password change, refresh-token reuse) ends all of them at once,
    because every authenticated request checks the login is still open.
    """

    __tablename__ = "logins"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), default=None)

    __table_args__ = (Index(None, "user_id"),)


class RefreshToken(Base):
    """A refresh token, stored only as its SHA-256; each is usable once (rotation)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    login_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("logins.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index(None, "login_id"),)
