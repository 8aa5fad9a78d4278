"""`contact-center doctor` against the session's real Asterisk and a real SMTP server
(aiosmtpd with a login): all well, then one thing wrong at a time."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result

from autoinformer.plugin import AutoinformerPlugin
from contact_center.cli import main
from contact_center.storage import migrate
from tests.integration.autoinformer_email.conftest import MailServer
from tests.integration.conftest import AsteriskFixture, free_tcp_port

pytestmark = pytest.mark.integration

USER, PASSWORD = "notices", "mail-secret"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer(
        port=free_tcp_port(),
        controller_kwargs={"authenticator": authenticator, "auth_require_tls": False},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sounds")
    result = CliRunner().invoke(main, ["sounds", "build"], env={"CC_SOUNDS_DIR": str(folder)})
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def base(
    asterisk: AsteriskFixture, mail: MailServer, sounds: Path, tmp_path: Path
) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    migrate.upgrade(url, [AutoinformerPlugin()])
    s = asterisk.settings
    return {
        "database_url": url,
        "ami_host": s.ami_host,
        "ami_port": s.ami_port,
        "ami_secret": s.ami_secret,
        "asterisk_runtime_dir": str(s.asterisk_runtime_dir),
        "sip_port": 0,  # the session's Asterisk has no SIP
        "sounds_dir": str(sounds),
        "smtp_host": mail.host,
        "smtp_port": mail.port,
        "smtp_user": USER,
        "smtp_password": PASSWORD,
        "http_port": free_tcp_port(),
    }


def doctor(tmp_path: Path, values: dict[str, Any], *args: str) -> Result:
    config = tmp_path / "doctor.toml"
    config.write_text(
        "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items()),
        encoding="utf-8",
    )
    return CliRunner().invoke(main, ["--config", str(config), "doctor", *args], env={})


def test_a_healthy_deployment_passes_every_check(tmp_path: Path, base: dict[str, Any]) -> None:
    result = doctor(tmp_path, base)
    print(result.output)
    assert result.exit_code == 0, result.output
    assert "[!!]" not in result.output
    for line in (
        "вход пользователя contact-center принят",
        "права AMI минимальные",
        "нужные модули Asterisk загружены (локальный Asterisk)",
        "подсказки собраны: ",
        "миграции применены",
        f"вход {USER} принят",
        "свободен для serve",
        "Всё в порядке.",
    ):
        assert line in result.output


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"ami_secret": "wrong"}, "Asterisk отклонил вход AMI пользователя contact-center"),
        (
            {"smtp_password": "wrong"},
            f"почтовый сервер 127.0.0.1:{{smtp_port}} (none) не принял вход {USER}",
        ),
        ({"clock_offset": 3600.0}, "часы сервиса сдвинуты на 3600 с"),
        ({"sounds_dir": "{tmp}/empty-sounds"}, "не собрано подсказок: "),
        ({"database_url": "sqlite+aiosqlite:///{tmp}/new.db"}, "схема базы данных не создана"),
    ],
)
def test_each_problem_is_named_with_its_fix_and_fails_the_run(
    tmp_path: Path, base: dict[str, Any], change: dict[str, Any], says: str
) -> None:
    values = {**base}
    for key, value in change.items():
        values[key] = value.format(tmp=tmp_path) if isinstance(value, str) else value
    result = doctor(tmp_path, values)
    assert result.exit_code == 1, result.output
    assert "[!!] " + says.format(smtp_port=base["smtp_port"]) in result.output
    assert "что сделать: " in result.output
    assert "Проблем: 1." in result.output
    assert not (tmp_path / "new.db").exists(), "the doctor creates no database"


def test_a_port_held_by_another_program_is_a_problem_and_skip_leaves_a_check_out(
    tmp_path: Path, base: dict[str, Any]
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()

        def answer() -> None:
            conn, _ = other.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nsomebody else")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        values = {**base, "http_port": other.getsockname()[1]}
        result = doctor(tmp_path, values)
        thread.join(5)
    assert result.exit_code == 1, result.output
    assert "занят другой программой: HTTP/1.0 200 OK" in result.output
    skipped = doctor(tmp_path, {**base, "smtp_port": free_tcp_port()}, "--skip", "smtp")
    assert skipped.exit_code == 0, skipped.output
    assert "почтовый" not in skipped.output
