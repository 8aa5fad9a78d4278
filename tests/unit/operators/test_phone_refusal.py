"""Which operator phones a login refuses, and the reason shown (Russian)."""

import pytest

from contact_center.operators.phones import phone_refusal


@pytest.mark.parametrize(
    ("interface", "state", "fragment"),
    [
        ("PJSIP/op102", "INVALID", "неизвестен Asterisk"),
        ("PJSIP/op101", "UNAVAILABLE", "не зарегистрирован"),
        ("SIP/op103", "INVALID", "chan_sip"),
        ("IAX2/op104", "NOT_INUSE", "канал IAX2"),
        ("Local/9@nowhere/n", "INVALID", "нет такого внутреннего номера"),
    ],
)
def test_unknown_unregistered_or_foreign_phones_are_refused(
    interface: str, state: str, fragment: str
) -> None:
    reason = phone_refusal(interface, state)
    assert reason is not None and fragment in reason and interface in reason


@pytest.mark.parametrize(
    ("interface", "state"),
    [
        ("PJSIP/op101", "NOT_INUSE"),
        ("PJSIP/op101", "INUSE"),
        ("pjsip/op101", "ringing"),
        ("Local/1@sim-operators/n", "NOT_INUSE"),
        ("PJSIP/op101", "UNKNOWN"),
    ],
)
def test_phones_asterisk_can_ring_are_accepted(interface: str, state: str) -> None:
    assert phone_refusal(interface, state) is None
