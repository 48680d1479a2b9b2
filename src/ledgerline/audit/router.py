from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditPage, AuditQuery
from ledgerline.core.deps import SessionDep
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.orgs.dependencies import AuditReader

router = APIRouter(prefix="/orgs/{org_id}", tags=["audit"], route_class=LedgerlineRoute)


@router.get("/audit", responses=error_responses(400, 401, 403, 404, 422, 429))
async def list_audit_entries(
    query: Annotated[AuditQuery, Query()], session: SessionDep, ctx: AuditReader
) -> AuditPage:
    """The org's audit log, newest first (admins). Entries cannot be edited or deleted."""
    return await audit_service.list_entries(session, ctx.org_id, query)
