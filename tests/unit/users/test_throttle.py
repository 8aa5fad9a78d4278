"""The failed-login window: 5 failures within a minute refuse the next attempt until the
oldest of them is a minute old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contact_center.users.throttle import (
    ThrottlePolicy,
    address_key,
    login_key,
    retry_after_seconds,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _ago(*seconds: float) -> list[datetime]:
    return [NOW - timedelta(seconds=s) for s in seconds]


def test_four_failures_in_a_minute_still_allow_an_attempt() -> None:
    assert ThrottlePolicy().retry_at(_ago(1, 2, 3, 4), NOW) is None


def test_the_fifth_failure_refuses_until_the_oldest_leaves_the_window() -> None:
    retry_at = ThrottlePolicy().retry_at(_ago(50, 40, 30, 20, 10), NOW)
    assert retry_at == NOW + timedelta(seconds=10)
    assert retry_after_seconds(retry_at, NOW) == 10


def test_with_more_than_five_failures_the_wait_follows_the_fifth_newest() -> None:
    retry_at = ThrottlePolicy().retry_at(_ago(59, 55, 40, 30, 20, 10), NOW)
    # dropping the 59 s one still leaves five: the 55 s one must leave too
    assert retry_at == NOW + timedelta(seconds=5)


def test_failures_older_than_a_minute_do_not_count() -> None:
    assert ThrottlePolicy().retry_at(_ago(60, 61, 120, 3, 2), NOW) is None


def test_a_minute_after_the_refusal_the_attempt_is_allowed() -> None:
    failures = _ago(5, 4, 3, 2, 1)
    policy = ThrottlePolicy()
    retry_at = policy.retry_at(failures, NOW)
    assert retry_at is not None
    assert policy.retry_at(failures, retry_at) is None
    assert policy.retry_at(failures, retry_at - timedelta(milliseconds=1)) is not None


def test_retry_after_is_at_least_one_second() -> None:
    assert retry_after_seconds(NOW + timedelta(milliseconds=10), NOW) == 1


def test_limits_are_parameters() -> None:
    policy = ThrottlePolicy(limit=2, window=timedelta(seconds=10))
    assert policy.retry_at(_ago(9, 1), NOW) == NOW + timedelta(seconds=1)


def test_an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:10.0.0.7") == "10.0.0.7" == address_key(" 10.0.0.7 ")
    assert address_key("") == "-"


def test_login_keys_ignore_case_and_keep_no_typed_text() -> None:
    assert login_key("Ivanov ") == login_key("ivanov")
    assert "ivanov" not in login_key("ivanov")
    assert len(login_key("x" * 1000)) == 64
