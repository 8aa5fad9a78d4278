"""Login names and the password policy."""

from __future__ import annotations

import pytest

from contact_center.users.credentials import check_password, normalize_login
from contact_center.users.exceptions import InvalidLogin, WeakPassword


@pytest.mark.parametrize(
    ("raw", "login"),
    [("ivanov", "ivanov"), ("  Ivanov.A ", "ivanov.a"), ("op_101", "op_101"), ("a-b", "a-b")],
)
def test_a_valid_login_is_trimmed_and_lower_cased(raw: str, login: str) -> None:
    assert normalize_login(raw) == login


@pytest.mark.parametrize(
    "raw",
    [
        "ab",  # too short
        "a" * 33,  # too long
        "иванов",  # not Latin
        "ivan ov",
        "ivan@ov",
        "",
        "\u212aelvin",  # the Kelvin sign folds to "k": it must not alias "kelvin"
    ],
)
def test_a_bad_login_is_refused_with_the_rule_in_russian(raw: str) -> None:
    with pytest.raises(InvalidLogin, match="от 3 до 32 символов, только латинские буквы"):
        normalize_login(raw)


def test_32_characters_are_enough_and_3_are_the_minimum() -> None:
    assert normalize_login("a" * 32) == "a" * 32
    assert normalize_login("abc") == "abc"


def test_a_password_of_8_characters_passes() -> None:
    check_password("12345678")
    check_password("пароль12")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("1234567", "пароль слишком короткий: нужно не меньше 8 символов"),
        ("x" * 257, "слишком длинный"),
        (" " * 10, "из одних пробелов"),
        ("abcd\nefgh", "переводы строки"),
    ],
)
def test_a_weak_password_is_refused_saying_why(password: str, message: str) -> None:
    with pytest.raises(WeakPassword, match=message) as exc:
        check_password(password)
    assert exc.value.field == "password"


def test_the_login_itself_is_no_password() -> None:
    with pytest.raises(WeakPassword, match="не должен совпадать с логином"):
        check_password("Ivanov.a1", "ivanov.a1")
