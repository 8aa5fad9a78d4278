"""`campaign report --status` (and the web's `?status=`): which rows answer each question,
and the debt as read out."""

from __future__ import annotations

import pytest

from autoinformer.campaigns.report_rows import debt_as_read
from autoinformer.exceptions import ReportFormatError
from autoinformer.reports import ReportRow, filter_rows

ROWS = [
    ReportRow("79130000001", "1", "notified", True, 1, 1),
    ReportRow("79130000002", "2", "no_answer", False, 3, 0),
    ReportRow("79130000003", "3", "hung_up", False, 2, 1),
    ReportRow("79130000004", "4", "transferred", False, 1, 1),
    ReportRow("79130000005", "5", "waiting", False, 0, 0),
    ReportRow("", "6", "", False, 0, 0, email="a@example.ru", email_status="accepted"),
    # paid before the call: not called, and nobody to notify
    ReportRow("79130000007", "7", "paid", False, 1, 0),
]


@pytest.mark.parametrize(
    ("status", "accounts"),
    [
        (None, ["1", "2", "3", "4", "5", "6", "7"]),
        ("notified", ["1"]),
        ("not-notified", ["2", "3", "4", "5"]),
        ("not-reached", ["2", "5"]),
        ("waiting", ["5"]),
        ("no-answer", ["2"]),
        ("no_answer", ["2"]),
        ("HUNG-UP", ["3"]),
        ("paid", ["7"]),
    ],
)
def test_status_filter(status: str | None, accounts: list[str]) -> None:
    assert [r.account for r in filter_rows(ROWS, status)] == accounts


def test_unknown_status_filter_names_the_choices() -> None:
    with pytest.raises(ReportFormatError, match="нет такого отбора «всё»; есть: notified"):
        filter_rows(ROWS, "всё")


@pytest.mark.parametrize(
    ("stored", "read"),
    [("1500.50", "1\u00a0500,50\u00a0₽"), ("7", "7,00\u00a0₽"), ("", ""), (None, "")],
)
def test_debt_as_read_out(stored: object, read: str) -> None:
    assert debt_as_read(stored) == read
