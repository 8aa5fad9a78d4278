"""A campaign report as the files a supervisor downloads: CSV bytes, XLSX read back with
openpyxl against the JSON, and the formats there are."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from autoinformer.campaigns.service import CampaignSpec
from autoinformer.exceptions import CampaignNotFound, ReportFormatError
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from autoinformer.reports import (
    EMAIL_STATUS_RU,
    ReportRow,
    build_report,
    render,
    to_csv,
    to_json,
    to_xlsx,
)
from autoinformer.scheduling import STATUS_RU
from contact_center.app import build_app
from contact_center.settings import Settings
from contact_center.storage import migrate

CAMPAIGN = {
    "id": 7,
    "name": "Долги, ноябрь",
    "kind": "debt",
    "scenario": "debt-notice@1",
    "status": "finished",
    "start": "2026-12-01T02:00:00+00:00",
    "end": None,
    "channel": "both",
    "timezone": "Asia/Krasnoyarsk",
}
ROWS = [
    ReportRow(
        "79130000001",
        "240001",
        "notified",
        True,
        2,
        1,
        email="a@x.ru",
        email_status="accepted",
        email_attempts=1,
        email_code=250,
        email_reply="2.0.0 Ok: queued as 4F2",
    ),
    ReportRow("79130000002", "=1+1", "busy", False, 3, 0, callback=True, note="ждёт повтора"),
    ReportRow(
        "",
        "240003",
        "",
        False,
        0,
        0,
        email="c@x.ru",
        email_status="failed",
        email_code=550,
        email_reply="5.1.1 no such user",
    ),
]


def test_a_phone_only_csv_is_rows_only_in_russian() -> None:
    phone_only = [ReportRow("79130000001", "240001", "notified", True, 2, 1), ROWS[1]]
    report = build_report({"id": 1, "channel": "phone"}, phone_only)
    assert (
        to_csv(report)
        == (
            "\ufeffТелефон;Лицевой счёт;ФИО;Адрес;Долг;Итог звонка;Оповещён;Попыток;Ответов;"
            "Ждёт звонка оператора;Примечание;Оповещение другим путём;"
            "Звонки (время, номер — итог)\r\n"
            "7 (913) 000-00-01;240001;;;;оповещён;да;2;1;нет;;;\r\n"
            "7 (913) 000-00-02;'=1+1;;;;занято;нет;3;0;да;ждёт повтора;;\r\n"
        ).encode()
    )


def _expected_row(c: dict[str, Any]) -> list[object]:
    """A JSON contact as the sheet «Абоненты» shows it: Russian statuses, да/нет, empty for
    "" (a recipient with only an address has no call: no flags either)."""

    def blank(value: object) -> object:
        return None if value == "" else value

    def yes(flag: bool) -> object:
        return ("да" if flag else "нет") if c["phone"] else None

    return [
        blank(c["phone"]),
        blank(c["account"]),
        blank(c["name"]),
        blank(c["address"]),
        blank(c["debt"]),
        blank(STATUS_RU.get(c["status"], c["status"])),
        yes(c["notified"]),
        c["attempts"],
        c["answered"],
        yes(c["callback"]),
        blank(c["note"]),
        blank(c["follow_up_label"]),
        blank("; ".join(call["at"] for call in c["calls"])),
        blank(c["email"]),
        blank(EMAIL_STATUS_RU.get(c["email_status"], c["email_status"])),
        c["email_attempts"],
        c["email_deferrals"],
        c["email_code"],
        blank(c["email_reply"]),
        blank(c["email_last_deferral"]),
        blank(c["email_note"]),
    ]


def test_the_xlsx_has_the_json_rows_and_its_totals() -> None:
    report = build_report(CAMPAIGN, ROWS)
    data = json.loads(to_json(report))
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(report)))
    assert book.sheetnames == ["Абоненты", "Итоги"]
    rows = list(book["Абоненты"].values)
    assert rows[0][:6] == ("Телефон", "Лицевой счёт", "ФИО", "Адрес", "Долг", "Итог звонка")
    assert [list(r) for r in rows[1:]] == [_expected_row(c) for c in data["contacts"]]
    assert book["Абоненты"]["B3"].data_type == "s"  # "=1+1" is text, not a formula
    totals = {k: v for k, v in book["Итоги"].iter_rows(min_row=2, values_only=True)}
    t = data["totals"]
    assert totals["Кампания"] == 7 and totals["Вид"] == "задолженность"
    assert totals["Начало"] == datetime(2026, 12, 1, 9, 0)  # Krasnoyarsk wall time
    assert "Окончание" not in totals
    assert (totals["Абонентов для звонков"], totals["Попыток"]) == (t["contacts"], t["attempts"])
    assert totals["Доля оповещённых"] == t["notified_share"] == 0.5
    assert totals["Итог звонка «занято»"] == t["by_status"]["busy"] == 1
    assert (totals["Писем"], totals["Не доставлено"]) == (t["letters"], t["email_failed"])
    assert totals["Оповещено хотя бы одним путём"] == t["reached"] == 1


def test_render_names_each_format_and_refuses_another() -> None:
    report = build_report(CAMPAIGN, ROWS)
    files = {fmt: render(report, fmt) for fmt in ("csv", "json", "xlsx", "text")}
    assert [f.filename for f in files.values()] == [
        "campaign-7-report.csv",
        "campaign-7-report.json",
        "campaign-7-report.xlsx",
        "campaign-7-report.txt",
    ]
    assert files["csv"].content == to_csv(report)
    assert json.loads(files["json"].content) == json.loads(to_json(report))
    assert files["xlsx"].content.startswith(b"PK")
    assert files["text"].content.decode().startswith("Кампания 7 «Долги, ноябрь»")
    with pytest.raises(ReportFormatError, match="нет отчёта в формате «pdf»"):
        render(report, "pdf")


async def test_the_service_gives_the_web_a_file_or_a_domain_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    plugin = AutoinformerPlugin(http=False, phone=False)
    await asyncio.to_thread(migrate.upgrade, url, [plugin])
    async with build_app(Settings(database_url=url), plugins=[plugin]) as app:
        campaigns = app.part(Autoinformer).campaigns
        spec = CampaignSpec(name="Долги", kind="debt", scenario="debt-notice")
        data = b"phone;account;debt\n+79130000001;240001;1500\n"
        created = await campaigns.create(spec, list_data=data, list_name="debts.csv")
        campaign_id = created.campaign_id
        file = await campaigns.report_file(campaign_id, "csv")
        assert (file.filename, file.content_type) == (
            f"campaign-{campaign_id}-report.csv",
            "text/csv; charset=utf-8",
        )
        assert file.content.decode("utf-8-sig").split("\r\n")[1].startswith("7 (913) 000-00-01;")
        with pytest.raises(ReportFormatError):
            await campaigns.report_file(campaign_id, "pdf")
        with pytest.raises(CampaignNotFound):
            await campaigns.report_file(campaign_id + 1, "xlsx")


def test_the_json_keeps_the_codes_and_gives_the_russian_words_beside_them() -> None:
    data = json.loads(to_json(build_report(CAMPAIGN, ROWS)))
    for row in data["contacts"]:
        assert row["status_label"] == STATUS_RU.get(row["status"], row["status"])
        assert row["email_status_label"] == EMAIL_STATUS_RU.get(
            row["email_status"], row["email_status"]
        )
    assert any(row["status_label"] != row["status"] for row in data["contacts"])
