from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from ledgerline.auth import service as auth_service
from ledgerline.auth.dependencies import AccessTokensDep, PasswordHasherDep
from ledgerline.auth.schemas import LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from ledgerline.core.deps import ClientAddress, RateLimiterDep, SessionDep, SettingsDep
from ledgerline.core.errors import Forbidden
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.users import service as users_service
from ledgerline.users.schemas import UserRead

router = APIRouter(prefix="/auth", tags=["auth"], route_class=LedgerlineRoute)

_BODY = (400, 413, 415, 422)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409, 429, *_BODY),
)
async def register(
    body: RegisterRequest,
    session: SessionDep,
    settings: SettingsDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> UserRead:
    """Create an account; it is a member of no organization until an admin adds it."""
    if not settings.allow_registration:
        raise Forbidden("registration is switched off on this instance")
    await limiter.hit(
        limiter.registrations_per_address, address, "too many registrations; try again later"
    )
    user = await users_service.register(
        session,
        hasher,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
    )
    return UserRead.model_validate(user)


async def _login(
    session: SessionDep,
    settings: SettingsDep,
    tokens: AccessTokensDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
    email: str,
    password: str,
) -> TokenPair:
    return await auth_service.login(
        session,
        tokens,
        hasher,
        limiter,
        email=email,
        password=password,
        client_address=address,
        refresh_lifetime=dt.timedelta(days=settings.refresh_token_days),
    )


@router.post("/login", responses=error_responses(401, 429, *_BODY))
async def login(
    body: LoginRequest,
    session: SessionDep,
    settings: SettingsDep,
    tokens: AccessTokensDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> TokenPair:
    """Sign in with email and password; answers an access token and a refresh token."""
    return await _login(
        session, settings, tokens, hasher, limiter, address, body.email, body.password
    )


@router.post("/token", responses=error_responses(401, 429, *_BODY))
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    tokens: AccessTokensDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> TokenPair:
    """OAuth2 password flow (form fields ``username``, ``password``), for Swagger's Authorize."""
    return await _login(
        session, settings, tokens, hasher, limiter, address, form.username, form.password
    )


@router.post("/refresh", responses=error_responses(401, 429, *_BODY))
async def refresh(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep, tokens: AccessTokensDep
) -> TokenPair:
    """Trade a refresh token for a new pair; the old one stops working.

    Presenting an already-used refresh token ends that sign-in entirely (reuse detection).
    """
    return await auth_service.refresh(
        session,
        tokens,
        refresh_token=body.refresh_token,
        refresh_lifetime=dt.timedelta(days=settings.refresh_token_days),
    )


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(429, *_BODY)
)
async def logout(body: RefreshRequest, session: SessionDep) -> Response:
    """End the sign-in this refresh token belongs to, with its access tokens."""
    await auth_service.logout(session, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
