"""Phone numbers: normalising what people type, and the only road from a number to a dial string."""

from __future__ import annotations

import re

import phonenumbers

_DIGITS = re.compile(r"\d{5,15}")


class InvalidPhoneNumber(ValueError):
    """A phone number that is not one; the message is Russian, shown to the person who typed it."""


def normalize_phone(raw: str, region: str = "RU") -> str:
    """Return E.164 ('+79131234567') or raise InvalidPhoneNumber with a reason."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("пустой номер телефона")
    if len(text) > 32 or re.search(r"[^\d\s()+\-.]", text):
        raise InvalidPhoneNumber(f"недопустимые символы в номере «{text[:32]}»")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"не номер телефона: «{text}»") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"несуществующий номер телефона: «{text}»")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def dial_digits(e164: str) -> str:
    """Digits of a normalised number, the only form allowed into a dial string."""
    digits = e164[1:] if e164.startswith("+") else e164
    if not _DIGITS.fullmatch(digits):
        raise InvalidPhoneNumber(f"номер для набора должен состоять из цифр: «{e164[:20]}»")
    return digits


def build_dial_string(template: str, number: str) -> str:
    """Fill the dial-string template; `number` must already be digits (see dial_digits)."""
    if not _DIGITS.fullmatch(number):
        raise InvalidPhoneNumber("в строку набора попадают только цифры")
    return template.replace("{number}", number)
