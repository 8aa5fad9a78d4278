"""`contact-center campaign ...` with e-mail, on a real database (the service sends; here the
CLI creates, shows and unsubscribes)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result

from autoinformer.email import make_unsubscribe_token
from contact_center.cli import main
from contact_center.settings import Settings
from tests.integration.autoinformer.conftest import db_url

LIST = """account,name,email,email_consent,debt
10-1,Иванов,ivanov@example.ru,да,1500
10-2,Петров,petrov@example.ru,нет,200
10-3,Сидоров,sidorov@example.ru,1,300
"""


@dataclass
class Cli:
    """`contact-center` on the test's database; `path` is its SQLite file."""

    url: str
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def path(self) -> str:
        return self.url.split("///", 1)[1]

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(
            main, list(args), env={"CC_DATABASE_URL": self.url}, catch_exceptions=False
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(db_url(tmp_path))


def test_email_campaign_from_the_cli_and_the_clerks_unsubscribe(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "mail.csv"
    listing.write_text(LIST, encoding="cp1251")
    created = cli(
        "campaign",
        "create",
        "--name",
        "Письма",
        "--kind",
        "debt",
        "--list",
        str(listing),
        "--channel",
        "email",
    )
    assert created.exit_code == 0, created.output
    campaign_id = created.stdout.strip().splitlines()[-1]
    assert "отклонена строка 3: e-mail p***@example.ru: нет согласия" in created.stderr
    assert "писем 2" in created.stderr
    assert "petrov@example.ru" not in created.stderr

    status = json.loads(cli("campaign", "status", campaign_id, "--format", "json").stdout)
    assert status["channel"] == "email"
    assert (status["email"]["letters"], status["email"]["queued"]) == (2, 2)
    text = cli("campaign", "status", campaign_id).stdout
    assert "письма: всего 2, в очереди 2" in text
    report = cli("campaign", "report", campaign_id, "--format", "csv").stdout.splitlines()
    assert report[0].endswith(
        ";E-mail;Итог письма;Попыток отправки;Откладываний;Код ответа сервера;"
        "Ответ сервера;Последнее откладывание;Примечание к письму"
    )
    letter = dict(zip(report[0].lstrip("\ufeff").split(";"), report[1].split(";"), strict=True))
    assert (letter["Лицевой счёт"], letter["E-mail"]) == ("10-1", "ivanov@example.ru")
    assert letter["Телефон"] == "" and letter["Попыток отправки"] == "0"

    with sqlite3.connect(cli.path) as db:
        (letter_id,) = db.execute(
            "SELECT id FROM ai_letters WHERE address = 'ivanov@example.ru'"
        ).fetchone()
    token = make_unsubscribe_token(
        secret=Settings().unsubscribe_secret, kind="debt", contact_id=letter_id
    )
    # the customer answered the mailto variant: the clerk pastes its subject
    done = cli("campaign", "unsubscribe", quote(f"unsubscribe {token}"))
    assert done.exit_code == 0, done.output
    assert "Адрес i***@example.ru отписан от писем о задолженности." in done.stdout
    assert "Не будут отправлены писем из очереди: 1." in done.stdout
    again = cli("campaign", "unsubscribe", f"http://127.0.0.1:8080/unsubscribe?token={token}")
    assert "уже был отписан" in again.stdout
    bad = cli("campaign", "unsubscribe", token[:-2] + "xx")
    assert bad.exit_code == 2 and "Ссылка отписки не подходит" in bad.stderr

    second = cli(
        "campaign",
        "create",
        "--name",
        "Снова",
        "--kind",
        "debt",
        "--list",
        str(listing),
        "--channel",
        "email",
    )
    assert second.exit_code == 0, second.output
    assert "пропущена строка 2: e-mail i***@example.ru: адрес отказался" in second.stderr
    assert "писем 1" in second.stderr


def test_a_scenario_without_a_letter_refuses_the_email_channel(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "phone-only.toml"
    scenario.write_text('name = "phone-only"\nkind = "debt"\nmessage = "Долг {money:debt}."\n')
    assert cli("scenario", "add", str(scenario)).exit_code == 0
    listing = tmp_path / "mail.csv"
    listing.write_text(LIST, encoding="utf-8")
    refused = cli(
        "campaign",
        "create",
        "--name",
        "x",
        "--kind",
        "debt",
        "--scenario",
        "phone-only",
        "--list",
        str(listing),
        "--channel",
        "both",
    )
    assert refused.exit_code == 2
    assert "в сценарии phone-only@1 нет письма (таблица [email])" in refused.stderr
    no_columns = tmp_path / "phones.csv"
    no_columns.write_text("phone,debt\n+79130000001,1\n", encoding="utf-8")
    refused = cli(
        "campaign",
        "create",
        "--name",
        "x",
        "--kind",
        "debt",
        "--list",
        str(no_columns),
        "--channel",
        "email",
    )
    assert refused.exit_code == 2
    assert "нужны столбцы email, email_consent" in refused.stderr
