"""Password hashing with Argon2id (argon2-cffi's recommended parameters).

Hashing costs tens of milliseconds of CPU and 64 MiB of memory: it runs in worker threads (the
library releases the GIL), at most one per CPU at a time, so a burst of logins neither blocks the
event loop nor multiplies the memory.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(os.cpu_count() or 1)
        # Verified against when the email is unknown, so that answer takes as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (no such user) costs the same and is never a match."""
        async with self._slots:
            matched = await asyncio.to_thread(self._verify, password_hash or self._dummy_hash, password)
        return matched and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """The hash was made with other parameters than today's: re-hash it at the next login."""
        return self._hasher.check_needs_rehash(password_hash)
