"""Session tokens, CSRF tokens, lifetimes and the audit masks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contact_center.settings import SettingsError, load_settings
from contact_center.users.masking import mask_details
from contact_center.users.tokens import (
    SessionPolicy,
    csrf_matches,
    csrf_token_for,
    new_session_token,
    token_hash,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    a, b = new_session_token(), new_session_token()
    assert a != b and len(a) >= 43
    assert token_hash(a) != a and len(token_hash(a)) == 64
    assert token_hash(a) == token_hash(a)


def test_each_session_has_its_own_csrf_token_and_a_wrong_one_fails() -> None:
    a, b = new_session_token(), new_session_token()
    assert csrf_token_for(a) != csrf_token_for(b)
    assert csrf_token_for(a) != a
    assert csrf_matches(csrf_token_for(a), csrf_token_for(a))
    assert not csrf_matches(csrf_token_for(a), csrf_token_for(b))
    assert not csrf_matches(csrf_token_for(a), None)
    assert not csrf_matches(csrf_token_for(a), "")


def test_a_session_ends_after_30_idle_minutes_or_12_hours() -> None:
    policy = SessionPolicy()
    assert not policy.expired(T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=30))
    assert policy.expired(T0, T0, T0 + timedelta(minutes=30))
    busy_until = T0 + timedelta(hours=11, minutes=59)
    assert not policy.expired(T0, busy_until, T0 + timedelta(hours=11, minutes=59, seconds=59))
    assert policy.expired(T0, busy_until, T0 + timedelta(hours=12))
    assert policy.expires_at(T0, busy_until) == T0 + timedelta(hours=12)


def test_last_seen_is_written_at_most_once_a_minute() -> None:
    policy = SessionPolicy()
    assert not policy.needs_touch(T0, T0 + timedelta(seconds=59))
    assert policy.needs_touch(T0, T0 + timedelta(seconds=60))


def test_the_lifetimes_come_from_the_settings() -> None:
    settings = load_settings({"CC_WEB_SESSION_IDLE_MIN": "5", "CC_WEB_SESSION_MAX_H": "1.5"})
    policy = SessionPolicy.from_settings(settings)
    assert policy.idle == timedelta(minutes=5)
    assert policy.max_age == timedelta(minutes=90)


def test_audit_details_keep_no_secret_and_no_personal_data() -> None:
    details = mask_details(
        {
            "Password": "hunter2hunter2",
            "new_password": "x",
            "phone": "+79131234567",
            "emails": ["ivanov@example.ru"],
            "customer_name": "Иванов Иван Иванович",
            "note": "звонил 8 (913) 123-45-67, писал petrov@mail.ru",
            "name": "Долги декабрь",
            "appeal": "2026-000123-ФЛ",
            "when": "2026-12-03 10:00",
            "account": "240002",
            "nested": {"phones": ["+7 913 765-43-21"], "count": 3, "ok": True},
        }
    )
    text = repr(details)
    for leaked in ("hunter2", "1234567", "ivanov@", "Иван", "123-45-67", "petrov@", "765-43"):
        assert leaked not in text
    assert details["Password"] == "***" and details["new_password"] == "***"
    assert details["phone"] == "+7********67"
    assert details["customer_name"] == "И. И. И."
    # what an audit is about stays readable
    assert details["name"] == "Долги декабрь"
    assert details["appeal"] == "2026-000123-ФЛ"
    assert details["when"] == "2026-12-03 10:00"
    assert details["account"] == "240002"
    assert details["nested"]["count"] == 3 and details["nested"]["ok"] is True


def test_an_idle_limit_longer_than_the_lifetime_is_refused() -> None:
    with pytest.raises(SettingsError, match="CC_WEB_SESSION_IDLE_MIN"):
        load_settings({"CC_WEB_SESSION_IDLE_MIN": "120", "CC_WEB_SESSION_MAX_H": "1"})
    with pytest.raises(SettingsError, match="CC_WEB_SESSION_IDLE_MIN"):
        load_settings({"CC_WEB_SESSION_IDLE_MIN": "0"})
