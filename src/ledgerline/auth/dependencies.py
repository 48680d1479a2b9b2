"""Who is calling: the bearer token resolved to an open login of an existing user."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from ledgerline.auth import service as auth_service
from ledgerline.auth.passwords import PasswordHasher
from ledgerline.auth.service import Authenticated
from ledgerline.auth.tokens import AccessTokens
from ledgerline.core.deps import RateLimiterDep, SessionDep
from ledgerline.core.errors import Unauthorized
from ledgerline.core.ratelimit import RateLimiter
from ledgerline.core.readers import adopt, read_before_writing
from ledgerline.users.models import User

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_access_tokens(request: Request) -> AccessTokens:
    tokens: AccessTokens = request.app.state.access_tokens
    return tokens


async def get_password_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.password_hasher
    return hasher


AccessTokensDep = Annotated[AccessTokens, Depends(get_access_tokens)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


BearerToken = Annotated[str | None, Depends(bearer_scheme)]


async def get_authenticated(
    session: SessionDep, tokens: AccessTokensDep, limiter: RateLimiterDep, token: BearerToken
) -> Authenticated:
    if not token:
        raise Unauthorized()
    async with read_before_writing(session) as reader:
        caller = await auth_service.authenticate(reader, tokens, token)
    if reader is not session:
        caller = Authenticated(
            user=await adopt(session, caller.user), login=await adopt(session, caller.login)
        )
    await count_request(limiter, caller.user.id)
    return caller


async def count_request(limiter: RateLimiter, user_id: uuid.UUID) -> None:
    """The per-user request limit (429 past it), counted once an authenticated request is
    known to come from the user ``user_id``."""
    await limiter.hit(limiter.requests_per_user, str(user_id), "too many requests; slow down")


async def get_current_user(
    caller: Annotated[Authenticated, Depends(get_authenticated)],
) -> User:
    return caller.user


CurrentCaller = Annotated[Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]
