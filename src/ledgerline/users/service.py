"""Accounts: registration, the caller's own profile, and the instance's first admin."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth import service as auth_service
from ledgerline.auth.passwords import PasswordHasher, password_problem
from ledgerline.core.config import Settings
from ledgerline.core.db import utcnow
from ledgerline.core.errors import Conflict, FieldError, ValidationFailed
from ledgerline.core.ratelimit import RateLimiter
from ledgerline.core.text import fold_key, reject_control_characters
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.permissions import Role
from ledgerline.users.models import User
from ledgerline.users.schemas import MeRead, MeUpdate


def _check_password(password: str, *, email: str, field: str = "password") -> None:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise ValidationFailed([FieldError(field, problem)])


_EMAIL = TypeAdapter(EmailStr)


def _valid_email(email: str) -> str:
    """The API's email rule for every caller (the command line too), domain normalized."""
    try:
        return _EMAIL.validate_python(email.strip())
    except ValidationError as exc:
        raise ValidationFailed([FieldError("email", "is not a valid email address")]) from exc


def _valid_full_name(full_name: str) -> str:
    try:
        name = reject_control_characters(full_name).strip()
    except ValueError as exc:
        raise ValidationFailed([FieldError("full_name", str(exc))]) from exc
    if not name:
        raise ValidationFailed([FieldError("full_name", "must not be blank")])
    return name


async def create_user(
    session: AsyncSession,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    full_name: str,
) -> User:
    email = _valid_email(email)
    full_name = _valid_full_name(full_name)
    _check_password(password, email=email)
    email_key = fold_key(email)
    if await session.scalar(select(exists().where(User.email_key == email_key))):
        raise Conflict("an account with this email already exists")
    user = User(
        email=email,
        email_key=email_key,
        full_name=full_name,
        password_hash=await hasher.hash(password),
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("an account with this email already exists") from exc
    return user


async def register(
    session: AsyncSession, hasher: PasswordHasher, *, email: str, password: str, full_name: str
) -> User:
    """A self-registered user is a member of no org: it sees nothing until an org's admin adds
    it, or it creates an org of its own. (Joining the default org, as it once did, let any
    stranger read what the first admin keeps there.)"""
    return await create_user(session, hasher, email=email, password=password, full_name=full_name)


async def read_me(session: AsyncSession, user: User) -> MeRead:
    memberships = await orgs_service.memberships_of(session, user.id)
    return MeRead(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        created_at=user.created_at,
        memberships=memberships,
    )


async def update_me(
    session: AsyncSession,
    hasher: PasswordHasher,
    limiter: RateLimiter,
    *,
    user: User,
    login_id: uuid.UUID,
    client_address: str,
    changes: MeUpdate,
) -> MeRead:
    """Changing the password ends every other sign-in of the user, at once.

    A wrong ``current_password`` counts as a failed sign-in for the user's email and the
    client's address, and the change is refused (429) once those limits are used up: a stolen
    access token must not become a way to guess the password unthrottled.
    """
    await auth_service.ensure_sign_in_allowed(
        limiter, email_key=user.email_key, client_address=client_address
    )
    if not await hasher.verify(changes.current_password, user.password_hash):
        await auth_service.count_failed_sign_in(
            limiter, email_key=user.email_key, client_address=client_address
        )
        raise ValidationFailed([FieldError("current_password", "is not your current password")])
    if changes.full_name is not None:
        user.full_name = changes.full_name.strip()
    if changes.password is not None:
        _check_password(changes.password, email=user.email)
        user.password_hash = await hasher.hash(changes.password)
        user.password_changed_at = utcnow()
        await auth_service.end_other_logins(session, user_id=user.id, keep=login_id)
    await session.flush()
    return await read_me(session, user)


@dataclass(frozen=True, slots=True)
class CreatedAdmin:
    user: User
    org_id: uuid.UUID
    generated_password: str | None


async def create_admin(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    *,
    email: str,
    password: str | None,
    full_name: str = "Administrator",
) -> CreatedAdmin:
    """Create an admin of the default org (created too if missing); generate a password if none."""
    generated = None if password else secrets.token_urlsafe(18)
    user = await create_user(
        session, hasher, email=email, password=password or str(generated), full_name=full_name
    )
    org = await orgs_service.get_or_create_default_org(session, settings)
    await orgs_service.add_membership(session, org_id=org.id, user_id=user.id, role=Role.ADMIN)
    return CreatedAdmin(user=user, org_id=org.id, generated_password=generated)


async def any_user_exists(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().select_from(User))))
