"""What an audit entry may keep of the details it is given (pure: no I/O).

Secrets are dropped whatever their key's case; phone numbers, e-mail addresses and names
are masked by key, and phone- or e-mail-looking strings anywhere else are masked too, so a
caller that forgets does not put personal data into a log kept for years.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contact_center.privacy import mask_email, mask_name, mask_phone

SECRET_KEYS = frozenset(
    {"password", "password_hash", "new_password", "secret", "token", "csrf", "session", "cookie"}
)
PHONE_KEYS = frozenset({"phone", "phones", "caller_number", "msisdn"})
EMAIL_KEYS = frozenset({"email", "emails", "e_mail", "address_email"})
# not "name": campaigns and scenarios have names, and those are what an audit is about
NAME_KEYS = frozenset({"full_name", "fio", "customer_name"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# "+<digits>" in any grouping, or a Russian 8/7 number as people write it; not dates,
# amounts, account or appeal numbers ("2026-000123-ФЛ")
_PHONE = re.compile(
    r"\+\d[\d\s()\-]{8,18}\d"
    r"|(?<![\d\-])[78][\s(\-]*\d{3}[\s)\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?![\d\-])"
)
_MAX_DEPTH = 6


def mask_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    if not details:
        return {}
    return {str(k): _mask(str(k), v, 0) for k, v in details.items()}


def _mask(key: str, value: Any, depth: int) -> Any:
    k = key.lower()
    if k in SECRET_KEYS or "password" in k or "secret" in k:
        return "***"
    if depth > _MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        return {str(sk): _mask(str(sk), sv, depth + 1) for sk, sv in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(key, item, depth + 1) for item in value]
    if isinstance(value, str):
        if k in PHONE_KEYS:
            return mask_phone(value)
        if k in EMAIL_KEYS:
            return mask_email(value)
        if k in NAME_KEYS:
            return mask_name(value)
        return _mask_free_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _mask_free_text(str(value))


def _mask_free_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(_phone_or_keep, text)


def _phone_or_keep(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = sum(ch.isdigit() for ch in raw)
    return mask_phone(raw) if 11 <= digits <= 15 else raw
