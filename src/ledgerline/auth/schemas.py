from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, EmailStr, Field

from ledgerline.core.schemas import RequestModel, ResponseModel
from ledgerline.core.text import CleanText


def _stripped_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Password = Annotated[str, Field(min_length=1, max_length=1024)]
FullName = Annotated[
    CleanText, Field(min_length=1, max_length=200), AfterValidator(_stripped_not_blank)
]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class RegisterRequest(RequestModel):
    email: Annotated[EmailStr, Field(max_length=320)]
    password: Password
    full_name: FullName


class LoginRequest(RequestModel):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Password


class RefreshRequest(RequestModel):
    refresh_token: OpaqueToken


class TokenPair(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the access token expires")
