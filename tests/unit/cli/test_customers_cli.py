"""`contact-center customers list|show|search` on a real SQLite base: Russian output,
`--json`, exit 2 with one line for what is not there."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.storage import migrate

BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг;Дата долга\n"
    '100200;Иванов Иван;"г. Дивногорск, ул. Чкалова, д. 5, кв. 12";да;'
    '"+79135550101; 8 (39144) 0-00-11";ivanov@example.ru;да;"1 234,50";01.11.2026\n'
    '100300;Петрова Анна;"г. Дивногорск, ул. Ленина, д. 7";да;+79135550102;;нет;;\n'
    '200100;Сидоров Пётр;"г. Дивногорск, ул. Ленина, д. 9";нет;+79135550103;;нет;;\n'
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("customers-cli")
    path = folder / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    source = folder / "base.csv"
    source.write_bytes(BASE.encode("cp1251"))
    imported = cli(path, "customers", "import", str(source))
    assert imported.exit_code == 0, imported.output
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "cc.db"
    shutil.copyfile(migrated, path)
    return path


def cli(db: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, list(args), env={"CC_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    )


def test_list_shows_the_base_by_account_in_russian(db: Path) -> None:
    result = cli(db, "customers", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["100200", "100300", "200100"]
    assert "Иванов Иван" in lines[0] and "долг 1\u00a0234,50\u00a0₽" in lines[0]
    assert "[без договора]" in lines[2]
    assert lines[-1] == "Всего: 3."


def test_list_pages(db: Path) -> None:
    result = cli(db, "customers", "list", "--limit", "1", "--offset", "1")
    assert result.output.splitlines() == [
        result.output.splitlines()[0],
        "Показаны 2–2 из 3.",
    ]
    assert result.output.startswith("100300")


def test_show_gives_the_card(db: Path) -> None:
    result = cli(db, "customers", "show", "100200")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Лицевой счёт: 100200",
        "ФИО: Иванов Иван",
        "Адрес: г. Дивногорск, ул. Чкалова, д. 5, кв. 12",
        "Договор: есть",
        "Телефоны: +79135550101, +73914400011",
        f"Эл. почта: ivanov@example.ru (согласие на рассылку с {date.today():%d.%m.%Y})",
        "Долг: 1\u00a0234,50\u00a0₽ на 01.11.2026",
    ]


def test_show_json(db: Path) -> None:
    data = json.loads(cli(db, "customers", "show", "100200", "--json").output)
    assert {k: data[k] for k in ("account", "phones", "debt", "debt_date", "has_contract")} == {
        "account": "100200",
        "phones": ["+79135550101", "+73914400011"],
        "debt": "1234.50",
        "debt_date": "2026-11-01",
        "has_contract": True,
    }
    assert data["emails"][0]["address"] == "ivanov@example.ru" and data["emails"][0]["consent"]


def test_show_of_an_unknown_account_exits_2_with_one_line(db: Path) -> None:
    result = cli(db, "customers", "show", "999")
    assert result.exit_code == 2
    assert result.output == "Нет потребителя с лицевым счётом 999.\n"


@pytest.mark.parametrize(
    ("query", "accounts"),
    [
        ("100200", ["100200"]),
        ("ленина", ["100300", "200100"]),
        ("петрова", ["100300"]),
        ("8 913 555-01-03", ["200100"]),
        ("ул. Ленина, д. 9", ["200100"]),
        ("никто", []),
    ],
)
def test_search_by_account_name_phone_or_address(db: Path, query: str, accounts: list[str]) -> None:
    result = cli(db, "customers", "search", query, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [c["account"] for c in data["customers"]] == accounts
    assert data["total"] == len(accounts)


def test_search_text_says_when_nothing_or_more_is_found(db: Path) -> None:
    assert cli(db, "customers", "search", "никто").output == "Никого не найдено.\n"
    more = cli(db, "customers", "search", "дивногорск", "--limit", "2")
    assert more.output.splitlines()[-1].startswith("Показаны первые 2")
    assert cli(db, "customers", "search", "  ").exit_code == 2
