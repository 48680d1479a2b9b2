"""Rate limits with the ``limits`` library: in memory by default, in Redis when configured."""

from __future__ import annotations

import asyncio
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from ledgerline.core.config import Settings
from ledgerline.core.errors import TooManyRequests


class Limit:
    """One configured limit (``5/15minutes``; ``0`` switches it off) under a namespace."""

    def __init__(self, namespace: str, notation: str) -> None:
        self.namespace = namespace
        self.items: list[RateLimitItem] = [] if notation == "0" else parse_many(notation)

    @property
    def enabled(self) -> bool:
        return bool(self.items)


class RateLimiter:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.login_failures_per_email_and_address = Limit(
            "login-email-address", settings.login_failures_per_email_and_address
        )
        self.login_failures_per_email = Limit("login-email", settings.login_failures_per_email)
        self.login_failures_per_address = Limit(
            "login-address", settings.login_failures_per_address
        )
        self.registrations_per_address = Limit(
            "register-address", settings.registrations_per_address
        )
        self.requests_per_user = Limit("user-requests", settings.requests_per_user)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        uri = settings.redis_url or "memory://"
        if not uri.startswith("async+"):
            uri = f"async+{uri}"
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage)
        return cls(storage, settings)

    async def ensure_not_exhausted(self, limit: Limit, key: str, message: str) -> None:
        """Answer 429 if ``key`` has already used up ``limit``, without counting this call."""
        for item in limit.items:
            if not await self.strategy.test(item, limit.namespace, key):
                raise TooManyRequests(
                    message, retry_after=await self._retry_after(item, limit, key)
                )

    async def hit(self, limit: Limit, key: str, message: str) -> None:
        """Count one event for ``key``; answer 429 when that goes over ``limit``."""
        for item in limit.items:
            if not await self.strategy.hit(item, limit.namespace, key):
                raise TooManyRequests(
                    message, retry_after=await self._retry_after(item, limit, key)
                )

    async def count(self, limit: Limit, key: str) -> None:
        """Count one event without refusing anything (failed logins: refused on the next try)."""
        for item in limit.items:
            await self.strategy.hit(item, limit.namespace, key)

    async def _retry_after(self, item: RateLimitItem, limit: Limit, key: str) -> int:
        stats = await self.strategy.get_window_stats(item, limit.namespace, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        """Forget every count. The memory storage's background expiry pass, if one is running,
        is cancelled first: it reads the keys it listed before the reset and would fail on the
        ones the reset removed (a KeyError logged as "Task exception was never retrieved")."""
        expiry = getattr(self.storage, "timer", None)
        if isinstance(expiry, asyncio.Task) and not expiry.done():
            expiry.cancel()
            await asyncio.wait([expiry])
        await self.storage.reset()

    async def close(self) -> None:
        """Close the storage's connections (Redis) at shutdown; ``limits`` has no call for it."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
