from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, utcnow
from ledgerline.core.ids import new_id


class WebSession(Base):
    """A browser's session cookie, stored only as its SHA-256, under one ``Login``.

    The login is what sign out, password change and sign out everywhere revoke, so a web
    session ends exactly when an API sign-in would.
    """

    __tablename__ = "web_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    login_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("logins.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]

    __table_args__ = (Index(None, "login_id"),)
