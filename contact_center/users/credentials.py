"""Login names and the password policy (pure: no I/O)."""

from __future__ import annotations

import re

from contact_center.users.exceptions import InvalidLogin, WeakPassword

LOGIN_MIN, LOGIN_MAX = 3, 32
PASSWORD_MIN = 8
# Argon2 hashes any length, but a megabyte "password" is only a way to burn our CPU
PASSWORD_MAX = 256
_LOGIN = re.compile(rf"[a-z0-9._-]{{{LOGIN_MIN},{LOGIN_MAX}}}")


def normalize_login(raw: str) -> str:
    """The stored form of a login: trimmed, lower-case, 3-32 of `a-z 0-9 . _ -`.

    Only ASCII is case-folded: str.casefold maps the Kelvin sign to "k" and "ß" to "ss",
    which would let two different inputs name one account."""
    login = raw.strip()
    if login.isascii():
        login = login.lower()
    if not _LOGIN.fullmatch(login):
        raise InvalidLogin(
            f"логин «{raw.strip()[:40]}» не подходит: от {LOGIN_MIN} до {LOGIN_MAX} символов, "
            "только латинские буквы, цифры и знаки . _ -"
        )
    return login


def check_password(password: str, login: str | None = None) -> None:
    """Raise WeakPassword (Russian message) unless `password` meets the policy."""
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"пароль слишком короткий: нужно не меньше {PASSWORD_MIN} символов")
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"пароль слишком длинный: не больше {PASSWORD_MAX} символов")
    if password.strip() == "":
        raise WeakPassword("пароль не может состоять из одних пробелов")
    if any(ch in password for ch in "\r\n\x00"):
        raise WeakPassword("пароль не может содержать переводы строки и нулевой символ")
    if login is not None and password.strip().lower() == login.lower():
        raise WeakPassword("пароль не должен совпадать с логином")
