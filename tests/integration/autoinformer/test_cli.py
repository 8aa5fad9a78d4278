"""`contact-center campaign|scenario` on a real database (no calls: the service dials)."""

from __future__ import annotations

import io
import json
import os
import pty
import random
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.clock import Clock

KRS = ZoneInfo("Asia/Krasnoyarsk")
REPORT = ("campaign", "report")
CREATE = ("campaign", "create", "--name", "Долги", "--kind", "debt")


class Cli(Protocol):
    def __call__(self, *args: str) -> Result: ...


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    from tests.integration.autoinformer.conftest import db_url

    env = {
        "CC_DATABASE_URL": db_url(tmp_path),
        "CC_CLOCK_OFFSET": str(Clock.at(datetime(2026, 12, 1, 11, tzinfo=KRS)).offset_s),
    }
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_campaign_create_start_status_report(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "debts.csv"
    listing.write_text(
        "phone;account;debt\n+7 913 000-00-01;240001;1 500,00\n8 913 000-00-01;240001;1500\n"
        "not a phone;240002;10\n+7 913 000-00-05;240005;\n",
        encoding="cp1251",
    )
    created = cli(
        "campaign",
        "create",
        "--name",
        "Долги",
        "--kind",
        "debt",
        "--list",
        str(listing),
        "--window",
        "09:00-20:00",
        "--days",
        "mon-fri",
        "--retry",
        "busy=2/5s",
        "--concurrency",
        "5",
    )
    assert created.exit_code == 0, created.output
    campaign_id = created.stdout.strip().splitlines()[-1]
    assert campaign_id.isdigit()
    assert "строка 4: phone" in created.stderr
    assert "строка 5: сообщение не собрать" in created.stderr
    assert "строка 3: номер повторяет строку 2" in created.stderr
    assert cli("campaign", "start", campaign_id).exit_code == 0
    assert cli("campaign", "start", campaign_id).exit_code == 2  # already running
    status = cli("campaign", "status", campaign_id, "--format", "json")
    data = json.loads(status.stdout)
    assert (data["status"], data["total"], data["waiting"]) == ("running", 1, 1)
    report = cli("campaign", "report", campaign_id, "--format", "csv")
    assert report.stdout_bytes.startswith(
        "\ufeffТелефон;Лицевой счёт;ФИО;Адрес;Долг;Итог звонка;".encode()
    )
    lines = report.stdout_bytes.decode("utf-8-sig").split("\r\n")
    row = "7 (913) 000-00-01;240001;;;1\u00a0500,00\u00a0₽;ожидает;нет;0;0;нет;;;"
    assert lines[1:] == [row, ""]
    as_json = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    assert as_json["totals"]["contacts"] == len(as_json["contacts"]) == 1
    assert cli("campaign", "cancel", campaign_id).exit_code == 0
    final = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    assert final["contacts"][0]["status"] == "cancelled"
    followed = cli("campaign", "status", campaign_id, "--follow")
    assert followed.exit_code == 0 and "отменена" in followed.stdout


def test_refused_outage_campaign_exits_2_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 11, tzinfo=KRS)
    outage = now + timedelta(hours=12)
    listing = tmp_path / "outage.csv"
    listing.write_text(
        f"phone,address,outage_start,outage_end\n+79130000001,ул. Чкалова 1,"
        f"{outage:%Y-%m-%d %H:%M},{outage + timedelta(hours=4):%Y-%m-%d %H:%M}\n",
        encoding="utf-8",
    )
    result = cli(
        "campaign",
        "create",
        "--name",
        "Отключение",
        "--kind",
        "outage",
        "--list",
        str(listing),
        "--outage-start",
        f"{outage:%Y-%m-%dT%H:%M}",
        "--decision-date",
        "2026-12-01",
    )
    assert result.exit_code == 2
    assert "24 часа" in result.stderr
    bad_retry = cli(
        "campaign",
        "create",
        "--name",
        "x",
        "--kind",
        "debt",
        "--list",
        str(listing),
        "--retry",
        "busy=0/5s",
    )
    assert bad_retry.exit_code == 2 and "попыток" in bad_retry.stderr


def test_scenario_add_list_show_versions(cli: Cli, tmp_path: Path) -> None:
    listed = cli("scenario", "list")
    for name in ("debt-notice", "outage-warning", "reminder", "tariff-change"):
        assert name in listed.stdout
    path = tmp_path / "meter.toml"
    path.write_text(
        'name = "meter"\nkind = "reminder"\nmessage = "Передайте показания счётчика."\n',
        encoding="utf-8",
    )
    assert "версия 1" in cli("scenario", "add", str(path)).stdout
    assert "не изменился" in cli("scenario", "add", str(path)).stdout
    path.write_text(path.read_text(encoding="utf-8") + "wait_digit = 3\n", encoding="utf-8")
    assert "версия 2" in cli("scenario", "add", str(path)).stdout
    shown = cli("scenario", "show", "meter@1")
    assert '"wait_digit": 5.0' in shown.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nkind = "debt"\nmessage = "{money:}"\n[keys]\n"1" = "fly"\n')
    refused = cli("scenario", "add", str(bad))
    assert refused.exit_code == 2 and refused.stderr.startswith("bad.toml: message:")


def test_list_from_the_customer_base_takes_contract_phones_of_debtors(cli: Cli) -> None:
    base = Path(__file__).resolve().parents[3] / "contact_center" / "demo" / "customers.csv"
    imported = cli("customers", "import", str(base))
    assert imported.exit_code == 0, imported.output
    created = cli("campaign", "create", "--name", "База", "--kind", "debt", "--list", "customers")
    assert created.exit_code == 0, created.stderr
    campaign_id = created.stdout.strip().splitlines()[-1]
    report = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    phones = sorted(row["phone"] for row in report["contacts"])
    assert phones == [f"7913000000{d}" for d in range(1, 9)]


SAVE_AS = "сохраните таблицу как CSV (UTF-8 или cp1251, разделитель «,» или «;»)"
NOISE = random.Random(11).randbytes(5000)
NOT_CSV = [
    ("scan.png", b"\x89PNG\r\n\x1a\n" + NOISE, "изображение PNG"),
    ("debts.xlsx", b"PK\x03\x04\x14\x00\x06\x00" + NOISE, "книга Excel (xlsx) или архив ZIP"),
    ("unicode.txt", "phone\t+79130000001\n".encode("utf-16"), "текст в кодировке UTF-16"),
    ("noise.csv", NOISE, "двоичный файл"),
]


def one_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("name", "data", "what"), NOT_CSV)
def test_a_file_that_is_no_csv_exits_2_with_one_line(
    cli: Cli, tmp_path: Path, name: str, data: bytes, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    created = cli("campaign", "create", "--name", "x", "--kind", "debt", "--list", str(path))
    assert created.exit_code == 2
    assert one_line(created) == f"--list {name}: это не таблица CSV, а {what}: {SAVE_AS}"
    imported = cli("customers", "import", str(path))
    assert imported.exit_code == 2
    assert one_line(imported) == f"Файл {name} не загружен: это не таблица CSV, а {what}: {SAVE_AS}"
    assert cli("campaign", "list").stdout == "Кампаний нет.\n"


def test_an_empty_file_exits_2_with_one_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    created = cli("campaign", "create", "--name", "x", "--kind", "debt", "--list", str(path))
    assert (created.exit_code, one_line(created)) == (
        2,
        "--list empty.csv: файл пуст: нет строки заголовка",
    )
    imported = cli("customers", "import", str(path))
    assert (imported.exit_code, one_line(imported)) == (
        2,
        "Файл empty.csv не загружен: файл пуст: нет строки заголовка",
    )


def test_a_list_whose_every_row_is_refused_lists_them_all_and_creates_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    listing = tmp_path / "debts.csv"
    listing.write_text(
        "phone;account;debt\nнет;1;10\n+7 913 000-00-02;2;0\n+7 913 000-00-03;3;abc\n"
        "+7 913 000-00-03;3;abc;4\n",
        encoding="cp1251",
    )
    result = cli("campaign", "create", "--name", "x", "--kind", "debt", "--list", str(listing))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "отклонена строка 2: phone: недопустимые символы в номере «нет»",
        "отклонена строка 3: debt: задолженность 0,00 ₽ — уведомлять не о чем",
        "отклонена строка 4: debt: не сумма в рублях: «abc»",
        "отклонена строка 5: ожидалось столбцов: 3, в строке: 4",
        "Кампания не создана: в списке не осталось ни одного абонента для звонка.",
    ]
    assert cli("campaign", "list").stdout == "Кампаний нет.\n"


def test_a_letter_that_fails_for_everybody_is_refused_at_scenario_add(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "letter.toml"
    path.write_text(
        'name = "letter"\nkind = "debt"\nmessage = "Долг {money:debt}."\n[email]\n'
        'subject = "Долг"\ntext = """Здравствуйте!\nДолг {{ debt.rubles }} руб."""\n',
        encoding="utf-8",
    )
    refused = cli("scenario", "add", str(path))
    assert refused.exit_code == 2
    assert one_line(refused) == (
        "letter.toml: email.text, строка 2: письмо не собирается даже для образцового "
        "абонента: нет поля 'debt.rubles'"
    )
    path.write_text(
        path.read_text(encoding="utf-8").replace("{{ debt.rubles }} руб.", "{{ debt | monet }}"),
        encoding="utf-8",
    )
    refused = cli("scenario", "add", str(path))
    assert one_line(refused) == (
        "letter.toml: email.text, строка 2: ошибка шаблона: неизвестный фильтр «monet» "
        "(фильтры значений: money, date, time, timerange, quantity, number, phone)"
    )
    assert "letter" not in cli("scenario", "list").stdout


def test_report_csv_cells_that_start_a_formula_are_quoted(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "plain.toml"
    scenario.write_text(
        'name = "plain"\nkind = "reminder"\nmessage = "Передайте показания."\n', encoding="utf-8"
    )
    assert cli("scenario", "add", str(scenario)).exit_code == 0
    listing = tmp_path / "list.csv"
    listing.write_text(
        'phone,account,name\n+79130000001,"=HYPERLINK(""http://e.x/"",""Жми"")",'
        '"=HYPERLINK(""http://e.x/"")"\n+79130000002,-1+2,Иванов\n+79130000003,@A1,Петров\n',
        encoding="utf-8",
    )
    created = cli(
        "campaign",
        "create",
        "--name",
        "x",
        "--kind",
        "reminder",
        "--scenario",
        "plain",
        "--list",
        str(listing),
    )
    assert created.exit_code == 0, created.stderr
    campaign_id = created.stdout.strip()
    report = cli("campaign", "report", campaign_id, "--format", "csv").stdout_bytes
    assert report.decode("utf-8-sig").split("\r\n")[1:] == [
        '7 (913) 000-00-01;"\'=HYPERLINK(""http://e.x/"",""Жми"")";'
        '"\'=HYPERLINK(""http://e.x/"")";;;ожидает;нет;0;0;нет;;;',
        "7 (913) 000-00-02;'-1+2;Иванов;;;ожидает;нет;0;0;нет;;;",
        "7 (913) 000-00-03;'@A1;Петров;;;ожидает;нет;0;0;нет;;;",
        "",
    ]
    # the workbook keeps the account as it came, a string cell (never a formula)
    book = openpyxl.load_workbook(
        io.BytesIO(cli(*REPORT, campaign_id, "--format", "xlsx").stdout_bytes)
    )
    accounts = [row[1] for row in book["Абоненты"].iter_rows(min_row=2, values_only=True)]
    assert accounts == ['=HYPERLINK("http://e.x/","Жми")', "-1+2", "@A1"]


def test_report_xlsx_goes_to_a_file_or_a_pipe_with_the_json_rows(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "debts.csv"
    listing.write_text(
        "phone;account;debt\n+7 913 000-00-01;240001;1500\n+7 913 000-00-02;240002;10\n",
        encoding="utf-8",
    )
    created = cli(*CREATE, "--list", str(listing))
    assert created.exit_code == 0, created.stderr
    campaign_id = created.stdout.strip()
    path = tmp_path / "отчёт.xlsx"
    saved = cli(*REPORT, campaign_id, "--format", "xlsx", "--output", str(path))
    assert saved.exit_code == 0 and f"Отчёт записан в {path}" in saved.stderr
    piped = cli(*REPORT, campaign_id, "--format", "xlsx")  # stdout is no terminal here
    as_json = json.loads(cli(*REPORT, campaign_id, "--format", "json").stdout)
    for data in (path.read_bytes(), piped.stdout_bytes):
        book = openpyxl.load_workbook(io.BytesIO(data))
        header, *rows = book["Абоненты"].iter_rows(values_only=True)
        attempts = header.index("Попыток")
        assert [(r[0], r[1], r[attempts]) for r in rows] == [
            (c["phone"], c["account"], c["attempts"]) for c in as_json["contacts"]
        ]
        totals = {k: v for k, v in book["Итоги"].iter_rows(min_row=2, values_only=True)}
        assert totals["Абонентов для звонков"] == as_json["totals"]["contacts"] == 2


def test_report_xlsx_for_a_terminal_is_refused_before_any_work(tmp_path: Path) -> None:
    from tests.integration.autoinformer.conftest import db_url

    env = {**os.environ, "CC_DATABASE_URL": db_url(tmp_path)}
    main_fd, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "contact_center", *REPORT, "999", "--format", "xlsx"],
            stdout=terminal,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(main_fd)
    # exit 2 with the reason, not "нет кампании 999": refused before the database is asked
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "XLSX — двоичный файл, в терминал он не выводится: укажите --output ФАЙЛ.xlsx"
    )


def test_report_of_an_unknown_campaign_writes_no_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    result = cli(*REPORT, "999", "--format", "xlsx", "--output", str(path))
    assert (result.exit_code, result.stderr.strip()) == (2, "нет кампании 999")
    assert not path.exists()


def test_a_customer_file_with_one_bad_line_at_the_end_imports_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    header = "account,name,address,has_contract,phone,email,email_consent,debt\n"
    rows = "".join(f"{240000 + i},А,Б,да,+7913{i:07d},,нет,10\n" for i in range(1, 1201))
    path = tmp_path / "base.csv"
    path.write_text(header + rows + "999,В,Г,может,12345,,нет,-5\n", encoding="utf-8")
    refused = cli("customers", "import", str(path))
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        "Файл base.csv не загружен: ошибок 1.",
        "  строка 1202: has_contract: ожидается да/нет или 1/0, получено «может»; "
        "phone: несуществующий номер телефона: «12345»; debt: не сумма в рублях: «-5»",
    ]
    # the 1,200 good rows before it were written in batches, then rolled back
    database = tmp_path / "ai.db"  # the cli fixture's (conftest.db_url)
    with sqlite3.connect(database) as db:
        assert db.execute("select count(*) from customers").fetchone() == (0,)
    path.write_text(header + rows, encoding="utf-8")
    imported = cli("customers", "import", str(path))
    assert imported.exit_code == 0, imported.stderr
    assert "Загружено потребителей: 1200 (новых 1200, обновлено 0)" in imported.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("select count(*) from customers").fetchone() == (1200,)


def _import_demo_base(cli: Cli) -> None:
    base = Path(__file__).resolve().parents[3] / "contact_center" / "demo" / "customers.csv"
    imported = cli("customers", "import", str(base))
    assert imported.exit_code == 0, imported.output


def _phones(cli: Cli, campaign_id: str) -> list[str]:
    report = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    return sorted(row["phone"] for row in report["contacts"])


def test_where_narrows_the_base_by_street_and_debt(cli: Cli) -> None:
    _import_demo_base(cli)
    created = cli(
        *CREATE,
        "--list",
        "customers",
        "--where",
        "address=ул. Чкалова; ул. Комсомольская; ул. Бочкина",
        "--where",
        "debt>=2000",
    )
    assert created.exit_code == 0, created.stderr
    # Чкалова owes 1 500 (below the amount); Бочкина 2 341,21 and Комсомольская 15 000 stay
    assert _phones(cli, created.stdout.strip().splitlines()[-1]) == ["79130000002", "79130000004"]


def test_a_bad_where_names_the_filter_and_creates_nothing(cli: Cli) -> None:
    _import_demo_base(cli)
    refused = cli(*CREATE, "--list", "customers", "--where", "debt>=много")
    assert refused.exit_code == 2
    assert "debt" in refused.stderr and "много" in refused.stderr
    assert cli("campaign", "list").stdout.strip() == "Кампаний нет."


def test_an_outage_from_the_registry_needs_no_list_and_no_times(cli: Cli) -> None:
    _import_demo_base(cli)
    added = cli(
        "outages", "add", "--addresses", "ул. Чкалова; ул. Нагорная, д. 5-9",
        "--start", "2026-12-04 09:00", "--end", "2026-12-04 17:00",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    outage_id = added.stdout.split()[1]
    with_times = cli(
        "campaign", "create", "--name", "Чкалова", "--kind", "outage", "--outage", outage_id,
        "--outage-start", "2026-12-04T09:00",
    )  # fmt: skip
    assert with_times.exit_code == 2
    assert "берутся из реестра" in with_times.stderr
    created = cli(
        "campaign", "create", "--name", "Чкалова", "--kind", "outage", "--outage", outage_id,
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    campaign_id = created.stdout.strip().splitlines()[-1]
    # Чкалова, д. 11 and Нагорная, д. 7; nobody else in the base
    assert _phones(cli, campaign_id) == ["79130000001", "79130000003"]
    unknown = cli("campaign", "create", "--name", "x", "--kind", "outage", "--outage", "999")
    assert unknown.exit_code == 2 and "нет отключения 999" in unknown.stderr


def test_follow_up_sends_a_letter_or_asks_an_operator_and_says_how_many(
    cli: Cli, tmp_path: Path
) -> None:
    _import_demo_base(cli)
    created = cli(*CREATE, "--list", "customers", "--where", "address=ул. Чкалова; ул. Бочкина")
    assert created.exit_code == 0, created.stderr
    campaign_id = created.stdout.strip().splitlines()[-1]
    # the calls ended without reaching anyone (as the dialer would have stored it)
    with sqlite3.connect(tmp_path / "ai.db") as db:
        db.execute("update ai_contacts set state = 'done', status = 'no_answer'")
    wrong = cli("campaign", "follow-up", campaign_id, "--status", "someday")
    assert wrong.exit_code == 2 and "нет такого итога звонка «someday»" in wrong.stderr
    done = cli("campaign", "follow-up", campaign_id, "--status", "no-answer")
    # 240001 (ул. Чкалова) has an address with consent; 240002 (ул. Бочкина) has none
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith(f"Кампания {campaign_id}: другим путём — писем 1 (кампания ")
    assert done.stdout.rstrip().endswith("звонков оператора 1.")
    report = json.loads(cli("campaign", "report", campaign_id, "--format", "json").stdout)
    assert sorted(r["follow_up_label"] for r in report["contacts"]) == [
        "звонок оператора",
        "письмо",
    ]
    unknown = cli("campaign", "follow-up", "999")
    assert unknown.exit_code == 2 and "нет кампании 999" in unknown.stderr
