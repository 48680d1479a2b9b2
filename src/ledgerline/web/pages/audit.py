"""The audit log (admins): the API's filters, each entry's before and after values."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, AuditQuery, EntityType
from ledgerline.core.deps import SessionDep
from ledgerline.core.errors import AppError
from ledgerline.orgs import service as orgs_service
from ledgerline.web.dependencies import AuditReader, WebCaller, frame
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import parse, query_values
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/orgs/{org_id}/audit")
async def audit_page(
    request: Request, session: SessionDep, ctx: AuditReader, caller: WebCaller
) -> Response:
    values = query_values(request.query_params)
    query, errors = parse(AuditQuery, values)
    page = None
    if query is not None:
        try:
            page = await audit_service.list_entries(session, ctx.org_id, query)
        except AppError as exc:
            if exc.status != 400:
                raise
            errors = {"cursor": exc.detail}
    members = await orgs_service.list_members(session, ctx)
    view = {k: str(v) for k, v in values.items() if k not in {"cursor", "limit"}}
    return render(
        request,
        "audit.html",
        {
            **await frame(request, session, caller, ctx),
            "values": values,
            "errors": errors,
            "page": page,
            "actions": list(AuditAction),
            "entity_types": list(EntityType),
            "members": members,
            "names": {str(m.user_id): m.full_name or m.email for m in members},
            "next_url": (
                f"?{urlencode({**view, 'cursor': page.next_cursor})}"
                if page is not None and page.next_cursor
                else None
            ),
        },
    )
