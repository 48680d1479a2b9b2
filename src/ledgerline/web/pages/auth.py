"""Sign in, register, sign out: the API's auth services behind forms and a session cookie."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth import service as auth_service
from ledgerline.auth.dependencies import PasswordHasherDep
from ledgerline.auth.schemas import LoginRequest, RegisterRequest
from ledgerline.core.deps import ClientAddress, RateLimiterDep, SessionDep, SettingsDep
from ledgerline.core.errors import AppError, Forbidden, TooManyRequests, Unauthorized
from ledgerline.orgs import service as orgs_service
from ledgerline.users import service as users_service
from ledgerline.web import service as web_service
from ledgerline.web.dependencies import (
    CsrfChecked,
    OptionalWebCaller,
    WebCaller,
    clear_cookie,
    cookie_names,
    set_cookie,
)
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import FieldErrors, form_values, parse
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CSRF_COOKIE_SECONDS = 7 * 24 * 3600


def safe_next(target: str | None) -> str | None:
    """Only a path of this site: never another origin (``//evil``, ``/\\evil``)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


async def home_of(session: AsyncSession, user_id: uuid.UUID) -> str:
    orgs = await orgs_service.list_orgs_of(session, user_id)
    return f"/orgs/{orgs[0].id}/dashboard" if orgs else "/orgs"


def _anonymous_page(
    request: Request, name: str, values: dict[str, object], *, status: int = 200
) -> Response:
    """A signed-out page with a form: its token is bound to a CSRF cookie, set if missing."""
    names = cookie_names(request)
    secret = request.cookies.get(names.session) or request.cookies.get(names.csrf)
    fresh = None
    if not secret:
        secret = fresh = web_service.new_csrf_secret()
    response = render(
        request,
        name,
        {"csrf_token": web_service.csrf_token(secret), **values},
        status=status,
    )
    if fresh is not None:
        set_cookie(request, response, names.csrf, fresh, CSRF_COOKIE_SECONDS)
    return response


@router.get("/")
async def home(session: SessionDep, caller: OptionalWebCaller) -> Response:
    if caller is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(await home_of(session, caller.user.id), status_code=303)


@router.get("/login")
async def login_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: OptionalWebCaller,
    next: str | None = None,
    registered: bool = False,
) -> Response:
    if caller is not None:
        target = safe_next(next) or await home_of(session, caller.user.id)
        return RedirectResponse(target, status_code=303)
    return _anonymous_page(
        request,
        "login.html",
        {
            "next": safe_next(next) or "",
            "registered": registered,
            "allow_registration": settings.allow_registration,
            "errors": {},
            "email": "",
        },
    )


@router.post("/login", dependencies=[CsrfChecked])
async def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> Response:
    """The API's sign-in service, so its throttles and messages apply to the form too."""
    form = await request.form()
    values = form_values(form)
    next_path = safe_next(str(values.pop("next", "")))
    credentials, errors = parse(LoginRequest, values)
    status = 422
    if credentials is not None:
        try:
            signed_in = await auth_service.sign_in(
                session,
                hasher,
                limiter,
                email=credentials.email,
                password=credentials.password,
                client_address=address,
            )
        except (Unauthorized, TooManyRequests) as exc:
            errors = {"form": exc.detail}
            status = exc.status
        else:
            lifetime = dt.timedelta(days=settings.refresh_token_days)
            token = await web_service.open_session(session, signed_in.login, lifetime=lifetime)
            target = next_path or await home_of(session, signed_in.user.id)
            response = RedirectResponse(target, status_code=303)
            set_cookie(
                request,
                response,
                cookie_names(request).session,
                token,
                int(lifetime.total_seconds()),
            )
            return response
    return _anonymous_page(
        request,
        "login.html",
        {
            "next": next_path or "",
            "registered": False,
            "allow_registration": settings.allow_registration,
            "errors": errors,
            "email": str(values.get("email", "")),
        },
        status=status,
    )


@router.get("/register")
async def register_page(request: Request, settings: SettingsDep) -> Response:
    if not settings.allow_registration:
        raise Forbidden("registration is switched off on this instance")
    return _anonymous_page(request, "register.html", {"errors": {}, "values": {}})


@router.post("/register", dependencies=[CsrfChecked])
async def register(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> Response:
    if not settings.allow_registration:
        raise Forbidden("registration is switched off on this instance")
    values = form_values(await request.form())
    body, errors = parse(RegisterRequest, values)
    status = 422
    if body is not None:
        try:
            await limiter.hit(
                limiter.registrations_per_address,
                address,
                "too many registrations; try again later",
            )
            await users_service.register(
                session,
                hasher,
                email=body.email,
                password=body.password,
                full_name=body.full_name,
            )
        except AppError as exc:
            field_errors: FieldErrors = {
                e.field: e.message for e in getattr(exc, "errors", [])
            } or {"form": exc.detail}
            errors, status = field_errors, exc.status
        else:
            return RedirectResponse("/login?registered=true", status_code=303)
    shown = {k: v for k, v in values.items() if k != "password"}
    return _anonymous_page(
        request, "register.html", {"errors": errors, "values": shown}, status=status
    )


@router.post("/logout", dependencies=[CsrfChecked])
async def sign_out(
    request: Request,
    session: SessionDep,
    caller: WebCaller,
    everywhere: Annotated[bool, Form()] = False,
) -> Response:
    if everywhere:
        await auth_service.end_all_logins(session, user_id=caller.user.id)
    else:
        await auth_service.end_login(session, login_id=caller.login.id)
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(request, response, cookie_names(request).session)
    return response
