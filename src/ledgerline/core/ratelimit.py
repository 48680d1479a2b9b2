"""Rate limits with the ``limits`` library: in memory by default, in Redis when configured
(with a per-process fallback while Redis is down: ``core/ratestorage.py``)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from ledgerline.core.config import Settings
from ledgerline.core.errors import TooManyRequests
from ledgerline.core.ratestorage import close_storage, rate_limit_storage, reset_storage


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
        return cls(rate_limit_storage(settings), settings)

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
        """Forget every count."""
        await reset_storage(self.storage)

    async def close(self) -> None:
        """Close the storage's connections (Redis) at shutdown."""
        close_storage(self.storage)
