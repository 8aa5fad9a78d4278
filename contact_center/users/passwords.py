"""Argon2id password hashing, off the event loop.

One hash costs ~50 ms of CPU and 64 MiB (argon2-cffi's RFC 9106 low-memory profile), so it
runs in a worker thread, and at most `concurrency` at a time: a burst of logins queues
instead of taking every core and a gigabyte of memory from the call flows.
"""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, *, concurrency: int = 0) -> None:
        self.hasher = hasher or PasswordHasher()
        self._limit = asyncio.Semaphore(concurrency or max(1, min(4, os.cpu_count() or 1)))
        # verified when the login is unknown, so a wrong login costs what a wrong password
        # does and response times do not tell which logins exist
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._limit:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; a missing or malformed hash never matches."""
        if stored_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash("not a password of anyone")
            async with self._limit:
                await asyncio.to_thread(self._verify, self._dummy, password)
            return False
        async with self._limit:
            return await asyncio.to_thread(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """The hash was made with other parameters than ours (they were raised since)."""
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
