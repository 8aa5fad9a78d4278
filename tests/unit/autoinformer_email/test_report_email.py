"""One report for both channels: totals computed from the rows."""

from __future__ import annotations

from autoinformer.reports import ReportRow, build_report, to_csv, to_text

ROWS = [
    ReportRow(
        "79130000001",
        "1",
        "notified",
        True,
        1,
        1,
        email="a@x.ru",
        email_status="accepted",
        email_attempts=2,
        email_deferrals=1,
        email_code=250,
        email_reply="2.0.0 Ok",
        email_last_deferral="451 4.3.0 later",
    ),
    ReportRow(
        "79130000002",
        "2",
        "busy",
        False,
        3,
        0,
        email="b@x.ru",
        email_status="failed",
        email_attempts=1,
        email_code=550,
        email_reply="5.1.1 no such user",
    ),
    ReportRow("", "3", "", False, 0, 0, email="c@x.ru", email_status="accepted", email_attempts=1),
    ReportRow(
        "",
        "4",
        "",
        False,
        0,
        0,
        email="d@x.ru",
        email_status="deferred",
        email_attempts=6,
        email_deferrals=6,
    ),
    ReportRow("", "5", "", False, 0, 0, email="e@x.ru", email_status="unknown"),
    ReportRow("", "6", "", False, 0, 0, email="f@x.ru", email_status="queued"),
    ReportRow("79130000007", "7", "notified", True, 1, 1),
]


def test_totals_count_each_channel_over_its_own_rows() -> None:
    t = build_report({"id": 1, "channel": "both"}, ROWS).totals
    assert (t.contacts, t.attempts, t.notified, t.notified_share) == (3, 5, 2, 0.6667)
    assert (t.letters, t.email_accepted, t.email_failed, t.email_deferred) == (6, 2, 1, 1)
    assert (t.email_unknown, t.email_pending, t.email_deferrals) == (1, 1, 7)
    assert (t.recipients, t.reached) == (7, 3)  # rows 1, 3 and 7


def test_csv_and_text_show_both_channels_side_by_side() -> None:
    report = build_report({"id": 1, "name": "n", "channel": "both", "status": "finished"}, ROWS)
    lines = to_csv(report).decode("utf-8-sig").splitlines()
    assert lines[1] == (
        "7 (913) 000-00-01;1;;;;оповещён;да;1;1;нет;;;;a@x.ru;принято сервером;2;1;250;2.0.0 Ok;"
        "451 4.3.0 later;"
    )
    assert lines[3] == ";3;;;;;;0;0;;;;;c@x.ru;принято сервером;1;0;;;;"
    assert len(lines) == 1 + len(ROWS)
    text = to_text(report)
    assert "ответ сервера: 550 5.1.1 no such user" in text
    assert "откладывалось 1 раз: 451 4.3.0 later" in text
    assert "Итого письма: 6, принято сервером 2" in text


def test_a_phone_only_report_keeps_its_columns() -> None:
    report = build_report({"id": 1, "channel": "phone"}, ROWS[-1:])
    lines = to_csv(report).decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "Телефон;Лицевой счёт;ФИО;Адрес;Долг;Итог звонка;Оповещён;Попыток;Ответов;"
        "Ждёт звонка оператора;Примечание;Оповещение другим путём;Звонки (время, номер — итог)"
    )
    assert "Итого: абонентов 1" in to_text(report)
