"""The hotline report as files: literal CSV bytes (rows only), XLSX against the JSON."""

from __future__ import annotations

import io
import json
from datetime import datetime

import openpyxl
import pytest

from contact_center.hotline.exceptions import ReportFormatError
from contact_center.hotline.norms import build_report
from contact_center.hotline.report_file import render, to_csv, to_xlsx
from tests.unit.hotline.test_norms import CALLS, D1, D2

METRIC_HEADERS = [
    f"{name}: {part}"
    for name in (
        "Ожидание ответа оператора",
        "Поиск информации о клиенте",
        "Предоставление информации",
        "Постобработка",
    )
    for part in ("измерений", "среднее, с", "максимум, с", "в нормативе")
]


def test_the_csv_has_a_row_a_day_and_an_operator_and_no_totals_row() -> None:
    header = ";".join(
        [
            *("Раздел", "Дата", "Оператор", "Вызовов", "В очереди", "Ответил оператор"),
            *("Не дождались", *METRIC_HEADERS),
            *("Не дождались: ждали в среднем, с", "Не дождались: ждали до, с"),
        ]
    )
    assert (
        to_csv(build_report(CALLS, D1, D2))
        == (
            "\ufeff" + header + "\r\n"
            "день;25.11.2026;;4;4;3;1;3;26,7;50,0;66,67%;2;40,0;50,0;50%;3;233,3;400,0;66,67%;"
            "3;193,3;400,0;66,67%;70,0;70,0\r\n"
            "день;26.11.2026;;3;2;1;1;1;40,0;40,0;100%;1;45,0;45,0;100%;1;300,0;300,0;100%;"
            "1;300,0;300,0;100%;5,0;5,0\r\n"
            "оператор;;op1;2;2;2;0;2;30,0;50,0;50%;2;40,0;50,0;50%;2;250,0;400,0;50%;"
            "2;230,0;400,0;50%;;\r\n"
            "оператор;;op2;2;2;2;0;2;30,0;40,0;100%;1;45,0;45,0;100%;2;250,0;300,0;100%;"
            "2;210,0;300,0;100%;;\r\n"
        ).encode()
    )


def _flat(group: dict[str, object]) -> list[object]:
    """A JSON group in the sheets' column order."""
    out: list[object] = [group[k] for k in ("calls", "queued", "answered", "abandoned")]
    for metric in ("wait", "lookup", "info", "wrapup"):
        stat = group[metric]
        assert isinstance(stat, dict)
        out += [stat[k] for k in ("count", "avg_s", "max_s", "within_norm_share")]
    wait = group["abandoned_wait"]
    assert isinstance(wait, dict)
    return [*out, wait["avg_s"], wait["max_s"]]


def test_the_xlsx_has_the_json_days_operators_and_totals() -> None:
    report = build_report(CALLS, D1, D2)
    doc = json.loads(json.dumps(report.as_dict()))
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(report)))
    assert book.sheetnames == ["По дням", "По операторам", "Итоги"]
    days = list(book["По дням"].iter_rows(min_row=2, values_only=True))
    assert [list(r) for r in days] == [
        [datetime.fromisoformat(d["day"]), *_flat(d)] for d in doc["by_day"]
    ]
    assert book["По дням"]["A2"].number_format == "DD.MM.YYYY"
    operators = list(book["По операторам"].iter_rows(min_row=2, values_only=True))
    assert [list(r) for r in operators] == [[o["operator"], *_flat(o)] for o in doc["by_operator"]]
    totals = list(book["Итоги"].iter_rows(min_row=2, values_only=True))
    assert totals[:2] == [("Период с", datetime(2026, 11, 25)), ("по", datetime(2026, 11, 26))]
    assert [v for _k, v in totals[2 : 2 + len(_flat(doc))]] == _flat(doc)
    assert book["Итоги"]["B11"].number_format == "0.00%"  # wait: within the norm
    assert totals[-4] == ("Норматив: ожидание ответа оператора, с", 40)


def test_render_names_the_period_and_refuses_another_format() -> None:
    report = build_report(CALLS, D1, D2)
    assert render(report, "xlsx").filename == "hotline-2026-11-25_2026-11-26.xlsx"
    assert json.loads(render(report, "json").content)["calls"] == 7
    assert render(report, "text").content.decode().startswith("Горячая линия 2026-11-25")
    with pytest.raises(ReportFormatError):
        render(report, "ods")
