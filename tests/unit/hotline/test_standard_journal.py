"""The appeals journal in the standard's form (ch. 3 § 3) and the written appeals' norms."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from contact_center.hotline.models import Appeal
from contact_center.hotline.standard_journal import (
    STANDARD_COLUMNS,
    render_standard_journal,
    standard_cells,
)
from contact_center.hotline.written import (
    WrittenAppealError,
    WrittenFacts,
    measure,
    parse_applicant,
    parse_channel,
    report_lines,
)

KRS = ZoneInfo("Asia/Krasnoyarsk")

# the form of ch. 3 § 3 as the standard prints it, columns 1 to 11 in order ("Ст.1".."Ст.11"),
# spaces tidied and the trailing comma of column 3 dropped
STANDARD_FORM = [
    "№",
    "Дата поступления жалобы",
    "Фамилия, имя, отчество заявителя (наименование предприятия)",
    "Адрес",
    "Краткое содержание жалобы",
    "Классификация жалобы, обращения",
    "Кому (куда) передано на исполнение",
    "Дата предоставления ответа заявителю",
    "Дата отправки на исполнение жалобы, обращения",
    "Дата получения ответа заявителя",
    "Примечание",
]


def test_the_journal_columns_are_the_standards_in_its_order() -> None:
    assert [c.title for c in STANDARD_COLUMNS] == STANDARD_FORM


def _written(**over: object) -> Appeal:
    values: dict[str, object] = {
        "number": "2026-000007-ЮЛ",
        "kind": "written",
        "source": "post",
        "arrived_at": datetime(2026, 12, 1, 2, 30, tzinfo=UTC),  # 09:30 in Krasnoyarsk
        "applicant_name": "ООО «Ромашка»",
        "applicant_address": "г. Дивногорск, ул. Чкалова, д. 5",
        "summary": "Перебои напряжения",
        "classification": "КЭ",
        "assigned_to": "Иванов И. И., главный инженер",
        "assigned_at": datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
        "replied_at": datetime(2026, 12, 8, 3, 0, tzinfo=UTC),
        "response_received_at": datetime(2026, 12, 5, 3, 0, tzinfo=UTC),
        "note": "заменён трансформатор",
    }
    values.update(over)
    return Appeal(**values)


def test_a_written_appeal_fills_every_column_of_the_form() -> None:
    cells = standard_cells(_written(), None, None, None, KRS)
    assert cells == [
        "2026-000007-ЮЛ",
        date(2026, 12, 1),
        "ООО «Ромашка»",
        "г. Дивногорск, ул. Чкалова, д. 5",
        "Перебои напряжения",
        "КЭ",
        "Иванов И. И., главный инженер",
        date(2026, 12, 8),
        date(2026, 12, 1),
        date(2026, 12, 5),
        "письменное, почта; заменён трансформатор",
    ]


def test_a_call_takes_the_customer_from_the_base_and_the_operator_as_executor() -> None:
    call = Appeal(
        number="2026-000001-ФЛ",
        kind="call",
        source="hotline",
        arrived_at=datetime(2026, 12, 1, 17, 30, tzinfo=UTC),  # 2 Dec, 00:30 local
        info_done_at=datetime(2026, 12, 1, 17, 33, tzinfo=UTC),
        summary="Долг",
        classification="Э",
        applicant_name="",
        applicant_address="",
        assigned_to="",
        note="",
    )
    cells = standard_cells(call, "Петров П. П.", "ул. Ленина, д. 7", "Смирнова", KRS)
    assert cells[1] == date(2026, 12, 2)  # the local day, not UTC's
    assert cells[2:8] == [
        "Петров П. П.",
        "ул. Ленина, д. 7",
        "Долг",
        "Э",
        "оператор Смирнова",
        date(2026, 12, 2),
    ]
    assert cells[8] is None and cells[9] is None
    assert cells[10] == "звонок на горячую линию"


def test_csv_and_xlsx_carry_the_header_row_in_the_standards_order() -> None:
    rows = [standard_cells(_written(), None, None, None, KRS)]
    text = render_standard_journal(rows, "csv").decode("utf-8-sig")
    header, first = list(csv.reader(io.StringIO(text), delimiter=";"))[:2]
    assert header == STANDARD_FORM
    assert first[0] == "2026-000007-ЮЛ" and first[1] == "01.12.2026"
    book = openpyxl.load_workbook(io.BytesIO(render_standard_journal(rows, "xlsx")))
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == STANDARD_FORM
    with pytest.raises(ValueError, match="csv или xlsx"):
        render_standard_journal(rows, "json")


START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("classified_after", "replied_after", "now_after", "register", "answer"),
    [
        # (in_time, late, pending, overdue) for each norm
        (timedelta(hours=3), timedelta(days=9), timedelta(days=20), (1, 0, 0, 0), (1, 0, 0, 0)),
        (timedelta(days=1), timedelta(days=10), timedelta(days=20), (1, 0, 0, 0), (1, 0, 0, 0)),
        (
            timedelta(days=1, minutes=1),
            timedelta(days=11),
            timedelta(days=20),
            (0, 1, 0, 0),
            (0, 1, 0, 0),
        ),
        (None, None, timedelta(hours=20), (0, 0, 1, 0), (0, 0, 1, 0)),
        (None, None, timedelta(days=2), (0, 0, 0, 1), (0, 0, 1, 0)),
        (timedelta(hours=1), None, timedelta(days=10, hours=1), (1, 0, 0, 0), (0, 0, 0, 1)),
    ],
)
def test_written_norms_one_day_to_classify_ten_to_answer(
    classified_after: timedelta | None,
    replied_after: timedelta | None,
    now_after: timedelta,
    register: tuple[int, int, int, int],
    answer: tuple[int, int, int, int],
) -> None:
    facts = [
        WrittenFacts(
            "2026-000001-ФЛ",
            "email",
            START,
            START + classified_after if classified_after else None,
            START + replied_after if replied_after else None,
        )
    ]
    report = measure(facts, date(2026, 12, 1), date(2026, 12, 1), START + now_after)
    r, a = report.register, report.answer
    assert (r.in_time, r.late, r.pending, r.overdue) == register
    assert (a.in_time, a.late, a.pending, a.overdue) == answer
    broken = register[1] + register[3] > 0
    assert (r.violations == ("2026-000001-ФЛ",)) is broken


def test_the_norms_report_names_the_violations_in_russian() -> None:
    facts = [
        WrittenFacts("2026-000001-ФЛ", "email", START, START + timedelta(hours=2), None),
        WrittenFacts("2026-000002-ЮЛ", "post", START, None, None),
    ]
    lines = report_lines(
        measure(facts, date(2026, 12, 1), date(2026, 12, 1), START + timedelta(days=3))
    )
    assert (
        lines[0]
        == "Письменные обращения с 01.12.2026 по 01.12.2026: 2 (электронная почта 1, почта 1)"
    )
    assert lines[1].startswith("Регистрация и классификация (не более 1 дн.): в срок 1, ")
    assert "нарушения: 2026-000002-ЮЛ" in lines[1]
    assert "Ответ заявителю (не более 10 дн.)" in lines[2] and "ещё в сроке 2" in lines[2]


def test_channel_and_applicant_words_are_checked() -> None:
    assert parse_channel("E-mail") == "email" and parse_channel("почта") == "post"
    assert parse_applicant("ul") == "ЮЛ" and parse_applicant("гл") == "ГЛ"
    with pytest.raises(WrittenAppealError, match="email, post или visit"):
        parse_channel("fax")
    with pytest.raises(WrittenAppealError, match="ФЛ, ГЛ или ЮЛ"):
        parse_applicant("ИП")
