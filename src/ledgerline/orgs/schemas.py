from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import EmailStr, Field, StrictBool, field_validator

from ledgerline.core.money import PublishedCurrency, normalize_currency
from ledgerline.core.schemas import RequestModel, ResponseModel
from ledgerline.core.text import CleanText, PublishedNonBlankText
from ledgerline.orgs.permissions import Role

OrgName = Annotated[CleanText, Field(min_length=1, max_length=200), PublishedNonBlankText]


class OrgCreate(RequestModel):
    name: OrgName
    currency: Annotated[str, PublishedCurrency] = Field(
        default="USD", description="ISO 4217 default currency of its records"
    )

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return normalize_currency(value)


class OrgUpdate(RequestModel):
    name: OrgName

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class OrgRead(ResponseModel):
    id: uuid.UUID
    name: str
    currency: str
    created_at: dt.datetime


class OrgWithRole(OrgRead):
    role: Role


class MemberAdd(RequestModel):
    email: Annotated[EmailStr, Field(max_length=320)]
    role: Role


class MemberUpdate(RequestModel):
    role: Role | None = None
    is_active: StrictBool | None = Field(
        default=None, description="true or false; 0, 1 or a string is refused"
    )


class MemberRead(ResponseModel):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    joined_at: dt.datetime
