"""Argon2id password hashing (pwdlib) and the password policy of the API contract."""

from __future__ import annotations

import asyncio
import functools

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from ledgerline.core.text import fold_key

MIN_LENGTH = 10
MAX_LENGTH = 128


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of the zxcvbn project's leaked-password corpus."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """The first rule ``password`` breaks, as a message for the client, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    folded = fold_key(password)
    if folded in _common_passwords() or len(set(folded)) < 3:
        return "is too common; choose a less guessable password"
    if email is not None and folded in {fold_key(email), fold_key(email.split("@", 1)[0])}:
        return "must not be your email address"
    return None


class PasswordHasher:
    """Hashes off the event loop: Argon2id is deliberately slow and would stall other requests."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hash = PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))
        self._dummy_hash = self._hash.hash("ledgerline-timing-equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Check ``password``; with no stored hash, spend the same time and answer False."""
        target = password_hash if password_hash is not None else self._dummy_hash
        matches = await asyncio.to_thread(self._hash.verify, password, target)
        return matches and password_hash is not None
