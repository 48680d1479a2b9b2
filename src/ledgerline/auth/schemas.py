from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, EmailStr, Field

from ledgerline.auth.passwords import MAX_LENGTH, MIN_LENGTH
from ledgerline.core.schemas import Published, RequestModel, ResponseModel
from ledgerline.core.text import CleanText, PublishedNonBlankText


def _stripped_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Password = Annotated[str, Field(min_length=1, max_length=1024)]
NewPassword = Annotated[
    Password,
    Published(
        {
            "minLength": MIN_LENGTH,
            "maxLength": MAX_LENGTH,
            "description": f"{MIN_LENGTH}-{MAX_LENGTH} characters, not a common password, "
            "at least 3 distinct characters, not the email address",
        }
    ),
]
"""A password being set: its length rule is published; the service checks every rule."""
FullName = Annotated[
    CleanText,
    Field(min_length=1, max_length=200),
    AfterValidator(_stripped_not_blank),
    PublishedNonBlankText,
]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class RegisterRequest(RequestModel):
    email: Annotated[EmailStr, Field(max_length=320)]
    password: NewPassword
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
