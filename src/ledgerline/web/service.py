"""Web sessions: an opaque cookie whose hash points at a ``Login``, and CSRF tokens bound to it.

Services flush; the route layer commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth.models import Login
from ledgerline.auth.service import Authenticated
from ledgerline.core.db import utcnow
from ledgerline.core.errors import Unauthorized
from ledgerline.users.models import User
from ledgerline.web.models import WebSession

SESSION_ENDED = "your session has ended; sign in again"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(session: AsyncSession, login: Login, *, lifetime: dt.timedelta) -> str:
    """A new cookie value for ``login``; only its hash is stored. The user's expired sessions
    and those of their ended logins are deleted on the way, so the table does not grow."""
    await session.execute(
        delete(WebSession).where(
            WebSession.login_id.in_(select(Login.id).where(Login.user_id == login.user_id)),
            or_(
                WebSession.expires_at <= utcnow(),
                WebSession.login_id.in_(
                    select(Login.id).where(
                        Login.user_id == login.user_id, Login.revoked_at.is_not(None)
                    )
                ),
            ),
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(login_id=login.id, token_hash=_hash(token), expires_at=utcnow() + lifetime)
    )
    await session.flush()
    return token


async def resolve_session(session: AsyncSession, token: str) -> Authenticated:
    """The user and open login behind a cookie; an ended login ends its web sessions too."""
    row = (
        await session.execute(
            select(User, Login)
            .join(Login, Login.user_id == User.id)
            .join(WebSession, WebSession.login_id == Login.id)
            .where(
                WebSession.token_hash == _hash(token),
                WebSession.expires_at > utcnow(),
                Login.revoked_at.is_(None),
            )
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized(SESSION_ENDED)
    return Authenticated(user=row[0], login=row[1])


def new_csrf_secret() -> str:
    """The secret a signed-out browser's forms are bound to (kept in a cookie of its own)."""
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    """The token a form carries: derived from a cookie the page's script cannot read, so a
    forged request from another site cannot know it."""
    return hmac.new(secret.encode(), b"ledgerline-csrf", hashlib.sha256).hexdigest()


def csrf_token_matches(secret: str | None, sent: str | None) -> bool:
    if not secret or not sent:
        return False
    return hmac.compare_digest(csrf_token(secret), sent)
