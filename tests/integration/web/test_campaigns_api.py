"""Campaigns over HTTP on the real service: upload with refused rows, refusals naming the
field, roles, CSRF, start and the live event stream, contacts filter, reports, metrics."""

from __future__ import annotations

import asyncio
import csv
import http.client
import io
import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests.integration.autoinformer.conftest import SHORT_SCENARIO
from tests.integration.waiting import wait_for

from .conftest import Client, Console, ConsoleFactory, multipart

pytestmark = pytest.mark.integration

KRS = ZoneInfo("Asia/Krasnoyarsk")
TUESDAY_11 = datetime(2026, 12, 1, 11, 0, tzinfo=KRS)
# sim customers: the last digit picks the behaviour (1 listens to the end, 2 is busy)
GOOD_LIST = "phone,account,debt\n+79130000001,1001,150\n+79130000002,1002,200\n"
ONE_BAD_ROW = (
    "phone,account,debt\n+79130000001,1001,150\nне-телефон,1002,200\n+79130000011,1003,90\n"
)


def campaign_fields(**over: str) -> dict[str, str]:
    fields = {
        "name": "Долги декабря",
        "kind": "debt",
        "scenario": "test-debt",
        "ring_timeout": "3",
        "retry": "busy=1/1s, no_answer=1/1s",
        "caps": "none",
    }
    fields.update(over)
    return {k: v for k, v in fields.items() if v != ""}


async def add_short_scenario(client: Client) -> None:
    reply = await client.request(
        "POST", "/api/scenarios", body=SHORT_SCENARIO.encode(), content_type="text/plain"
    )
    assert reply.status in (200, 201), reply.text


async def create(client: Client, text: str, **over: str) -> Any:
    body, kind = multipart(campaign_fields(**over), {"list": ("список.csv", text.encode())})
    return await client.request("POST", "/api/campaigns", body=body, content_type=kind)


async def test_an_upload_with_one_bad_row_creates_the_campaign_and_names_the_line(
    console: Console,
) -> None:
    anna = await console.user("anna", "supervisor")
    await add_short_scenario(anna)
    reply = await create(anna, ONE_BAD_ROW)
    assert reply.status == 201, reply.text
    data = reply.json()
    assert data["contacts"] == 2
    assert [r["line"] for r in data["rejected"]] == [3]
    assert "телефон" in data["rejected"][0]["reason"]
    listed = (await anna.get("/api/campaigns")).json()["campaigns"]
    assert [(c["id"], c["status"], c["counts"]["total"]) for c in listed] == [
        (data["id"], "created", 2)
    ]
    audit = await console.app.users.audit.list()
    created = [a for a in audit if a.action == "campaign.create"]
    assert created and created[0].actor == "anna" and created[0].object_id == str(data["id"])


async def test_a_list_with_nothing_valid_is_a_422_with_every_row_and_nothing_created(
    console: Console,
) -> None:
    boris = await console.user("boris", "supervisor")
    await add_short_scenario(boris)
    reply = await create(boris, "phone,account,debt\nнет,1,100\n12,2,100\n")
    assert reply.status == 422, reply.text
    data = reply.json()
    assert data["field"] == "list"
    assert [r["line"] for r in data["rejected"]] == [2, 3]
    assert (await boris.get("/api/campaigns")).json()["campaigns"] == []


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"kind": "nonsense"}, "kind", "вид кампании"),
        ({"ring_timeout": "1"}, "ring_timeout", "время дозвона"),
        ({"start": "завтра"}, "start", "дата и время"),
        ({"retry": "busy=много"}, "retry", "попыток"),
        ({"scenario": "no-such"}, "scenario", "нет сценария"),
        ({"scenario": "outage-warning"}, "scenario", "для уведомлений вида outage"),
        ({"name": ""}, "name", "название"),
        ({"end": "2020-01-01T10:00"}, "end", "конец кампании"),
    ],
)
async def test_a_refused_field_is_a_422_naming_it_and_nothing_is_created(
    console: Console, over: dict[str, str], field: str, words: str
) -> None:
    vera = await console.user("vera", "supervisor")
    await add_short_scenario(vera)
    reply = await create(vera, GOOD_LIST, **over)
    assert reply.status == 422, reply.text
    assert reply.json()["field"] == field and words in reply.json()["error"], reply.text
    assert b"Traceback" not in reply.body
    assert (await vera.get("/api/campaigns")).json()["campaigns"] == []


BASE = (
    "Лицевой счёт;ФИО;Адрес;Договор;Телефон;Эл. почта;Согласие на рассылку;Долг\n"
    "100200;Иванов Иван;г. Дивногорск, ул. Чкалова, д. 5, кв. 12;да;+79135550101;;нет;1 200,00\n"
    "100300;Петрова Анна;г. Дивногорск, ул. Ленина, д. 7;да;+79135550102;;нет;300\n"
    "100400;Сидоров Пётр;г. Дивногорск, ул. Ленина, д. 11;да;+79135550103;;нет;5 000\n"
)


async def test_a_campaign_targets_the_base_by_filter_or_a_registered_outage(
    console: Console,
) -> None:
    vera = await console.user("vera", "supervisor")
    body, ctype = multipart({}, {"file": ("база.csv", BASE.encode())})
    imported = await vera.request("POST", "/api/customers/import", body=body, content_type=ctype)
    assert imported.status == 200, imported.text

    async def create_from(fields: dict[str, str]) -> Any:
        body, kind = multipart(campaign_fields(scenario="", **fields), {})
        return await vera.request("POST", "/api/campaigns", body=body, content_type=kind)

    debtors = await create_from({"list": "customers", "where": "address=ул. Ленина\ndebt>=1000"})
    assert debtors.status == 201, debtors.text
    assert debtors.json()["contacts"] == 1  # Сидоров: Ленина and 5 000; Петрова owes 300
    bad = await create_from({"list": "customers", "where": "debt>=много"})
    assert (bad.status, bad.json()["field"]) == (422, "where"), bad.text

    outage = (
        await vera.post(
            "/api/outages",
            {
                "kind": "planned",
                "addresses": "ул. Чкалова; ул. Ленина, д. 5-9",
                "start": "2031-11-26 09:00",
                "end": "2031-11-26 17:00",
            },
        )
    ).json()["outage"]
    page = await vera.get("/campaigns/new")
    assert f'<option value="{outage["id"]}">№ {outage["id"]}: 26.11 09:00' in page.text
    with_times = await create_from(
        {"kind": "outage", "outage": str(outage["id"]), "outage_start": "2031-11-26T09:00"}
    )
    assert (with_times.status, with_times.json()["field"]) == (422, "outage_start")
    warned = await create_from({"kind": "outage", "outage": str(outage["id"])})
    assert warned.status == 201, warned.text
    assert warned.json()["contacts"] == 2  # Чкалова, 5 and Ленина, 7; not Ленина, 11
    shown = (await vera.get(f"/api/campaigns/{warned.json()['id']}")).json()
    assert shown["schedule"]["outage_start"].startswith("2031-11-26"), shown["schedule"]


async def test_operators_are_refused_and_strangers_must_log_in(console: Console) -> None:
    oleg = await console.user("oleg", "operator")
    for path in ("/api/campaigns", "/api/scenarios", "/api/campaigns/1/report?format=csv"):
        assert (await oleg.get(path)).status == 403, path
        assert (await console.client().get(path)).status == 401, path
    assert (await create(oleg, GOOD_LIST)).status == 403
    page = await console.client().get("/campaigns")
    assert page.status == 303 and page.headers["location"] == "/login"
    assert (await oleg.get("/campaigns")).status == 403


async def test_creating_and_starting_need_the_csrf_token(console: Console) -> None:
    gleb = await console.user("gleb", "supervisor")
    await add_short_scenario(gleb)
    token, gleb.csrf = gleb.csrf, ""
    refused = await create(gleb, GOOD_LIST)
    assert refused.status == 403 and refused.json()["field"] == "csrf"
    gleb.csrf = token
    assert (await gleb.get("/api/campaigns")).json()["campaigns"] == []
    made = (await create(gleb, GOOD_LIST)).json()
    start = await gleb.post(f"/api/campaigns/{made['id']}/start", {}, csrf=False)
    assert start.status == 403
    shown = (await gleb.get(f"/api/campaigns/{made['id']}")).json()
    assert shown["status"] == "created"


async def test_a_refused_transition_is_a_409_with_the_reason(console: Console) -> None:
    dina = await console.user("dina", "supervisor")
    await add_short_scenario(dina)
    made = (await create(dina, GOOD_LIST)).json()
    cancelled = await dina.post(f"/api/campaigns/{made['id']}/cancel", {})
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    again = await dina.post(f"/api/campaigns/{made['id']}/start", {})
    assert again.status == 409
    assert "нельзя запустить" in again.json()["error"] and again.json()["field"] == "status"
    missing = await dina.post("/api/campaigns/999/pause", {})
    assert missing.status == 404 and "нет кампании 999" in missing.json()["error"]


def read_campaign_event(
    port: int, cookie: str, campaign_id: int, wanted: Any, timeout: float
) -> tuple[dict[str, Any], list[str]]:
    """Read /api/events until a `campaign` event of `campaign_id` satisfies `wanted`; also
    returns every event name seen (a blocking reader, run in a thread)."""
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    names: list[str] = []
    try:
        conn.request("GET", "/api/events", headers={"Cookie": cookie})
        response = conn.getresponse()
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event, data = "", ""
        while time.monotonic() < deadline:
            line = response.readline().decode("utf-8")
            if not line:
                break
            line = line.rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "" and event:
                names.append(event)
                payload = json.loads(data)
                if event == "campaign" and payload.get("id") == campaign_id and wanted(payload):
                    return payload, names
                event, data = "", ""
        raise AssertionError(f"no matching campaign event in {timeout} s (saw {names})")
    finally:
        conn.close()


async def test_start_runs_the_campaign_live_on_the_stream_then_contacts_reports_metrics(
    console_at: ConsoleFactory,
) -> None:
    async with console_at(now=TUESDAY_11) as console:
        sveta = await console.user("sveta", "supervisor")
        await add_short_scenario(sveta)
        made = (await create(sveta, GOOD_LIST)).json()
        cid = made["id"]
        cookie = "; ".join(f"{k}={v}" for k, v in sveta.cookies.items())
        # the stream is open before the start: the event must be caused by it
        stream = asyncio.create_task(
            asyncio.to_thread(
                read_campaign_event,
                console.port,
                cookie,
                cid,
                lambda p: p["status"] == "running" and p["attempts"] >= 1,
                40.0,
            )
        )
        await asyncio.sleep(0)
        started = await sveta.post(f"/api/campaigns/{cid}/start", {})
        assert started.status == 200, started.text
        assert started.json()["status"] == "running"
        event, names = await asyncio.wait_for(stream, 45)
        assert event["total"] == 2 and "point" in event and event["point"]["attempts"] >= 1
        assert set(names) <= {"campaign", "hotline", "link"}

        async def finished() -> dict[str, Any] | None:
            shown = (await sveta.get(f"/api/campaigns/{cid}")).json()
            return shown if shown["status"] == "finished" else None

        shown = await wait_for(finished, 60, f"campaign {cid} to finish")
        assert (shown["notified"], shown["failed"], shown["by_status"]) == (
            1,
            1,
            {"busy": 1, "notified": 1},
        )

        async def charted() -> list[dict[str, float]] | None:
            # the poller catches up within its interval; the points stay after the end
            series = (await sveta.get(f"/api/campaigns/{cid}")).json()["series"]
            return series if series and series[-1]["notified"] == 1 else None

        series = await wait_for(charted, 5, "the chart's last point to show the notified one")
        assert len(series) >= 2 and series[0]["t"] < series[-1]["t"]
        assert [p["attempts"] for p in series] == sorted(p["attempts"] for p in series)

        notified = (await sveta.get(f"/api/campaigns/{cid}/contacts?status=notified")).json()
        assert notified["total"] == 1 and notified["contacts"][0]["phone"] == "79130000001"
        by_account = (await sveta.get(f"/api/campaigns/{cid}/contacts?q=1002")).json()
        assert [c["status"] for c in by_account["contacts"]] == ["busy"]
        bad = await sveta.get(f"/api/campaigns/{cid}/contacts?status=nonsense")
        assert bad.status == 400 and bad.json()["field"] == "status"

        as_json = await sveta.get(f"/api/campaigns/{cid}/report?format=json")
        assert as_json.status == 200 and "attachment" in as_json.headers["content-disposition"]
        report = as_json.json()
        assert report["totals"]["notified"] == 1 and len(report["contacts"]) == 2
        as_csv = await sveta.get(f"/api/campaigns/{cid}/report?format=csv")
        assert as_csv.status == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.body.startswith(b"\xef\xbb\xbf"), "a BOM: a Russian Excel reads UTF-8"
        rows = list(csv.reader(io.StringIO(as_csv.body.decode("utf-8-sig")), delimiter=";"))
        assert len(rows) == 1 + 2, "a header and one row a contact, no totals"
        as_xlsx = await sveta.get(f"/api/campaigns/{cid}/report?format=xlsx")
        assert as_xlsx.status == 200 and as_xlsx.body[:2] == b"PK"
        assert ".xlsx" in as_xlsx.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.body)).worksheets[0]
        assert sheet.max_row == 1 + len(report["contacts"])
        bad_format = await sveta.get(f"/api/campaigns/{cid}/report?format=pdf")
        assert bad_format.status == 400 and bad_format.json()["field"] == "format"

        metrics = (await console.client().get("/metrics")).text
        assert (
            f'autoinformer_campaign_contacts{{campaign="{cid}",status="notified"}} 1.0' in metrics
        )
        assert "7913000000" not in metrics, "no phone number in any label"
        audit = [a.action for a in await console.app.users.audit.list()]
        assert "campaign.start" in audit


async def test_the_pages_carry_the_ids_the_browser_tests_use(console: Console) -> None:
    petr = await console.user("petr", "supervisor")
    await add_short_scenario(petr)
    made = (await create(petr, ONE_BAD_ROW)).json()
    listing = await petr.get("/campaigns")
    assert listing.status == 200 and f'id="campaign-row-{made["id"]}"' in listing.text
    assert 'href="/campaigns"' in listing.text and "Сценарии" in listing.text
    new = (await petr.get("/campaigns/new")).text
    for element in ("campaign-form", "f-list", "refused-rows", "create-campaign", "start-campaign"):
        assert f'id="{element}"' in new, element
    live = (await petr.get(f"/campaigns/{made['id']}")).text
    for element in (
        "counter-notified",
        "counter-attempts",
        "progress-chart",
        "report-xlsx",
        "report-csv",
        "contacts-filter",
        "start-campaign",
        "pause-campaign",
    ):
        assert f'id="{element}"' in live, element
    assert "<script>" not in live, "no inline script passes the CSP"
    script = await petr.get("/ai/static/campaign.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "cc.events" in script.text
    assert (await petr.get("/ai/static/..%2Fhttp.py")).status == 404
    assert (await petr.get(f"/campaigns/{made['id'] + 100}")).status == 404
