"""Request headers with rules of their own: ``If-Match`` versions and ``Idempotency-Key``."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from ledgerline.core.errors import BadRequest

_ETAG = re.compile(r'(?:W/)?"(\d{1,18})"')
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?")
"""Printable ASCII, inner spaces included (HTTP trims the ends of a header value)."""


def etag(version: int) -> str:
    return f'"{version}"'


async def if_match_version(
    if_match: Annotated[
        str | None, Header(description='`"<version>"` from the ETag; stale answers 412')
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.fullmatch(if_match.strip())
    if match is None:
        raise BadRequest('If-Match must be an ETag such as "3"')
    return int(match.group(1))


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1-255 printable characters; a retry with the same key and body "
            "returns the original answer for 24 hours",
        ),
    ] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters")
    return key


IfMatch = Annotated[int | None, Depends(if_match_version)]
IdempotencyKeyHeader = Annotated[str | None, Depends(idempotency_key)]
