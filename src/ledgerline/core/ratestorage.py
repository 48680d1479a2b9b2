"""Where rate limits count: in memory, or in Redis with a per-process fallback.

A Redis outage must never fail or hold up a request (spec/api.md, "Operations"). Every call to
Redis gets ``redis_timeout`` seconds; when one fails, the limits count in this process's memory
(the same limits, per process) and Redis is tried again after ``RETRY_INTERVAL`` seconds, or at
once when ``/readyz`` finds it answering, and counting is shared again from then on. The counts
are not carried across a switch: each side keeps its own.

The fallback is a storage, below the strategy, so the limits and their checks know nothing of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from limits.aio.storage import (
    MemoryStorage,
    MovingWindowSupport,
    SlidingWindowCounterSupport,
    Storage,
)
from limits.storage import storage_from_string

from ledgerline.core.config import Settings

RETRY_INTERVAL = 5.0
"""Seconds between tries of a Redis found down, while requests count in memory."""
WARNING_INTERVAL = 60.0
"""At most one warning a minute while Redis stays down."""

SharedState = Literal["ok", "down", "off"]
Result = TypeVar("Result")
log = logging.getLogger("ledgerline.ratelimit")


class FallbackStorage(Storage, MovingWindowSupport, SlidingWindowCounterSupport):
    """Delegates to ``shared`` (Redis) within ``timeout``, to ``local`` (memory) when it fails."""

    STORAGE_SCHEME = None

    def __init__(
        self,
        shared: Storage,
        local: MemoryStorage,
        *,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.shared = shared
        self.local = local
        self.timeout = timeout
        self._clock = clock
        self._down_since: float | None = None
        self._warned_at: float | None = None

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()

    @property
    def shared_is_up(self) -> bool:
        return self._down_since is None

    async def probe(self) -> bool:
        """Ask Redis whether it answers now; what it says decides where the next calls go."""
        try:
            async with asyncio.timeout(self.timeout):
                answers = await self.shared.check()
        except Exception as exc:  # any failure of Redis is the fallback's business
            self._went_down(exc)
            return False
        if not answers:
            self._went_down(None)
            return False
        self._came_back()
        return True

    async def _call(
        self, shared: Callable[[], Awaitable[Result]], local: Callable[[], Awaitable[Result]]
    ) -> Result:
        if self._shared_worth_trying():
            try:
                async with asyncio.timeout(self.timeout):
                    result = await shared()
            except Exception as exc:  # any failure of Redis is the fallback's business
                self._went_down(exc)
            else:
                self._came_back()
                return result
        return await local()

    def _shared_worth_trying(self) -> bool:
        return self._down_since is None or self._clock() - self._down_since >= RETRY_INTERVAL

    def _went_down(self, error: BaseException | None) -> None:
        now = self._clock()
        self._down_since = now
        if self._warned_at is None or now - self._warned_at >= WARNING_INTERVAL:
            self._warned_at = now
            log.warning(
                "Redis is not answering; rate limits count in each process until it is back",
                extra={"error": type(error).__name__ if error else "no answer to PING"},
            )

    def _came_back(self) -> None:
        if self._down_since is not None:
            self._down_since = None
            log.info("Redis answers again; rate limits are shared between processes again")

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._call(
            lambda: self.shared.incr(key, expiry, amount),
            lambda: self.local.incr(key, expiry, amount),
        )

    async def get(self, key: str) -> int:
        return await self._call(lambda: self.shared.get(key), lambda: self.local.get(key))

    async def get_expiry(self, key: str) -> float:
        return await self._call(
            lambda: self.shared.get_expiry(key), lambda: self.local.get_expiry(key)
        )

    async def check(self) -> bool:
        return await self.probe()

    async def reset(self) -> int | None:
        await reset_storage(self.local)
        return await self._call(self.shared.reset, _nothing)

    async def clear(self, key: str) -> None:
        await self.local.clear(key)
        await self._call(lambda: self.shared.clear(key), _nothing)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await self._call(
            lambda: _moving(self.shared).acquire_entry(key, limit, expiry, amount),
            lambda: self.local.acquire_entry(key, limit, expiry, amount),
        )

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return await self._call(
            lambda: _moving(self.shared).get_moving_window(key, limit, expiry),
            lambda: self.local.get_moving_window(key, limit, expiry),
        )

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        return await self._call(
            lambda: _sliding(self.shared).acquire_sliding_window_entry(key, limit, expiry, amount),
            lambda: self.local.acquire_sliding_window_entry(key, limit, expiry, amount),
        )

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return await self._call(
            lambda: _sliding(self.shared).get_sliding_window(key, expiry),
            lambda: self.local.get_sliding_window(key, expiry),
        )

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        await self.local.clear_sliding_window(key, expiry)
        await self._call(lambda: _sliding(self.shared).clear_sliding_window(key, expiry), _nothing)


async def _nothing() -> None:
    return None


def _moving(storage: Storage) -> MovingWindowSupport:
    assert isinstance(storage, MovingWindowSupport)
    return storage


def _sliding(storage: Storage) -> SlidingWindowCounterSupport:
    assert isinstance(storage, SlidingWindowCounterSupport)
    return storage


def rate_limit_storage(settings: Settings) -> Storage:
    """Memory, or Redis (each call within ``redis_timeout``) with memory as its fallback."""
    if settings.redis_url is None:
        return MemoryStorage()
    uri = settings.redis_url
    if not uri.startswith("async+"):
        uri = f"async+{uri}"
    timeout = settings.redis_timeout
    redis = storage_from_string(uri, connect_timeout=timeout, stream_timeout=timeout)
    assert isinstance(redis, Storage)
    return FallbackStorage(redis, MemoryStorage(), timeout=timeout)


async def shared_state(storage: Storage) -> SharedState:
    """``off`` without Redis; else whether Redis answers now."""
    if not isinstance(storage, FallbackStorage):
        return "off"
    return "ok" if await storage.probe() else "down"


async def reset_storage(storage: Storage) -> None:
    """Forget every count. The memory storage's background expiry pass, if one is running,
    is cancelled first: it reads the keys it listed before the reset and would fail on the
    ones the reset removed (a KeyError logged as "Task exception was never retrieved")."""
    if isinstance(storage, FallbackStorage):
        await storage.reset()
        return
    expiry = getattr(storage, "timer", None)
    if isinstance(expiry, asyncio.Task) and not expiry.done():
        expiry.cancel()
        await asyncio.wait([expiry])
    await storage.reset()


def close_storage(storage: Storage) -> None:
    """Close Redis connections at shutdown; ``limits`` has no call for it."""
    shared = storage.shared if isinstance(storage, FallbackStorage) else storage
    client: Any = getattr(getattr(shared, "bridge", None), "storage", None)
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        pool.disconnect()
