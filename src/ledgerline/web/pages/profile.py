"""Profile: name, password change (ends every other sign-in), sign out everywhere."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ledgerline.auth.dependencies import PasswordHasherDep
from ledgerline.core.deps import ClientAddress, RateLimiterDep, SessionDep
from ledgerline.core.errors import ValidationFailed
from ledgerline.users import service as users_service
from ledgerline.users.schemas import MeUpdate
from ledgerline.web.dependencies import CsrfChecked, WebCaller, frame
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import FieldErrors, errors_of, form_values, parse
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


async def _page(
    request: Request,
    session: SessionDep,
    caller: WebCaller,
    *,
    errors: FieldErrors,
    saved: bool = False,
    status: int = 200,
) -> Response:
    me = await users_service.read_me(session, caller.user)
    page = await frame(request, session, caller)
    values = {"me": me, "errors": errors, "saved": saved}
    return render(request, "profile.html", {**page, **values}, status=status)


@router.get("/profile")
async def profile_page(
    request: Request, session: SessionDep, caller: WebCaller, saved: bool = False
) -> Response:
    return await _page(request, session, caller, errors={}, saved=saved)


@router.post("/profile", dependencies=[CsrfChecked])
async def update_profile(
    request: Request,
    session: SessionDep,
    caller: WebCaller,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> Response:
    """The API's ``PATCH /users/me``: a new password keeps this session and ends the others."""
    changes, errors = parse(MeUpdate, form_values(await request.form()))
    if changes is not None:
        try:
            await users_service.update_me(
                session,
                hasher,
                limiter,
                user=caller.user,
                login_id=caller.login.id,
                client_address=address,
                changes=changes,
            )
        except ValidationFailed as exc:
            errors = errors_of(exc)
        else:
            return RedirectResponse("/profile?saved=true", status_code=303)
    return await _page(request, session, caller, errors=errors, status=422)
