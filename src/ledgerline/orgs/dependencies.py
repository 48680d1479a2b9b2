"""The org guard: the one place a caller's access to an org is decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security.base import SecurityBase
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth import service as auth_service
from ledgerline.auth.dependencies import bearer_scheme, count_request
from ledgerline.core.db import uuid_parameter
from ledgerline.core.deps import session_of
from ledgerline.core.errors import Forbidden, NotFound, Unauthorized
from ledgerline.core.readers import plain_reader
from ledgerline.orgs.models import Membership, Org
from ledgerline.orgs.permissions import Permission, Role, role_allows
from ledgerline.orgs.schemas import OrgRead
from ledgerline.users.models import User

ORG_NOT_FOUND = "organization not found"


@dataclass(frozen=True, slots=True)
class OrgContext:
    """Who acts on which org, in which role: what every service of an org's resources takes."""

    org: OrgRead
    user_id: uuid.UUID
    role: Role

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    def require(self, permission: Permission) -> None:
        """For the rare action a query parameter widens (``deleted=only``): same table, same 403."""
        if not role_allows(self.role, permission):
            raise Forbidden(f"the {self.role} role does not allow {permission}")


class OrgGuard(SecurityBase):
    """Resolve the caller's active membership of the org in the path, then check ``permission``.

    Non-members (and inactive members) get 404, so an org's existence is not disclosed;
    members whose role lacks the permission get 403. The membership is read from the database
    on every request, so role changes and deactivations apply to the very next request. It is
    read with the caller's login (``authenticate_in_org``): one query, where the bearer user's
    dependency and this guard took one each; the answers are the same and come in the same
    order (401, then the request limit's 429, then 404 or 403).

    It is the API's bearer scheme too, as OpenAPI documents it (the same model and name), and
    reads the token itself: FastAPI solving the scheme as a dependency of its own cost more
    than the read, on every request to an org.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.model = bearer_scheme.model
        self.scheme_name = bearer_scheme.scheme_name

    async def __call__(
        self,
        request: Request,
        org_id: Annotated[uuid.UUID, Path(description="organization id")],
    ) -> OrgContext:
        # The app's token verifier and limiter straight from its state, not as dependencies of
        # their own: FastAPI's solving of each costs more than the attribute read, on every
        # request to an org.
        state = request.app.state
        token = await bearer_scheme(request)
        if not token:
            raise Unauthorized()
        async with plain_reader(session_of(request)) as reader:
            found = await auth_service.authenticate_in_org(
                reader, state.access_tokens, token, org_id
            )
        await count_request(state.rate_limiter, found.user_id)
        if found.org is None or found.role is None:
            raise NotFound(ORG_NOT_FOUND)
        return _decide(found.org, found.user_id, found.role, self.permission)


_ORG_AND_ROLE = (
    select(Org, Membership.role)
    .join(Membership, Membership.org_id == Org.id)
    .where(
        Org.id == uuid_parameter("org_id"),
        Membership.user_id == uuid_parameter("user_id"),
        Membership.is_active.is_(True),
    )
)


async def org_context(
    session: AsyncSession, user: User, org_id: uuid.UUID, permission: Permission
) -> OrgContext:
    """The guard's decision for any caller: the API's bearer user or the web app's session."""
    row = (
        await session.execute(_ORG_AND_ROLE, {"org_id": org_id, "user_id": user.id})
    ).one_or_none()
    if row is None:
        raise NotFound(ORG_NOT_FOUND)
    org, role_value = row
    return _decide(OrgRead.model_validate(org), user.id, role_value, permission)


def _decide(
    org: OrgRead, user_id: uuid.UUID, role_value: str, permission: Permission
) -> OrgContext:
    role = Role(role_value)
    if not role_allows(role, permission):
        raise Forbidden(f"the {role} role does not allow {permission}")
    return OrgContext(org=org, user_id=user_id, role=role)


OrgReader = Annotated[OrgContext, Depends(OrgGuard(Permission.ORG_READ))]
OrgManager = Annotated[OrgContext, Depends(OrgGuard(Permission.ORG_MANAGE))]
MembersManager = Annotated[OrgContext, Depends(OrgGuard(Permission.MEMBERS_MANAGE))]
RecordsReader = Annotated[OrgContext, Depends(OrgGuard(Permission.RECORDS_READ))]
RecordsWriter = Annotated[OrgContext, Depends(OrgGuard(Permission.RECORDS_WRITE))]
RecordsDeleter = Annotated[OrgContext, Depends(OrgGuard(Permission.RECORDS_DELETE))]
RecordsImporter = Annotated[OrgContext, Depends(OrgGuard(Permission.RECORDS_IMPORT))]
RecordsExporter = Annotated[OrgContext, Depends(OrgGuard(Permission.RECORDS_EXPORT))]
DashboardReader = Annotated[OrgContext, Depends(OrgGuard(Permission.DASHBOARD_READ))]
InsightsReader = Annotated[OrgContext, Depends(OrgGuard(Permission.INSIGHTS_READ))]
AuditReader = Annotated[OrgContext, Depends(OrgGuard(Permission.AUDIT_READ))]
AccountsReader = Annotated[OrgContext, Depends(OrgGuard(Permission.ACCOUNTS_READ))]
AccountsManager = Annotated[OrgContext, Depends(OrgGuard(Permission.ACCOUNTS_MANAGE))]
TransfersWriter = Annotated[OrgContext, Depends(OrgGuard(Permission.TRANSFERS_WRITE))]
TransfersDeleter = Annotated[OrgContext, Depends(OrgGuard(Permission.TRANSFERS_DELETE))]
AccountsReconciler = Annotated[OrgContext, Depends(OrgGuard(Permission.ACCOUNTS_RECONCILE))]
StatementsImporter = Annotated[OrgContext, Depends(OrgGuard(Permission.STATEMENTS_IMPORT))]
ImportSettingsManager = Annotated[OrgContext, Depends(OrgGuard(Permission.IMPORT_SETTINGS_MANAGE))]
