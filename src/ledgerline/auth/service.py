"""Sign-in, token rotation and sign-out. Services flush; the route layer commits."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ledgerline.auth.models import Login, RefreshToken
from ledgerline.auth.passwords import PasswordHasher
from ledgerline.auth.schemas import TokenPair
from ledgerline.auth.tokens import AccessTokens, hash_refresh_token, new_refresh_token
from ledgerline.core.compiled_select import CompiledSelect
from ledgerline.core.db import utcnow
from ledgerline.core.errors import Unauthorized
from ledgerline.core.ratelimit import Limit, RateLimiter
from ledgerline.core.text import fold_key, has_control_characters
from ledgerline.orgs.models import Membership, Org
from ledgerline.orgs.schemas import OrgRead
from ledgerline.users.models import User

INVALID_CREDENTIALS = "invalid email or password"
THROTTLED = "too many failed sign-in attempts; try again later"


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    login: Login


class RefreshTokenReused(Unauthorized):
    """A rotated refresh token came back: someone holds a copy. The login is revoked for good."""

    persist_changes = True


_OPEN_LOGIN = (
    Login.id == bindparam("login_id"),
    User.id == bindparam("user_id"),
    Login.revoked_at.is_(None),
)
_CALLER = select(User, Login).join(Login, Login.user_id == User.id).where(*_OPEN_LOGIN)
_LOGINS, _USERS, _MEMBERSHIPS, _ORGS = (
    cast(Table, model.__table__) for model in (Login, User, Membership, Org)
)


class _CallerInOrg(NamedTuple):
    user_id: uuid.UUID
    id: uuid.UUID | None
    name: str | None
    currency: str | None
    created_at: dt.datetime | None
    role: str | None


_CALLER_IN_ORG = CompiledSelect(
    select(
        _USERS.c.id.label("user_id"),
        _ORGS.c.id,
        _ORGS.c.name,
        _ORGS.c.currency,
        _ORGS.c.created_at,
        _MEMBERSHIPS.c.role,
    )
    .select_from(_USERS)
    .join(_LOGINS, _LOGINS.c.user_id == _USERS.c.id)
    .outerjoin(
        _MEMBERSHIPS,
        and_(
            _MEMBERSHIPS.c.user_id == _USERS.c.id,
            _MEMBERSHIPS.c.org_id == bindparam("org_id"),
            _MEMBERSHIPS.c.is_active.is_(True),
        ),
    )
    .outerjoin(_ORGS, _ORGS.c.id == _MEMBERSHIPS.c.org_id)
    .where(
        _LOGINS.c.id == bindparam("login_id"),
        _USERS.c.id == bindparam("user_id"),
        _LOGINS.c.revoked_at.is_(None),
    ),
    _CallerInOrg,
)
"""Every authenticated request runs one of these two, so they are built once: building the
statement took longer than the database takes to answer it. The second, run by every request to
an org, names only the tables' columns and reads plain values: loading a mapped ``User``,
``Login`` and ``Org`` took more of the request than the query (a third more on SQLite); it runs
below SQLAlchemy's execution layer (``CompiledSelect``)."""


async def authenticate(session: AsyncSession, tokens: AccessTokens, token: str) -> Authenticated:
    claims = tokens.decode(token)
    row = (
        await session.execute(_CALLER, {"login_id": claims.login_id, "user_id": claims.user_id})
    ).one_or_none()
    if row is None:
        raise Unauthorized("this sign-in has ended; sign in again")
    return Authenticated(user=row[0], login=row[1])


@dataclass(frozen=True, slots=True)
class AuthenticatedInOrg:
    """The caller and, when they are an active member of the org asked for, the org and their
    role (both None otherwise)."""

    user_id: uuid.UUID
    org: OrgRead | None
    role: str | None


async def authenticate_in_org(
    reader: AsyncSession | AsyncConnection, tokens: AccessTokens, token: str, org_id: uuid.UUID
) -> AuthenticatedInOrg:
    """``authenticate`` and the caller's active membership of ``org_id`` in one query: a
    request to an org's resources costs one round trip before its own work, and both are read
    from the database on every request."""
    claims = tokens.decode(token)
    row = await _CALLER_IN_ORG.one_or_none(
        reader, {"login_id": claims.login_id, "user_id": claims.user_id, "org_id": org_id}
    )
    if row is None:
        raise Unauthorized("this sign-in has ended; sign in again")
    if row.role is None or row.id is None:
        return AuthenticatedInOrg(row.user_id, None, None)
    org = OrgRead(id=row.id, name=row.name, currency=row.currency, created_at=row.created_at)
    return AuthenticatedInOrg(row.user_id, org, row.role)


def _failure_limits(
    limiter: RateLimiter, email_key: str, client_address: str
) -> list[tuple[Limit, str]]:
    """The limits a failed sign-in counts towards, each with its key.

    Per email *and* address, so that a few guesses from elsewhere do not lock the owner out; per
    email from anywhere, at a much higher count, against guessing spread over many addresses;
    per address, against one address trying many emails. An address holds no space, so the
    combined key is unambiguous.
    """
    return [
        (limiter.login_failures_per_email_and_address, f"{client_address} {email_key}"),
        (limiter.login_failures_per_email, email_key),
        (limiter.login_failures_per_address, client_address),
    ]


async def ensure_sign_in_allowed(
    limiter: RateLimiter, *, email_key: str, client_address: str
) -> None:
    """Answer 429 once any failed-sign-in limit is used up, whatever the password this time."""
    for limit, key in _failure_limits(limiter, email_key, client_address):
        await limiter.ensure_not_exhausted(limit, key, THROTTLED)


async def count_failed_sign_in(
    limiter: RateLimiter, *, email_key: str, client_address: str
) -> None:
    """Count a wrong password (at sign-in, or as ``current_password`` of a profile change)."""
    for limit, key in _failure_limits(limiter, email_key, client_address):
        await limiter.count(limit, key)


async def sign_in(
    session: AsyncSession,
    hasher: PasswordHasher,
    limiter: RateLimiter,
    *,
    email: str,
    password: str,
    client_address: str,
) -> Authenticated:
    """Check credentials under the sign-in throttles and open a login; every failure looks and
    takes the same, known email or not. The API's token login and the web app's sign-in form
    both come through here, so they share throttles and messages."""
    email_key = fold_key(email)
    await ensure_sign_in_allowed(limiter, email_key=email_key, client_address=client_address)
    # No account has such an email (registration takes valid addresses only), and PostgreSQL
    # cannot even compare one holding NUL: it is just wrong credentials.
    user = (
        None
        if has_control_characters(email_key)
        else await session.scalar(select(User).where(User.email_key == email_key))
    )
    if not await hasher.verify(password, user.password_hash if user else None) or user is None:
        await count_failed_sign_in(limiter, email_key=email_key, client_address=client_address)
        raise Unauthorized(INVALID_CREDENTIALS)
    new_login = Login(user_id=user.id)
    session.add(new_login)
    await session.flush()
    return Authenticated(user=user, login=new_login)


async def login(
    session: AsyncSession,
    tokens: AccessTokens,
    hasher: PasswordHasher,
    limiter: RateLimiter,
    *,
    email: str,
    password: str,
    client_address: str,
    refresh_lifetime: dt.timedelta,
) -> TokenPair:
    signed_in = await sign_in(
        session, hasher, limiter, email=email, password=password, client_address=client_address
    )
    return await _issue_pair(session, tokens, signed_in.login, signed_in.user.id, refresh_lifetime)


async def refresh(
    session: AsyncSession,
    tokens: AccessTokens,
    *,
    refresh_token: str,
    refresh_lifetime: dt.timedelta,
) -> TokenPair:
    now = utcnow()
    stored = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
        .with_for_update()
    )
    if stored is None:
        raise Unauthorized("invalid refresh token")
    current_login = await session.get_one(Login, stored.login_id)
    if stored.used_at is not None:
        if current_login.revoked_at is None:
            _revoke(current_login, "refresh-token-reuse", now)
            await session.flush()
        raise RefreshTokenReused("refresh token was already used; this sign-in is ended")
    if current_login.revoked_at is not None or stored.expires_at <= now:
        raise Unauthorized("refresh token expired or revoked; sign in again")
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Unauthorized("refresh token was already used")
    return await _issue_pair(
        session, tokens, current_login, current_login.user_id, refresh_lifetime
    )


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """End the login the refresh token belongs to; an unknown token is already as good as ended."""
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
    )
    if stored is None:
        return
    target = await session.get_one(Login, stored.login_id)
    if target.revoked_at is None:
        _revoke(target, "logout", utcnow())
        await session.flush()


async def end_other_logins(session: AsyncSession, *, user_id: uuid.UUID, keep: uuid.UUID) -> None:
    await session.execute(
        update(Login)
        .where(Login.user_id == user_id, Login.id != keep, Login.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="password-change")
    )


async def end_login(session: AsyncSession, *, login_id: uuid.UUID) -> None:
    """Sign out of one login (the web app's session cookie points at it)."""
    await session.execute(
        update(Login)
        .where(Login.id == login_id, Login.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout")
    )


async def end_all_logins(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Sign out everywhere: every login of the user, API tokens and web sessions alike."""
    await session.execute(
        update(Login)
        .where(Login.user_id == user_id, Login.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout-everywhere")
    )


def _revoke(target: Login, reason: str, at: dt.datetime) -> None:
    target.revoked_at = at
    target.revoked_reason = reason


async def _issue_pair(
    session: AsyncSession,
    tokens: AccessTokens,
    owner: Login,
    user_id: uuid.UUID,
    refresh_lifetime: dt.timedelta,
) -> TokenPair:
    opaque = new_refresh_token()
    session.add(
        RefreshToken(
            login_id=owner.id,
            token_hash=hash_refresh_token(opaque),
            expires_at=utcnow() + refresh_lifetime,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=tokens.issue(user_id=user_id, login_id=owner.id),
        refresh_token=opaque,
        expires_in=int(tokens.lifetime.total_seconds()),
    )
