"""Identifiers: UUIDv7, so ids sort by creation time and keep B-tree inserts local."""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT_RFC_4122 = 0b10 << 62


def new_id() -> uuid.UUID:
    unix_ms = time.time_ns() // 1_000_000
    rand_a = int.from_bytes(os.urandom(2), "big") & 0xFFF
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_7 | rand_a << 64 | _VARIANT_RFC_4122
    return uuid.UUID(int=value | rand_b)
