"""Fixtures of the core tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiosqlite
import pytest


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each hand-off to aiosqlite's thread, by the name of what it ran there."""
    seen: list[str] = []
    handed_off = aiosqlite.Connection._execute

    async def counted(
        self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await handed_off(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen
