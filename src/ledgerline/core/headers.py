"""Request headers with rules of their own: ``If-Match`` versions, ``If-None-Match`` entity
tags and ``Idempotency-Key``; and the ``Location`` of a created resource."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic.json_schema import SkipJsonSchema

from ledgerline.core.errors import BadRequest

_ETAG = re.compile(r'(?:W/)?"(\d{1,18})"')
_IDEMPOTENCY_KEY_TEXT = r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?"
_IDEMPOTENCY_KEY = re.compile(_IDEMPOTENCY_KEY_TEXT)
"""Printable ASCII, inner spaces included (HTTP trims the ends of a header value)."""
_PUBLISHED_ETAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
IF_MATCH_PATTERN = r'^[ \t]*(?:\*|(?:W/)?"[0-9]{1,18}")[ \t]*$'
IF_NONE_MATCH_PATTERN = (
    rf"^[ \t]*(?:\*|{_PUBLISHED_ETAG}(?:[ \t]*,[ \t]*{_PUBLISHED_ETAG})*)[ \t]*$"
)
IDEMPOTENCY_KEY_PATTERN = rf"^{_IDEMPOTENCY_KEY_TEXT}$"


def etag(version: int) -> str:
    return f'"{version}"'


def created_location(request: Request, created_id: uuid.UUID) -> str:
    """The ``Location`` of what a ``POST`` to a collection created: the collection's path and
    the new id. The path as the request's scope holds it: for a collection's route, what
    ``request.url.path`` gives without building and parsing the whole URL (about 10 us a
    create); ``request.url_for`` would walk every route."""
    return f"{request.scope['path'].rstrip('/')}/{created_id}"


async def if_match_version(
    if_match: Annotated[
        str | SkipJsonSchema[None],
        Header(
            description='`"<version>"` from the ETag; stale answers 412',
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
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
        str | SkipJsonSchema[None],
        Header(
            alias="Idempotency-Key",
            description="1-255 printable characters; a retry with the same key and body "
            "returns the original answer for 24 hours",
            json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},
        ),
    ] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1-255 printable ASCII characters")
    return key


_ENTITY_TAG = r'(?:W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
_ENTITY_TAG_LIST = re.compile(rf"{_ENTITY_TAG}(?:[ \t]*,[ \t]*{_ENTITY_TAG})*")


@dataclass(frozen=True, slots=True)
class EntityTags:
    """The tags of an ``If-None-Match`` header (``any_tag`` for ``*``), compared weakly as
    RFC 9110 13.1.2 asks: ``W/"3"`` matches ``"3"``."""

    opaque: frozenset[str] = frozenset()
    any_tag: bool = False

    def match(self, current: str) -> bool:
        return self.any_tag or current.removeprefix("W/").strip('"') in self.opaque


async def if_none_match_tags(
    if_none_match: Annotated[
        str | SkipJsonSchema[None],
        Header(
            description='`"<version>"` from the ETag (or a list, or `*`); current answers 304',
            json_schema_extra={"pattern": IF_NONE_MATCH_PATTERN},
        ),
    ] = None,
) -> EntityTags:
    if if_none_match is None:
        return EntityTags()
    value = if_none_match.strip()
    if value == "*":
        return EntityTags(any_tag=True)
    if not _ENTITY_TAG_LIST.fullmatch(value):
        raise BadRequest('If-None-Match must list ETags such as "3", or be *')
    return EntityTags(opaque=frozenset(re.findall(_ENTITY_TAG, value)))


IfMatch = Annotated[int | None, Depends(if_match_version)]
IfNoneMatch = Annotated[EntityTags, Depends(if_none_match_tags)]
IdempotencyKeyHeader = Annotated[str | None, Depends(idempotency_key)]
