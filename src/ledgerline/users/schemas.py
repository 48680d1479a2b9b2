from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from ledgerline.auth.schemas import FullName, NewPassword, Password
from ledgerline.core.schemas import RequestModel, ResponseModel
from ledgerline.orgs.permissions import Role


class UserRead(ResponseModel):
    id: uuid.UUID
    email: str
    full_name: str
    created_at: dt.datetime


class MembershipSummary(ResponseModel):
    org_id: uuid.UUID
    org_name: str
    role: Role
    is_active: bool


class MeRead(UserRead):
    memberships: list[MembershipSummary]


class MeUpdate(RequestModel):
    full_name: FullName | None = None
    password: NewPassword | None = None
    current_password: Password = Field(description="required for any change")
