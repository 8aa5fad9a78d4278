"""STARTTLS, implicit TLS and login against aiosmtpd with a throw-away certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from autoinformer.email import SmtpSender, SmtpSetupError
from contact_center.settings import Settings
from tests.integration.conftest import free_tcp_port

from .conftest import MailServer
from .test_email_delivery import letter

USER, PASSWORD = "campaigns", "pa55-word"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd then answers 535 itself (handled=True would answer nothing)
    return AuthResult(success=ok, handled=False)


def tls_server(**controller_kwargs: Any) -> Iterator[MailServer]:
    server = MailServer(port=free_tcp_port(), controller_kwargs=controller_kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[MailServer]:
    yield from tls_server(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )


@pytest.fixture
def implicit_tls_server(certificate: tuple[Path, Path]) -> Iterator[MailServer]:
    yield from tls_server(
        ssl_context=server_context(certificate),
        authenticator=authenticator,
        # aiosmtpd does not count implicit TLS as TLS for this check (it offers no AUTH)
        auth_require_tls=False,
    )


def settings_for(server: MailServer, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_user": USER,
        "smtp_password": PASSWORD,
        "smtp_rate": 0.0,
        "smtp_timeout": 5.0,
    }
    values.update(changes)
    return Settings(**values)


async def test_starttls_and_login_from_settings_deliver_over_an_encrypted_session(
    starttls_server: MailServer, certificate: tuple[Path, Path]
) -> None:
    settings = settings_for(starttls_server, smtp_tls="starttls")
    sender = SmtpSender.from_settings(settings, tls_context=client_context(certificate))
    async with sender:
        result = await sender.send(letter())

    assert result.status == "accepted"
    assert starttls_server.tls_sessions == 1
    assert PASSWORD not in repr(sender)


async def test_implicit_tls_and_login_deliver(
    implicit_tls_server: MailServer, certificate: tuple[Path, Path]
) -> None:
    settings = settings_for(implicit_tls_server, smtp_tls="tls")
    sender = SmtpSender.from_settings(settings, tls_context=client_context(certificate))
    async with sender:
        result = await sender.send(letter())

    assert result.status == "accepted"
    assert implicit_tls_server.tls_sessions == 1


async def test_a_wrong_password_is_a_setup_error_not_a_failed_letter(
    starttls_server: MailServer, certificate: tuple[Path, Path]
) -> None:
    settings = settings_for(starttls_server, smtp_tls="starttls", smtp_password="wrong")
    sender = SmtpSender.from_settings(settings, tls_context=client_context(certificate))
    async with sender:
        with pytest.raises(SmtpSetupError, match="не принял логин 'campaigns': 535"):
            await sender.send(letter())
    assert starttls_server.received == []


async def test_an_untrusted_certificate_is_a_setup_error(implicit_tls_server: MailServer) -> None:
    settings = settings_for(implicit_tls_server, smtp_tls="tls")
    sender = SmtpSender.from_settings(settings)  # the system's CAs do not know our cert
    async with sender:
        with pytest.raises(SmtpSetupError, match="TLS"):
            await sender.connect()


async def test_a_server_demanding_starttls_is_a_setup_error_not_a_failed_letter(
    starttls_server: MailServer,
) -> None:
    settings = settings_for(starttls_server, smtp_user="", smtp_password="")
    async with SmtpSender.from_settings(settings) as sender:
        # aiosmtpd answers MAIL with 530 "Must issue a STARTTLS command first"
        with pytest.raises(SmtpSetupError, match="не принял отправителя: 530"):
            await sender.send(letter())
    assert starttls_server.received == []
