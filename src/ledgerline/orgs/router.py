from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from ledgerline.auth.dependencies import CurrentUser
from ledgerline.core.deps import SessionDep
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.dependencies import MembersManager, OrgManager, OrgReader
from ledgerline.orgs.schemas import (
    MemberAdd,
    MemberRead,
    MemberUpdate,
    OrgCreate,
    OrgRead,
    OrgUpdate,
    OrgWithRole,
)

router = APIRouter(prefix="/orgs", tags=["orgs"], route_class=LedgerlineRoute)

_ORG = (401, 404, 422, 429)
_BODY = (400, 413, 415)


@router.get("", responses=error_responses(401, 429))
async def list_orgs(session: SessionDep, user: CurrentUser) -> list[OrgWithRole]:
    """Organizations where you are an active member, with your role."""
    return await orgs_service.list_orgs_of(session, user.id)


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=error_responses(401, 422, 429, *_BODY)
)
async def create_org(body: OrgCreate, session: SessionDep, user: CurrentUser) -> OrgRead:
    """Create an organization; you become its admin."""
    return await orgs_service.create_org(
        session, owner_id=user.id, name=body.name, currency=body.currency
    )


@router.get("/{org_id}", responses=error_responses(*_ORG))
async def get_org(ctx: OrgReader) -> OrgRead:
    """One organization you are a member of."""
    return OrgRead.model_validate(ctx.org)


@router.patch("/{org_id}", responses=error_responses(403, *_ORG, *_BODY))
async def update_org(body: OrgUpdate, session: SessionDep, ctx: OrgManager) -> OrgRead:
    """Rename the organization (admins)."""
    return await orgs_service.rename_org(session, ctx, name=body.name)


@router.get("/{org_id}/members", responses=error_responses(403, *_ORG))
async def list_members(session: SessionDep, ctx: MembersManager) -> list[MemberRead]:
    """Members of the organization, active or not (admins)."""
    return await orgs_service.list_members(session, ctx)


@router.post(
    "/{org_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409, *_ORG, *_BODY),
)
async def add_member(body: MemberAdd, session: SessionDep, ctx: MembersManager) -> MemberRead:
    """Add an existing user to the organization with a role (admins)."""
    return await orgs_service.add_member(session, ctx, email=body.email, role=body.role)


@router.patch("/{org_id}/members/{user_id}", responses=error_responses(403, 409, *_ORG, *_BODY))
async def update_member(
    user_id: uuid.UUID, body: MemberUpdate, session: SessionDep, ctx: MembersManager
) -> MemberRead:
    """Change a member's role or active status; takes effect on their next request (admins)."""
    return await orgs_service.update_member(session, ctx, user_id=user_id, changes=body)


@router.delete(
    "/{org_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(403, 409, *_ORG),
)
async def remove_member(user_id: uuid.UUID, session: SessionDep, ctx: MembersManager) -> Response:
    """Remove a member from the organization (admins)."""
    await orgs_service.remove_member(session, ctx, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
