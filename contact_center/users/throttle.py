"""The failed-login throttle as pure rules: a sliding window over the times of failures.

At most `limit` failures within any `window` per login and per address (both are kept: a
guesser trying one password on many logins is stopped by the address, a botnet trying
many passwords on one login by the login). The failures themselves live in the database
(`login_failures`) so every process serving the web agrees.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

FAILURE_LIMIT = 5
FAILURE_WINDOW = timedelta(minutes=1)
# kinds of throttle keys stored in login_failures.kind
BY_LOGIN = "login"
BY_ADDRESS = "address"
KEY_MAX = 64


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    limit: int = FAILURE_LIMIT
    window: timedelta = FAILURE_WINDOW

    def retry_at(self, failures: Iterable[datetime], now: datetime) -> datetime | None:
        """When the next attempt may be made, or None if it may be made now.

        Refused while `limit` failures lie within (now - window, now]; allowed again once
        the oldest of the last `limit` of them leaves the window."""
        recent = sorted(t for t in failures if now - self.window < t <= now)
        if len(recent) < self.limit:
            return None
        return recent[-self.limit] + self.window

    def horizon(self, now: datetime) -> datetime:
        """Failures before this instant no longer count (and may be deleted)."""
        return now - self.window


def retry_after_seconds(retry_at: datetime, now: datetime) -> int:
    """Whole seconds to wait, at least 1 (an HTTP Retry-After value)."""
    return max(1, math.ceil((retry_at - now).total_seconds()))


def address_key(address: str) -> str:
    """The throttle key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber
    usually holds a whole /64, so counting single v6 addresses would not count them)."""
    raw = address.strip()
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:KEY_MAX] or "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def login_key(raw_login: str) -> str:
    """The throttle key of a typed login, valid or not (an unknown login is throttled like
    a known one, so the throttle does not tell which exist). Hashed: people type their
    password into the login field, and that must not sit in the database."""
    key = raw_login.strip()
    if key.isascii():
        key = key.lower()
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
