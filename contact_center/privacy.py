"""Masks for personal data in logs (standard Ch.2 §1 p.5: it only serves the customer)."""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """Keep the last two digits: '+79131234567' -> '+7*******67'."""
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    if len(digits) <= 4:
        return "*" * len(number)
    keep = set(digits[:1] + digits[-2:])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(number))


def mask_email(address: str) -> str:
    """'ivanov@example.ru' -> 'i***@example.ru'."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_name(name: str) -> str:
    """'Иванов Иван Иванович' -> 'И. И. И.'."""
    return " ".join(f"{part[0]}." for part in name.split() if part) or "***"
