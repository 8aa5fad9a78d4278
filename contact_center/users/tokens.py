"""Session tokens, their stored hashes, CSRF tokens and session lifetimes (pure: no I/O).

The cookie carries a random token; the database keeps only its SHA-256, so a copy of the
database opens no session. The CSRF token is derived from the session token (HMAC), so it
needs no column and a copy of the database does not give it either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from contact_center.settings import Settings

TOKEN_BYTES = 32
# resolve() writes last_seen_at at most this often, so browsing does not write on every request
TOUCH_EVERY = timedelta(seconds=60)


def new_session_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token_for(token: str) -> str:
    mac = hmac.new(token.encode("utf-8"), b"contact-center csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def csrf_matches(expected: str, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """A session ends after `idle` without requests or `max_age` after login, whichever
    comes first."""

    idle: timedelta = timedelta(minutes=30)
    max_age: timedelta = timedelta(hours=12)
    touch_every: timedelta = TOUCH_EVERY

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(minutes=settings.web_session_idle_min),
            max_age=timedelta(hours=settings.web_session_max_h),
        )

    def expires_at(self, created_at: datetime, last_seen_at: datetime) -> datetime:
        return min(last_seen_at + self.idle, created_at + self.max_age)

    def expired(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now >= self.expires_at(created_at, last_seen_at)

    def needs_touch(self, last_seen_at: datetime, now: datetime) -> bool:
        return now - last_seen_at >= self.touch_every
