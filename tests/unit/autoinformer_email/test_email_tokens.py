"""Signed unsubscribe tokens: what was signed comes back; anything else is refused."""

from __future__ import annotations

from typing import Required, TypedDict

import pytest

from autoinformer.email import (
    UnsubscribeRequest,
    UnsubscribeTokenError,
    make_unsubscribe_token,
    verify_unsubscribe_token,
)
from autoinformer.email.mime import unsubscribe_url

SECRET = "correct horse battery staple"


class TokenArgs(TypedDict, total=False):
    secret: Required[str]
    kind: Required[str]
    contact_id: int
    address: str


def test_a_contact_token_verifies_back_to_the_contact_and_kind() -> None:
    token = make_unsubscribe_token(secret=SECRET, kind="debt", contact_id=12345)
    assert verify_unsubscribe_token(token, secret=SECRET) == UnsubscribeRequest(
        kind="debt", contact_id=12345
    )


def test_an_address_token_verifies_back_to_the_lower_cased_address() -> None:
    token = make_unsubscribe_token(secret=SECRET, kind="outage", address=" Ivanov@Example.RU ")
    assert verify_unsubscribe_token(token, secret=SECRET) == UnsubscribeRequest(
        kind="outage", address="ivanov@example.ru"
    )


def test_tokens_are_url_safe_and_stable() -> None:
    token = make_unsubscribe_token(secret=SECRET, kind="debt", contact_id=1)
    assert token == make_unsubscribe_token(secret=SECRET, kind="debt", contact_id=1)
    assert token.startswith("v1.")
    assert all(ch.isalnum() or ch in "-_." for ch in token)


def test_the_kind_is_part_of_what_is_signed() -> None:
    debt = make_unsubscribe_token(secret=SECRET, kind="debt", contact_id=1)
    outage = make_unsubscribe_token(secret=SECRET, kind="outage", contact_id=1)
    assert debt != outage
    _, debt_payload, _ = debt.split(".")
    _, _, outage_mac = outage.split(".")
    with pytest.raises(UnsubscribeTokenError, match="не подписана"):
        verify_unsubscribe_token(f"v1.{debt_payload}.{outage_mac}", secret=SECRET)


def tampered_payload() -> str:
    token = make_unsubscribe_token(secret=SECRET, kind="debt", contact_id=1)
    other = make_unsubscribe_token(secret=SECRET, kind="debt", contact_id=2)
    return ".".join([token.split(".")[0], other.split(".")[1], token.split(".")[2]])


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1..",
        "v2.Yzox.AAAA",
        "v1.Yzox.AAAA",
        "v1.!!!.???",
        tampered_payload(),
        "v1." + "A" * 2000,
    ],
)
def test_malformed_or_forged_tokens_are_refused(token: str) -> None:
    with pytest.raises(UnsubscribeTokenError):
        verify_unsubscribe_token(token, secret=SECRET)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = make_unsubscribe_token(secret="other", kind="debt", contact_id=1)
    with pytest.raises(UnsubscribeTokenError, match="не подписана"):
        verify_unsubscribe_token(token, secret=SECRET)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"secret": "", "kind": "debt", "contact_id": 1}, "CC_UNSUBSCRIBE_SECRET"),
        ({"secret": SECRET, "kind": "Debt Notice", "contact_id": 1}, "вид уведомления"),
        ({"secret": SECRET, "kind": "debt"}, "ровно один"),
        ({"secret": SECRET, "kind": "debt", "contact_id": 1, "address": "a@b.ru"}, "ровно один"),
        ({"secret": SECRET, "kind": "debt", "contact_id": -1}, "номер контакта"),
        ({"secret": SECRET, "kind": "debt", "contact_id": True}, "номер контакта"),
    ],
)
def test_tokens_are_only_made_for_one_contact_and_a_known_kind_shape(
    kwargs: TokenArgs, fragment: str
) -> None:
    with pytest.raises(UnsubscribeTokenError, match=fragment):
        make_unsubscribe_token(**kwargs)


def test_verification_without_a_secret_is_refused() -> None:
    with pytest.raises(UnsubscribeTokenError, match="CC_UNSUBSCRIBE_SECRET"):
        verify_unsubscribe_token("v1.a.b", secret="")


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8080/unsubscribe", "http://127.0.0.1:8080/unsubscribe?token=v1.x.y"),
        ("https://lk.example.ru/u?lang=ru", "https://lk.example.ru/u?lang=ru&token=v1.x.y"),
    ],
)
def test_the_link_carries_the_token_as_a_query_parameter(base: str, expected: str) -> None:
    assert unsubscribe_url(base, "v1.x.y") == expected
