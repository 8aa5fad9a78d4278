"""`contact-center appeal ...` and `report journal|written` on a real database: written
appeals are numbered in the journal, the export has the standard's columns in order, and
the norms report counts what was late."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner, Result

from contact_center.cli import main
from contact_center.clock import Clock
from contact_center.storage import migrate
from tests.unit.hotline.test_standard_journal import STANDARD_FORM

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path) -> Callable[[datetime], Cli]:
    """`cli(at)(*args)`: the CLI with its clock at `at` (days pass between commands)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    migrate.upgrade(url)
    base = tmp_path / "customers.csv"
    base.write_text(
        "account,name,address,has_contract,phone,email,email_consent\n"
        '240001,Петров Пётр Петрович,"г. Дивногорск, ул. Ленина, д. 7",да,+79130000001,,нет\n',
        encoding="utf-8",
    )
    runner = CliRunner()

    def at(when: datetime) -> Cli:
        env = {"CC_DATABASE_URL": url, "CC_CLOCK_OFFSET": str(Clock.at(when).offset_s)}

        def invoke(*args: str) -> Result:
            return runner.invoke(main, list(args), env=env, catch_exceptions=False)

        return invoke

    imported = at(datetime(2026, 12, 1, 9, tzinfo=KRS))("customers", "import", str(base))
    assert imported.exit_code == 0, imported.output
    return at


def test_written_appeals_go_into_the_standard_journal_and_their_norms_report(
    cli: Callable[[datetime], Cli], tmp_path: Path
) -> None:
    monday = cli(datetime(2026, 12, 1, 10, 0, tzinfo=KRS))
    letter = monday(
        "appeal", "add", "--channel", "email", "--from", "Петров П. П.", "--account", "240001",
        "--text", "Прошу пересчитать начисления за ноябрь.", "--class", "Т",
    )  # fmt: skip
    assert letter.exit_code == 0, letter.output
    letter_no = letter.stdout.strip()
    assert letter_no.startswith("2026-") and letter_no.endswith("-ФЛ")
    post = monday(
        "appeal", "add", "--channel", "post", "--from", "ООО «Ромашка»", "--applicant", "ul",
        "--address", "г. Дивногорск, ул. Чкалова, д. 5", "--text", "Перебои напряжения.",
        "--received", "2026-11-30 15:00",
    )  # fmt: skip
    assert post.exit_code == 0, post.output
    post_no = post.stdout.strip()
    assert post_no.endswith("-ЮЛ")

    # bad input: exit 2, one Russian line, nothing stored
    bad = monday("appeal", "add", "--channel", "post", "--from", "X", "--text", "т", "--class", "Z")
    assert bad.exit_code == 2 and "классификация «Z»" in bad.output
    unanswerable = monday("appeal", "answer", post_no, "--text", "Ответ")
    assert unanswerable.exit_code == 2 and "не классифицировано" in unanswerable.output
    assert monday("appeal", "show", "2026-999999-ФЛ").exit_code == 2

    # the post letter is classified two days after it came: late for the 1-day norm
    wednesday = cli(datetime(2026, 12, 2, 16, 0, tzinfo=KRS))
    assert wednesday("appeal", "classify", post_no, "--class", "кэ").exit_code == 0
    assigned = wednesday("appeal", "assign", post_no, "--to", "Иванов И. И., гл. инженер")
    assert assigned.exit_code == 0, assigned.output
    later = cli(datetime(2026, 12, 8, 11, 0, tzinfo=KRS))
    assert later("appeal", "response", post_no).exit_code == 0
    assert later("appeal", "answer", post_no, "--text", "Заменён трансформатор.").exit_code == 0
    assert later("appeal", "note", post_no, "--text", "решено в пользу заявителя").exit_code == 0
    shown = later("appeal", "show", post_no)
    assert "КЭ (качество электроснабжения)" in shown.stdout

    out = tmp_path / "journal.csv"
    made = later(
        "report", "journal", "--from", "2026-11-30", "--to", "2026-12-08", "--format", "csv",
        "--out", str(out),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == STANDARD_FORM
    assert [r[0] for r in rows[1:]] == [post_no, letter_no]  # in order of arrival
    assert rows[1] == [
        post_no,
        "30.11.2026",
        "ООО «Ромашка»",
        "г. Дивногорск, ул. Чкалова, д. 5",
        "Перебои напряжения.",
        "КЭ",
        "Иванов И. И., гл. инженер",
        "08.12.2026",
        "02.12.2026",
        "08.12.2026",
        "письменное, почта; решено в пользу заявителя",
    ]
    # the customer's address comes from the base when the letter names the account
    assert rows[2][2:6] == [
        "Петров П. П.",
        "г. Дивногорск, ул. Ленина, д. 7",
        "Прошу пересчитать начисления за ноябрь.",
        "Т",
    ]

    xlsx = tmp_path / "journal.xlsx"
    made = later("report", "journal", "--from", "2026-11-30", "--to", "2026-12-08",
                 "--format", "xlsx", "--out", str(xlsx))  # fmt: skip
    assert made.exit_code == 0, made.output
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == STANDARD_FORM and values[1][0] == post_no

    norms = later("report", "written", "--from", "2026-11-30", "--to", "2026-12-08", "--json")
    assert norms.exit_code == 0, norms.output
    data = json.loads(norms.stdout)
    assert data["total"] == 2
    assert data["register"]["in_time"] == 1 and data["register"]["violations"] == [post_no]
    # the e-mail is still unanswered, within its 10 days; the post letter answered in 7.8 days
    assert (data["answer"]["in_time"], data["answer"]["pending"]) == (1, 1)
    text = later("report", "written", "--from", "2026-11-30", "--to", "2026-12-08")
    assert f"нарушения: {post_no}" in text.stdout

    reversed_period = later("report", "journal", "--from", "2026-12-08", "--to", "2026-12-01")
    assert reversed_period.exit_code == 2 and "раньше" in reversed_period.output
