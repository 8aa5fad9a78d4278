"""The sender's pure parts: pacing, settings, argument checks (the SMTP dialogue itself is
tested against a real server in tests/integration/autoinformer_email)."""

from __future__ import annotations

import pytest

from autoinformer.email import SmtpSender, TokenBucket
from autoinformer.email.sender import _masked
from contact_center.settings import Settings, SettingsError, load_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_bucket_paces_takers_at_the_rate_after_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=50, burst=2, clock=clock, sleep=clock.sleep)
    for _ in range(6):
        await bucket.take()
    assert clock.slept == pytest.approx([0.02, 0.02, 0.02, 0.02])
    assert clock.now == pytest.approx(0.08)  # 6 letters: 2 at once, then one every 20 ms


async def test_the_bucket_refills_while_idle_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await bucket.take()
    clock.now += 60.0  # a long pause saves up only `burst` tokens
    for _ in range(4):
        await bucket.take()
    assert clock.slept == pytest.approx([0.1])


async def test_a_zero_rate_means_no_limit() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=0, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        await bucket.take()
    assert clock.slept == []


def test_replies_are_masked_before_they_reach_a_log() -> None:
    reply = "5.1.1 <ivanov.ivan@example.ru>: Recipient address rejected"
    assert _masked(reply) == "5.1.1 <i***@example.ru>: Recipient address rejected"


def test_the_sender_takes_its_settings_and_never_shows_the_password() -> None:
    settings = Settings(
        smtp_host="mail.example.ru",
        smtp_port=587,
        smtp_tls="starttls",
        smtp_user="notices",
        smtp_password="pa55",
        smtp_timeout=12.0,
        smtp_rate=25.0,
    )
    sender = SmtpSender.from_settings(settings, attempts=2)
    assert (sender.host, sender.port, sender.tls, sender.timeout) == (
        "mail.example.ru",
        587,
        "starttls",
        12.0,
    )
    assert sender.attempts == 2
    assert "pa55" not in repr(sender)


@pytest.mark.parametrize(
    "kwargs",
    [{"tls": "ssl"}, {"attempts": 0}, {"base_delay": -1}, {"timeout": 0}],
)
def test_impossible_sender_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        # bad values on purpose (tls="ssl" is not even a TlsMode): the run-time checks
        SmtpSender(**kwargs)  # type: ignore[arg-type]


def test_smtp_settings_come_from_cc_variables() -> None:
    s = load_settings(
        environ={
            "CC_SMTP_HOST": "mail.example.ru",
            "CC_SMTP_PORT": "465",
            "CC_SMTP_FROM": "Электросеть Дивногорск <noreply@energo.example.ru>",
            "CC_SMTP_TLS": "tls",
            "CC_SMTP_USER": "notices",
            "CC_SMTP_PASSWORD": "pa55",
            "CC_SMTP_TIMEOUT": "10",
            "CC_SMTP_RATE": "0",
            "CC_UNSUBSCRIBE_BASE_URL": "https://lk.example.ru/unsubscribe",
            "CC_UNSUBSCRIBE_SECRET": "long-random-secret",
        }
    )
    assert (s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_rate) == ("mail.example.ru", 465, "tls", 0)
    assert s.smtp_from.startswith("Электросеть Дивногорск")
    shown = s.public_items()
    assert shown["smtp_password"] == "***"
    assert shown["unsubscribe_secret"] == "***"
    assert "pa55" not in repr(s) and "long-random-secret" not in repr(s)


def test_smtp_defaults_run_on_one_machine() -> None:
    s = load_settings(environ={})
    assert (s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_rate) == ("127.0.0.1", 25, "none", 50.0)
    assert s.unsubscribe_base_url == "http://127.0.0.1:8080/unsubscribe"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CC_SMTP_TLS": "ssl"}, "CC_SMTP_TLS"),
        ({"CC_SMTP_PORT": "0"}, "CC_SMTP_PORT"),
        ({"CC_SMTP_RATE": "-1"}, "CC_SMTP_RATE"),
        ({"CC_SMTP_FROM": "nobody"}, "CC_SMTP_FROM"),
        ({"CC_UNSUBSCRIBE_BASE_URL": "ftp://x/u"}, "CC_UNSUBSCRIBE_BASE_URL"),
        # the local-only default secret must not sign links that leave the machine
        ({"CC_UNSUBSCRIBE_BASE_URL": "https://lk.example.ru/u"}, "CC_UNSUBSCRIBE_SECRET"),
    ],
)
def test_bad_smtp_settings_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ=env)
