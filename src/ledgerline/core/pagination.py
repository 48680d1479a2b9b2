"""Keyset cursors: opaque, and bound to the query they came from.

A cursor holds the sort key of the last row served and a fingerprint of the org, filters and
sort it was made for. Reusing it with another query answers 400 instead of silently skipping
or repeating rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Any, Final

import orjson

from ledgerline.core.errors import BadRequest

MAX_BIGINT: Final = 2**63 - 1
"""Largest integer a cursor may carry for a BIGINT sort key; beyond it the driver would fail."""


def query_fingerprint(parts: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str))
    return digest.hexdigest()[:24]


def encode_cursor(position: list[Any], fingerprint: str) -> str:
    payload = orjson.dumps({"p": position, "f": fingerprint}, default=str)
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, *, length: int) -> list[Any]:
    """The position in ``cursor``; 400 when malformed or made for another query."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise BadRequest("cursor is malformed") from exc
    if not isinstance(payload, dict):
        raise BadRequest("cursor is malformed")
    position = payload.get("p")
    if not isinstance(position, list) or len(position) != length:
        raise BadRequest("cursor is malformed")
    if payload.get("f") != fingerprint:
        raise BadRequest("cursor belongs to another query (org, filters or sort differ)")
    return position


def aware_datetime(raw: Any) -> dt.datetime:
    """A cursor's timestamp, in UTC; naive ones are refused (the database layer would reject
    them), and so are those whose UTC time falls outside Python's calendar (a forged
    ``0001-01-01T00:00:00+14:00``), which the database layer would fail to convert."""
    value = dt.datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("timestamp outside the calendar") from exc
