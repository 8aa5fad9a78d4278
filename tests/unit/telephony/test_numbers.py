import pytest

from contact_center.telephony.numbers import (
    InvalidPhoneNumber,
    build_dial_string,
    dial_digits,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+7 913 123-45-67", "+79131234567"),
        ("8 (913) 123-45-67", "+79131234567"),
        ("89131234567", "+79131234567"),
        ("9131234567", "+79131234567"),
        ("8 (39144) 3-22-41", "+73914432241"),
        ("8-800-100-00-00", "+78001000000"),
    ],
)
def test_russian_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    ["", "12345", "abc", "+7 913 123-45-67;rm -rf", "79131234567@evil", "Local/1@x", "+7913\n1"],
)
def test_non_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


def test_only_digits_reach_the_dial_string() -> None:
    assert dial_digits("+79131234567") == "79131234567"
    assert build_dial_string("PJSIP/{number}@trunk", "79131234567") == "PJSIP/79131234567@trunk"
    for bad in ("7913&PJSIP/1", "79131234567,1", "", "7913123456x"):
        with pytest.raises(InvalidPhoneNumber):
            build_dial_string("Local/{number}@sim-customers", bad)
    with pytest.raises(InvalidPhoneNumber):
        dial_digits("+7913-123")
