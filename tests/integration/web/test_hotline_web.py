"""The hotline, appeals, customers and outages over HTTP against the real service: roles,
validation errors, the all-or-nothing import, search, the journal's filters and export, the
live board over SSE after a sim caller joins the queue, and the metrics."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from contact_center.hotline.sim import originate_caller
from contact_center.operators.models import OperatorState
from contact_center.users.audit import AuditFilter

from .conftest import Client, Console, multipart
from .test_events_stream import SseReader

pytestmark = pytest.mark.integration

GOOD_CSV = (
    "account,name,address,has_contract,phone,email,email_consent\n"
    '100200,Иванов Иван Иванович,"г. Дивногорск, ул. Чкалова, д. 5, кв. 12",да,'
    "+79135550101,,нет\n"
    '100300,Петрова Анна,"г. Дивногорск, ул. Ленина, д. 7",да,8 913 555-01-02,,нет\n'
)
BAD_LINE = '100400,Сидоров,"ул. Мира, 1",да,не телефон,,нет\n'
OUTAGE = {
    "kind": "planned",
    "addresses": "ул. Чкалова; ул. Ленина, д. 5-9",
    "start": "2031-11-26 09:00",
    "end": "2031-11-26 17:00",
    "reason": "ремонт линии",
}


async def actions(console: Console, prefix: str) -> list[str]:
    records = await console.app.users.audit.list(AuditFilter(action=prefix))
    return [r.action for r in records]


async def test_operators_reach_none_of_it_and_strangers_must_log_in(console: Console) -> None:
    operator = await console.user("olga", "operator")
    supervisor = await console.user("stas", "supervisor")
    stranger = console.client()
    for path in ("/api/hotline/board", "/api/hotline/report", "/api/appeals",
                 "/api/appeals/export?format=csv", "/api/customers?q=1", "/api/outages",
                 "/api/customers/100200"):  # fmt: skip
        assert (await operator.get(path)).status == 403, path
        assert (await stranger.get(path)).status == 401, path
    assert (await operator.post("/api/outages", OUTAGE)).status == 403
    body, ctype = multipart({}, {"file": ("base.csv", GOOD_CSV.encode())})
    reply = await operator.request("POST", "/api/customers/import", body=body, content_type=ctype)
    assert reply.status == 403
    for path in ("/hotline", "/appeals", "/customers", "/outages"):
        page = await operator.get(path)
        assert page.status == 403, path
        assert (await stranger.get(path)).status in (302, 303), path
        ok = await supervisor.get(path)
        assert ok.status == 200, (path, ok.text[:300])
        for title in ("Горячая линия", "Обращения", "Клиенты", "Отключения"):
            assert title in ok.text
    board = await supervisor.get("/hotline")
    for element in ('id="board-queue"', 'id="board-operators"', 'id="board-calls"',
                    'id="norm-wait"', 'id="norm-wrapup"', "/static/hotline.js",
                    "/static/vendor/uPlot.iife.min.js"):  # fmt: skip
        assert element in board.text, element
    assert "<script>" not in board.text  # CSP: no inline scripts


async def test_outages_are_added_with_validation_and_removed(console: Console) -> None:
    supervisor = await console.user("stas", "supervisor")
    for change, field in (
        ({"kind": "вечное"}, "kind"),
        ({"addresses": "ул."}, "addresses"),
        ({"addresses": ""}, "addresses"),
        ({"start": "завтра"}, "start"),
        ({"end": "2031-11-26 08:00"}, "end"),
        ({"start": 5}, "start"),
    ):
        reply = await supervisor.post("/api/outages", {**OUTAGE, **change})
        assert reply.status == 422, (change, reply.text)
        assert reply.json()["field"] == field and reply.json()["error"]
    assert (await supervisor.get("/api/outages")).json() == {"outages": []}
    # no CSRF token: refused before anything is stored
    forged = await supervisor.post("/api/outages", OUTAGE, csrf=False)
    assert forged.status == 403
    added = await supervisor.post("/api/outages", OUTAGE)
    assert added.status == 201, added.text
    outage = added.json()["outage"]
    assert (outage["kind_ru"], outage["start"], outage["end"]) == (
        "плановое",
        "2031-11-26 09:00",
        "2031-11-26 17:00",
    )
    listed = (await supervisor.get("/api/outages")).json()["outages"]
    assert [o["id"] for o in listed] == [outage["id"]]
    page = await supervisor.get("/outages")
    assert f'id="outage-{outage["id"]}"' in page.text and "ремонт линии" in page.text
    removed = await supervisor.post(f"/api/outages/{outage['id']}/remove")
    assert removed.status == 200 and removed.json() == {"removed": outage["id"]}
    again = await supervisor.request("DELETE", f"/api/outages/{outage['id']}")
    assert again.status == 404 and again.json()["field"] == "id"
    assert (await supervisor.get("/api/outages")).json() == {"outages": []}
    assert await actions(console, "outage.") == ["outage.remove", "outage.add"]


async def test_a_customer_file_with_a_bad_line_names_it_and_imports_nothing(
    console: Console,
) -> None:
    supervisor = await console.user("stas", "supervisor")

    async def upload(text: str, name: str = "base.csv") -> Any:
        body, ctype = multipart({}, {"file": (name, text.encode())})
        return await supervisor.request(
            "POST", "/api/customers/import", body=body, content_type=ctype
        )

    refused = await upload(GOOD_CSV + BAD_LINE)
    assert refused.status == 422, refused.text
    data = refused.json()
    assert data["field"] == "file" and "не загружен" in data["error"]
    assert [(e["line"], "телефон" in e["reason"]) for e in data["errors"]] == [(4, True)]
    assert await console.app.customers.count() == 0
    assert (await supervisor.get("/api/customers?q=" + quote("Иванов"))).json()["customers"] == []
    assert await actions(console, "customers.") == []

    not_csv = await upload("PK\x03\x04 not a table", "base.xlsx")
    assert not_csv.status == 422 and not_csv.json()["field"] == "file"
    body, ctype = multipart({"other": "x"}, {})
    missing = await supervisor.request(
        "POST", "/api/customers/import", body=body, content_type=ctype
    )
    assert missing.status == 400 and missing.json()["field"] == "file"

    done = await upload(GOOD_CSV)
    assert done.status == 200, done.text
    assert (done.json()["created"], done.json()["updated"]) == (2, 0)
    assert await actions(console, "customers.") == ["customers.import"]


async def test_customers_are_found_by_account_name_phone_or_address(console: Console) -> None:
    supervisor = await console.user("stas", "supervisor")
    body, ctype = multipart({}, {"file": ("base.csv", GOOD_CSV.encode())})
    reply = await supervisor.request("POST", "/api/customers/import", body=body, content_type=ctype)
    assert reply.status == 200, reply.text

    async def found(q: str) -> list[str]:
        reply = await supervisor.get(f"/api/customers?q={quote(q)}")
        assert reply.status == 200, reply.text
        return [c["account"] for c in reply.json()["customers"]]

    assert await found("1003") == ["100300"]
    assert await found("иванов") == ["100200"]
    assert await found("+7 (913) 555-01-02") == ["100300"]
    assert await found("Ленина") == ["100300"]
    assert await found("Дивногорск") == ["100200", "100300"]
    assert await found("Сидоров") == []
    blank = await supervisor.get("/api/customers?q=")
    assert blank.status == 400 and blank.json()["field"] == "q"
    one = await supervisor.get("/api/customers/100300")
    assert one.status == 200
    assert one.json()["customer"]["phones"] == ["+79135550102"]
    missing = await supervisor.get("/api/customers/999999")
    assert missing.status == 404 and missing.json()["field"] == "account"
    page = await supervisor.get("/customers?q=" + quote("петрова"))
    assert 'id="customers-found"' in page.text and "100300" in page.text
    card = await supervisor.get("/customers/100300")
    assert 'id="customer-account"' in card.text and "Петрова Анна" in card.text


async def test_the_appeals_journal_filters_and_exports(console: Console) -> None:
    supervisor = await console.user("stas", "supervisor")
    appeals = console.app.hotline.appeals
    day = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 10:00 in Krasnoyarsk
    for i, outcome in enumerate(("answered", "abandoned", "answered", "old"), start=1):
        when = day + timedelta(minutes=i) - (timedelta(days=3) if outcome == "old" else timedelta())
        ref = await appeals.register(uniqueid=f"web-{i}", channel="c", caller_number="+79135550101",
                                     customer_id=None, arrived_at=when)  # fmt: skip
        if outcome == "abandoned":
            await appeals.set(ref.id, abandoned=True, wait_s=55.0, ended_at=when)
        else:
            await appeals.set(ref.id, operator_answered_at=when, wait_s=10.0 * i, ended_at=when,
                              classification="КЭ" if i == 1 else "Т")  # fmt: skip

    async def journal(query: str) -> dict[str, Any]:
        reply = await supervisor.get(f"/api/appeals?{query}")
        assert reply.status == 200, reply.text
        return reply.json()

    period = "from=2026-12-02&to=2026-12-02"
    everything = await journal(period)
    assert everything["total"] == 3 and len(everything["appeals"]) == 3
    assert [a["status"] for a in (await journal(period + "&status=abandoned"))["appeals"]] == [
        "abandoned"
    ]
    assert (await journal(period + "&class=" + quote("кэ")))["total"] == 1
    assert (await journal("from=2026-11-25&to=2026-12-02"))["total"] == 4
    paged = await journal(period + "&limit=2&offset=2")
    assert (paged["total"], len(paged["appeals"])) == (3, 1)
    for query, field in (("from=2026-12-40", "from"), ("status=" + quote("никакой"), "status"),
                         ("class=ZZ", "class"), ("limit=0", "limit"),
                         ("from=2026-12-02&to=2026-12-01", "to")):  # fmt: skip
        bad = await supervisor.get(f"/api/appeals?{query}")
        assert bad.status == 400 and bad.json()["field"] == field, query
    page = await supervisor.get(f"/appeals?{period}&status=answered")
    assert 'id="appeals-table"' in page.text and 'id="appeals-export-xlsx"' in page.text
    assert "status=answered" in page.text.split('id="appeals-export-csv"')[1][:200]

    csv_reply = await supervisor.get(f"/api/appeals/export?format=csv&{period}")
    assert csv_reply.status == 200
    assert csv_reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_reply.headers["content-disposition"]
    text = csv_reply.body.decode("utf-8-sig")
    assert csv_reply.body.startswith(b"\xef\xbb\xbf") and text.count("\r\n") == 1 + 3
    assert "7 (913) 555-01-01" in text and ";55,0;" in text
    xlsx = await supervisor.get(f"/api/appeals/export?format=xlsx&{period}&status=answered")
    assert xlsx.status == 200
    sheet = load_workbook(io.BytesIO(xlsx.body)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    numbers = [a["number"] for a in (await journal(period + "&status=answered"))["appeals"]]
    assert [r[0] for r in rows[1:]] == numbers
    assert (await supervisor.get("/api/appeals/export?format=pdf")).json()["field"] == "format"

    report = await supervisor.get("/api/hotline/report?date=2026-12-02")
    assert report.status == 200
    data = report.json()
    assert (data["calls"], data["answered"], data["abandoned"]) == (3, 2, 1)
    assert data["norms_s"]["wait"] == 40.0
    bad_day = await supervisor.get("/api/hotline/report?date=02/12/2026")
    assert bad_day.status == 400 and bad_day.json()["field"] == "date"


async def next_event(
    sse: SseReader, name: str, predicate: Callable[[Any], bool], timeout: float
) -> tuple[Any, float]:
    """The first `name` event whose data satisfies `predicate`, and when it came."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching {name} event within {timeout:g} s")
        event, data = await sse.event(timeout=left)
        if event == name and predicate(data):
            return data, time.monotonic()


async def test_the_board_streams_a_queued_caller_within_a_second_and_metrics_see_the_wait(
    hotline_console: Console,
) -> None:
    console = hotline_console
    app = console.app
    supervisor: Client = await console.user("stas", "supervisor")
    # every operator paused: the caller stays in the queue until the test hangs up
    for op in await app.operators.all():
        if op.state == OperatorState.AVAILABLE:
            await app.operators.pause(op.code, "тест")
    sse = await SseReader.open(supervisor)
    try:
        assert sse.status == 200
        await next_event(sse, "link", lambda d: d["up"] is True, 5)
        # the pauses reach the board through QueueMemberPause
        first, _ = await next_event(
            sse,
            "hotline",
            lambda d: bool(d["operators"]) and all(o["state"] == "paused" for o in d["operators"]),
            5,
        )
        assert first["queue"]["waiting"] == 0 and first["link"] is True
        assert first["norms"]["norms_s"]["wait"] == 40.0

        joined: dict[str, float] = {}

        def on_join(event: Any) -> None:
            joined.setdefault(str(event.get("Uniqueid")), time.monotonic())

        remove = app.link.on_event("QueueCallerJoin", on_join)
        try:
            from contact_center.hotline.sim import menu_delay

            sim = await originate_caller(
                app, "d0", caller_id="+73914400000", dtmf_delay=await menu_delay(app.speech)
            )
            assert sim.answered, sim.error
            uid = sim.hotline_uniqueid
            data, seen = await next_event(
                sse, "hotline", lambda d: any(c["id"] == uid for c in d["queue"]["callers"]), 40
            )
        finally:
            remove()
        assert seen - joined[uid] < 1.0, f"pushed {seen - joined[uid]:.2f} s after the join"
        caller = next(c for c in data["queue"]["callers"] if c["id"] == uid)
        assert caller["caller"] == "+7********00" and caller["position"] == 1
        assert data["queue"]["waiting"] == 1 and data["queue"]["longest_since"] <= data["at"]
        assert any(c["id"] == uid and c["state"] == "queued" for c in data["calls"])
        board = (await supervisor.get("/api/hotline/board")).json()
        assert board["queue"]["waiting"] == 1

        metrics = (await supervisor.get("/metrics")).text
        assert "cc_hotline_callers_waiting 1.0" in metrics
        assert "cc_ami_link_up 1.0" in metrics

        await app.link.action("Hangup", Channel=sim.channel_id)
        await next_event(sse, "hotline", lambda d: d["queue"]["waiting"] == 0, 10)
    finally:
        sse.close()

    async def observed() -> str | None:
        text = (await supervisor.get("/metrics")).text
        return text if "cc_hotline_queue_wait_seconds_count 1.0" in text else None

    deadline = time.monotonic() + 5
    text = await observed()
    while text is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        text = await observed()
    assert text is not None, "the wait was not observed"
    assert 'cc_hotline_queue_wait_seconds_bucket{le="40.0"} 1.0' in text
    assert "cc_hotline_callers_waiting 0.0" in text
    assert "+7913" not in text and "3914400000" not in text
