"""The org switcher's list, creating an org, and the members page (admins)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ledgerline.core.deps import SessionDep
from ledgerline.core.errors import AppError, ValidationFailed
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import MemberAdd, MemberUpdate, OrgCreate
from ledgerline.web.dependencies import CsrfChecked, MembersManager, OrgReader, WebCaller, frame
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import FieldErrors, errors_of, form_values, parse
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/orgs")
async def list_orgs_page(request: Request, session: SessionDep, caller: WebCaller) -> Response:
    values = await frame(request, session, caller)
    return render(request, "orgs.html", {**values, "errors": {}, "form": {}})


@router.post("/orgs", dependencies=[CsrfChecked])
async def create_org(request: Request, session: SessionDep, caller: WebCaller) -> Response:
    values = form_values(await request.form())
    body, errors = parse(OrgCreate, values)
    if body is not None:
        org = await orgs_service.create_org(
            session, owner_id=caller.user.id, name=body.name, currency=body.currency
        )
        return RedirectResponse(f"/orgs/{org.id}/dashboard", status_code=303)
    page = await frame(request, session, caller)
    return render(request, "orgs.html", {**page, "errors": errors, "form": values}, status=422)


@router.get("/orgs/{org_id}")
async def org_home(ctx: OrgReader) -> Response:
    return RedirectResponse(f"/orgs/{ctx.org_id}/dashboard", status_code=303)


async def _members_page(
    request: Request,
    session: SessionDep,
    ctx: OrgContext,
    caller: WebCaller,
    *,
    errors: FieldErrors | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    members = await orgs_service.list_members(session, ctx)
    active_admins = [m for m in members if m.role is Role.ADMIN and m.is_active]
    return render(
        request,
        "members.html",
        {
            **await frame(request, session, caller, ctx),
            "members": members,
            "roles": list(Role),
            "sole_admin": active_admins[0].user_id if len(active_admins) == 1 else None,
            "last_admin_rule": orgs_service.LAST_ADMIN,
            "errors": errors or {},
            "form": form or {},
        },
        status=status,
    )


@router.get("/orgs/{org_id}/members")
async def members_page(
    request: Request, session: SessionDep, ctx: MembersManager, caller: WebCaller
) -> Response:
    return await _members_page(request, session, ctx, caller)


@router.post("/orgs/{org_id}/members", dependencies=[CsrfChecked])
async def add_member(
    request: Request, session: SessionDep, ctx: MembersManager, caller: WebCaller
) -> Response:
    values = form_values(await request.form())
    body, errors = parse(MemberAdd, values)
    if body is not None:
        try:
            await orgs_service.add_member(session, ctx, email=body.email, role=body.role)
        except AppError as exc:
            errors = {"email": exc.detail}
        else:
            return RedirectResponse(f"/orgs/{ctx.org_id}/members", status_code=303)
    return await _members_page(
        request, session, ctx, caller, errors=errors, form=values, status=422
    )


async def _member_change(
    request: Request,
    session: SessionDep,
    ctx: OrgContext,
    caller: WebCaller,
    user_id: uuid.UUID,
    changes: MemberUpdate | None,
) -> Response:
    try:
        if changes is None:
            await orgs_service.remove_member(session, ctx, user_id=user_id)
        else:
            await orgs_service.update_member(session, ctx, user_id=user_id, changes=changes)
    except ValidationFailed as exc:
        return await _members_page(request, session, ctx, caller, errors=errors_of(exc), status=422)
    except AppError as exc:
        if exc.status not in (409,):
            raise
        return await _members_page(
            request, session, ctx, caller, errors={"member": exc.detail}, status=409
        )
    return RedirectResponse(f"/orgs/{ctx.org_id}/members", status_code=303)


_FORM_BOOLEANS = {"true": True, "false": False}
"""A form sends text; the API's schema takes only JSON booleans for ``is_active``."""


@router.post("/orgs/{org_id}/members/{user_id}", dependencies=[CsrfChecked])
async def update_member(
    request: Request,
    user_id: uuid.UUID,
    session: SessionDep,
    ctx: MembersManager,
    caller: WebCaller,
) -> Response:
    values = form_values(await request.form())
    if values.get("is_active") in _FORM_BOOLEANS:
        values["is_active"] = _FORM_BOOLEANS[str(values["is_active"])]
    changes, errors = parse(MemberUpdate, values)
    if changes is None:
        return await _members_page(request, session, ctx, caller, errors=errors, status=422)
    return await _member_change(request, session, ctx, caller, user_id, changes)


@router.post("/orgs/{org_id}/members/{user_id}/remove", dependencies=[CsrfChecked])
async def remove_member(
    request: Request,
    user_id: uuid.UUID,
    session: SessionDep,
    ctx: MembersManager,
    caller: WebCaller,
) -> Response:
    return await _member_change(request, session, ctx, caller, user_id, None)
