"""Who is browsing: the session cookie resolved to an open login, the org guard over it, and the
CSRF check every state-changing form passes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth.dependencies import count_request
from ledgerline.auth.service import Authenticated
from ledgerline.core.config import Settings
from ledgerline.core.deps import RateLimiterDep, SessionDep
from ledgerline.core.errors import Forbidden, Unauthorized
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.dependencies import OrgContext, org_context
from ledgerline.orgs.permissions import ROLE_PERMISSIONS, Permission
from ledgerline.orgs.schemas import OrgRead
from ledgerline.users.schemas import UserRead
from ledgerline.web import service as web_service

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_REFUSED = "this form is missing its security token or it is out of date; reload the page"
SIGN_IN_FIRST = "sign in to continue"


@dataclass(frozen=True, slots=True)
class CookieNames:
    session: str
    csrf: str
    secure: bool


def cookie_names(request: Request) -> CookieNames:
    """``Secure`` cookies with the ``__Host-`` prefix over HTTPS, or when configured so."""
    settings: Settings = request.app.state.settings
    secure = (
        settings.web_secure_cookies
        if settings.web_secure_cookies is not None
        else request.url.scheme == "https"
    )
    prefix = "__Host-" if secure else ""
    return CookieNames(f"{prefix}ledgerline_session", f"{prefix}ledgerline_csrf", secure)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_names(request).secure,
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=cookie_names(request).secure
    )


def csrf_secret(request: Request) -> str | None:
    """The session cookie for a signed-in browser; the CSRF cookie of a signed-out one."""
    names = cookie_names(request)
    return request.cookies.get(names.session) or request.cookies.get(names.csrf)


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request without the token of this browser's cookie (403)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not web_service.csrf_token_matches(csrf_secret(request), sent):
        raise Forbidden(CSRF_REFUSED)


async def get_web_caller(
    request: Request, session: SessionDep, limiter: RateLimiterDep
) -> Authenticated:
    token = request.cookies.get(cookie_names(request).session)
    if not token:
        raise Unauthorized(SIGN_IN_FIRST)
    caller = await web_service.resolve_session(session, token)
    await count_request(limiter, caller.user.id)
    return caller


async def get_optional_web_caller(request: Request, session: SessionDep) -> Authenticated | None:
    token = request.cookies.get(cookie_names(request).session)
    if not token:
        return None
    try:
        return await web_service.resolve_session(session, token)
    except Unauthorized:
        return None


WebCaller = Annotated[Authenticated, Depends(get_web_caller)]
OptionalWebCaller = Annotated[Authenticated | None, Depends(get_optional_web_caller)]
CsrfChecked = Depends(require_csrf)


class WebOrgGuard:
    """The API's org guard for a browser: the same decision (``org_context``), so outsiders get
    404 and members without the permission 403, from the same permission table."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(
        self,
        session: SessionDep,
        caller: WebCaller,
        org_id: Annotated[uuid.UUID, Path()],
    ) -> OrgContext:
        return await org_context(session, caller.user, org_id, self.permission)


def web_guard(permission: Permission) -> Any:
    return Depends(WebOrgGuard(permission))


OrgReader = Annotated[OrgContext, web_guard(Permission.ORG_READ)]
DashboardReader = Annotated[OrgContext, web_guard(Permission.DASHBOARD_READ)]
RecordsReader = Annotated[OrgContext, web_guard(Permission.RECORDS_READ)]
RecordsWriter = Annotated[OrgContext, web_guard(Permission.RECORDS_WRITE)]
RecordsDeleter = Annotated[OrgContext, web_guard(Permission.RECORDS_DELETE)]
RecordsImporter = Annotated[OrgContext, web_guard(Permission.RECORDS_IMPORT)]
RecordsExporter = Annotated[OrgContext, web_guard(Permission.RECORDS_EXPORT)]
MembersManager = Annotated[OrgContext, web_guard(Permission.MEMBERS_MANAGE)]
AuditReader = Annotated[OrgContext, web_guard(Permission.AUDIT_READ)]
AccountsReader = Annotated[OrgContext, web_guard(Permission.ACCOUNTS_READ)]
AccountsManager = Annotated[OrgContext, web_guard(Permission.ACCOUNTS_MANAGE)]
TransfersWriter = Annotated[OrgContext, web_guard(Permission.TRANSFERS_WRITE)]
AccountsReconciler = Annotated[OrgContext, web_guard(Permission.ACCOUNTS_RECONCILE)]
StatementsImporter = Annotated[OrgContext, web_guard(Permission.STATEMENTS_IMPORT)]


async def frame(
    request: Request,
    session: AsyncSession,
    caller: Authenticated,
    ctx: OrgContext | None = None,
) -> dict[str, Any]:
    """What the layout needs on every page of a signed-in person: who, which orgs, which org,
    what their role allows there (from the permission table), and the form token."""
    secret = csrf_secret(request)
    allowed = ROLE_PERMISSIONS[ctx.role] if ctx is not None else frozenset()
    return {
        "user": UserRead.model_validate(caller.user),
        "orgs": await orgs_service.list_orgs_of(session, caller.user.id),
        "org": OrgRead.model_validate(ctx.org) if ctx is not None else None,
        "role": ctx.role if ctx is not None else None,
        "can": {permission.value for permission in allowed},
        "csrf_token": web_service.csrf_token(secret) if secret else "",
    }
