"""The operator's desk over HTTP against the real service and Asterisk: refusals with the
service's Russian reason, nobody acting for another operator, a sim hotline call popping up
on the rung operator's event stream (and nobody else's) within a second of AgentCalled, and
the three norm buttons stamping the appeal that the per-operator report then measures, and
the call-backs due today (hotline messages, campaign requests) with «Перезвонить»."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from autoinformer.models import Campaign, CampaignContact, ScenarioRow
from contact_center.app import App
from contact_center.customers.csv_import import parse_customers
from contact_center.hotline.models import Appeal
from contact_center.hotline.outages import OutageRecord
from contact_center.hotline.sim import menu_delay, originate_caller
from contact_center.operators.models import OperatorState
from tests.integration.hotline.conftest import CUSTOMERS, until

from .conftest import PASSWORD, Client, Console, ConsoleFactory
from .test_campaigns_api import TUESDAY_11, add_short_scenario, create
from .test_events_stream import SseReader
from .test_hotline_web import next_event

pytestmark = pytest.mark.integration

OPERATOR_1, OPERATOR_2 = "sim-operator-1", "sim-operator-2"
CALLER = "+79135550101"  # customer 100200 in CUSTOMERS, ул. Чкалова
# the key lands in the menu even when a loaded machine plays the recording warning slowly
# (a key pressed during the warning is not heard, and the caller would stay in the menus)
DTMF_MARGIN = 2.0


async def desk_user(console: Console, login: str, role: str, code: str | None) -> Client:
    """A user linked to operator `code` (the operator must exist: the queue's reconcile
    registers the sim operators at start), logged in."""
    if code is not None:

        async def registered() -> bool:
            return any(op.code == code for op in await console.app.operators.all())

        await until(registered, timeout=10, what=f"operator {code} to be registered")
    await console.app.users.users.add(login, role, PASSWORD, actor="test", operator_code=code)
    client = console.client()
    assert (await client.login(login)).status == 200
    return client


async def desk_state(client: Client) -> dict[str, Any]:
    reply = await client.get("/api/desk/state")
    assert reply.status == 200, reply.text
    return dict(reply.json())


async def only_operator_1_rings(app: App) -> None:
    for op in await app.operators.all():
        if op.code != OPERATOR_1 and op.state == OperatorState.AVAILABLE:
            await app.operators.pause(op.code, "тест")


async def test_the_desk_refuses_an_unknown_phone_with_the_services_reason(
    console: Console,
) -> None:
    olga = await desk_user(console, "olga", "operator", OPERATOR_1)
    page = await olga.get("/desk")
    assert page.status == 200, page.text[:300]
    for text in ("Готов", "Пауза", "Выйти из очереди", "Клиент найден", "Информация предоставлена",
                 "Постобработка завершена", "/static/desk.js"):  # fmt: skip
        assert text in page.text, text
    assert "<script>" not in page.text  # CSP: no inline scripts
    assert (await olga.post("/api/desk/logout")).status == 200
    assert (await desk_state(olga))["operator"]["state"] == "logged_out"

    unknown = await olga.post("/api/desk/ready", {"interface": "PJSIP/nobody77"})
    assert unknown.status == 422, unknown.text
    assert "неизвестен Asterisk" in unknown.json()["error"]
    assert unknown.json()["field"] == "interface"
    chan_sip = await olga.post("/api/desk/ready", {"interface": "SIP/op103"})
    assert chan_sip.status == 422 and "PJSIP" in chan_sip.json()["error"]
    assert (await desk_state(olga))["operator"]["state"] == "logged_out"

    back = await olga.post("/api/desk/ready", {"interface": "Local/1@sim-operators/n"})
    assert back.status == 200, back.text
    assert back.json()["operator"]["state"] == "available"
    paused = await olga.post("/api/desk/pause", {"reason": "обед"})
    assert paused.status == 200 and paused.json()["operator"]["state"] == "paused"
    members = {m.interface: m for m in await console.app.operators.queue.members()}
    assert members["Local/1@sim-operators/n"].paused
    assert (await olga.post("/api/desk/pause", {"reason": ""})).status == 422
    ready = await olga.post("/api/desk/ready", {})
    assert ready.status == 200 and ready.json()["operator"]["state"] == "available"
    members = {m.interface: m for m in await console.app.operators.queue.members()}
    assert not members["Local/1@sim-operators/n"].paused
    # no call: the steps are refused with the service's reason, not a traceback
    step = await olga.post("/api/desk/lookup-done")
    assert step.status == 409 and "нет текущего обращения" in step.json()["error"]
    # operators search customers through the desk only
    assert (await olga.get("/api/customers?q=1")).status == 403
    assert (await olga.get("/api/desk/customers?q=1")).status == 200
    assert (await olga.get("/api/desk/callbacks")).json() == {"callbacks": []}


async def test_an_operator_acts_only_for_themselves(console: Console) -> None:
    olga = await desk_user(console, "olga", "operator", OPERATOR_1)
    petr = await desk_user(console, "petr", "operator", OPERATOR_2)
    stas = await desk_user(console, "stas", "supervisor", None)
    try:
        assert (await olga.post("/api/desk/pause", {"reason": "перерыв"})).status == 200
        assert (await desk_state(olga))["operator"]["state"] == "paused"
        assert (await desk_state(petr))["operator"]["state"] == "available"
        other = await olga.post("/api/desk/logout", {"operator": OPERATOR_2})
        assert other.status == 403 and other.json()["field"] == "operator"
        assert (await desk_state(petr))["operator"]["state"] == "available"
        # a supervisor without an operator code gets the reason, not a desk
        page = await stas.get("/desk")
        assert page.status == 403 and "не связана с кодом оператора" in page.text
        api = await stas.get("/api/desk/state")
        assert api.status == 403 and "не связана с кодом оператора" in api.json()["error"]
        # nobody else's desk over CSRF-less posts either
        assert (await olga.post("/api/desk/ready", {}, csrf=False)).status == 403
    finally:
        await olga.post("/api/desk/ready", {})


async def test_a_hotline_call_pops_up_on_the_rung_operators_stream_and_the_norms_are_stored(
    desk_console: Console,
) -> None:
    console = desk_console
    app = console.app
    parsed = parse_customers(CUSTOMERS.encode(), region="RU")
    await app.customers.import_rows(parsed.rows)
    now = app.clock.now()
    await app.hotline.outages.add(
        OutageRecord("planned", "ул. Чкалова", now + timedelta(hours=2), now + timedelta(hours=5),
                     "ремонт линии")
    )  # fmt: skip
    olga = await desk_user(console, "olga", "operator", OPERATOR_1)
    petr = await desk_user(console, "petr", "operator", OPERATOR_2)
    await only_operator_1_rings(app)
    called: dict[str, float] = {}

    def on_called(event: Any) -> None:
        if str(event.get("Interface", "")).startswith("Local/1@"):
            called.setdefault(str(event.get("Uniqueid")), time.monotonic())

    olga_sse = await SseReader.open(olga)
    petr_sse = await SseReader.open(petr)
    remove = app.link.on_event("AgentCalled", on_called)
    try:
        sim = await originate_caller(
            app, "d0", caller_id=CALLER, dtmf_delay=await menu_delay(app.speech) + DTMF_MARGIN
        )
        assert sim.answered, sim.error
        uid = sim.hotline_uniqueid
        try:
            pop, seen = await next_event(olga_sse, "desk-pop", lambda d: d["id"] == uid, 40)
        except (AssertionError, TimeoutError):
            call = app.hotline.calls.get(uid)
            members = await app.operators.queue.members()
            raise AssertionError(
                f"no pop: call {call and call.machine.transitions} {call and call.path}, "
                f"rung {called}, "
                f"members {members}, operators {await app.operators.all()}"
            ) from None
        latency = seen - called[uid]
        print(f"screen-pop {latency * 1000:.0f} ms after AgentCalled")
        assert latency < 1.0, f"popped {latency:.2f} s after AgentCalled"
        customer = pop["appeal"]["customer"]
        assert pop["caller"] == CALLER and customer["account"] == "100200"
        assert customer["debt"] == "1500.50" and customer["debt_date"] == "2026-11-20"
        assert [o["reason"] for o in customer["outages"]] == ["ремонт линии"]
        # the wait in the queue (the menus before it are not waiting for an operator): the
        # sim operator is rung as soon as the caller joins
        assert pop["waited_s"] is not None and 0 <= pop["waited_s"] < 3, pop["waited_s"]
        assert pop["appeal"]["source"] == "hotline"

        # the other operator's stream carries the board, never olga's pop
        deadline = time.monotonic() + 1.5
        while (left := deadline - time.monotonic()) > 0:
            try:
                name, _data = await petr_sse.event(timeout=left)
            except TimeoutError:
                break
            assert not name.startswith("desk"), name
    finally:
        remove()
        olga_sse.close()
        petr_sse.close()

    async def in_state(state: str) -> dict[str, Any] | None:
        data = await desk_state(olga)
        return data if data["operator"]["state"] == state else None

    talking = await until(lambda: in_state("on_call"), timeout=10, what="the call to connect")
    assert talking["appeal"]["times"]["answered"] is not None
    assert talking["norms_s"] == {"wait": 40.0, "lookup": 45.0, "info": 300.0, "wrapup": 300.0}
    found = await olga.post("/api/desk/lookup-done")
    assert found.status == 200, found.text
    assert found.json()["appeal"]["times"]["lookup_done"] is not None
    told = await olga.post("/api/desk/info-done")
    assert told.status == 200, told.text
    await until(lambda: in_state("wrap_up"), timeout=20, what="post-call work")
    no_class = await olga.post("/api/desk/wrap-up-done", {"summary": "без класса"})
    assert no_class.status == 422 and no_class.json()["field"] == "classification"
    done = await olga.post(
        "/api/desk/wrap-up-done", {"classification": "кэ", "summary": "нет света на Чкалова"}
    )
    assert done.status == 200, done.text
    assert done.json()["operator"]["state"] == "available"

    appeal = await app.hotline.appeals.by_uniqueid(uid)
    assert appeal is not None
    assert appeal.lookup_s is not None and appeal.info_s is not None
    assert appeal.wrapup_s is not None and not appeal.wrapup_timed_out
    assert appeal.classification == "КЭ" and appeal.summary == "нет света на Чкалова"
    day = app.clock.local_now().date()
    report = (await app.hotline.appeals.report(day, day)).as_dict()
    mine = next(o for o in report["by_operator"] if o["operator"] == OPERATOR_1)
    for metric in ("lookup", "info", "wrapup"):
        assert mine[metric]["count"] >= 1, metric


async def test_call_backs_due_today_are_listed_and_one_called_back_leaves_the_list(
    console: Console,
) -> None:
    app = console.app
    await app.customers.import_rows(parse_customers(CUSTOMERS.encode(), region="RU").rows)
    olga = await desk_user(console, "olga", "operator", OPERATOR_1)
    now = app.clock.now()
    today = app.clock.local_now().date()
    appeals = app.hotline.appeals
    tomorrow = today + timedelta(days=1)
    for uniqueid, number, due in (("msg-1", CALLER, today), ("msg-2", "+79135550111", tomorrow)):
        ref = await appeals.register(
            uniqueid=uniqueid, channel="Local/s@hotline", caller_number=number,
            customer_id=None, arrived_at=now - timedelta(hours=12),
        )  # fmt: skip
        await appeals.set(ref.id, kind="message", due_date=due, out_of_hours=True)
    async with app.sessions() as session, session.begin():
        scenario = ScenarioRow(name="debt-test", version=1, kind="debt", body="{}")
        session.add(scenario)
        await session.flush()
        campaign = Campaign(
            name="Долги ноябрь", kind="debt", scenario_id=scenario.id, start_at=now,
            windows="[]", timezone="Asia/Krasnoyarsk", retry="{}",
        )  # fmt: skip
        session.add(campaign)
        await session.flush()
        session.add(
            CampaignContact(
                campaign_id=campaign.id, phone="79135550105", account="100300",
                name="Петрова Анна", state="done", callback=True, last_attempt_at=now,
            )
        )  # fmt: skip

    listed = (await olga.get("/api/desk/callbacks")).json()["callbacks"]
    by_number = {c["number"]: c for c in listed}
    assert set(by_number) == {CALLER, "+79135550105"}, listed  # tomorrow's message waits
    assert by_number[CALLER]["source"] == "hotline"
    assert "вне рабочего времени" in by_number[CALLER]["reason"]
    campaign_row = by_number["+79135550105"]
    assert campaign_row["source"] == "autoinformer" and "Долги ноябрь" in campaign_row["reason"]
    assert campaign_row["account"] == "100300"

    # «Перезвонить»: the operator's phone rings, then the customer (whose number ends in 1
    # answers in the sim world)
    placed = await olga.post("/api/desk/callback", {"number": CALLER})
    assert placed.status == 200, placed.text
    channel_id = placed.json()["callback"]["channel_id"]
    try:

        async def reached() -> Appeal | None:
            async with app.sessions() as session:
                found = await session.scalar(
                    select(Appeal).where(
                        Appeal.source == "callback", Appeal.caller_number == CALLER
                    )
                )
            return found if found is not None and found.operator_answered_at else None

        callback = await until(reached, timeout=20, what="the customer to answer the call-back")
        assert callback.recording_path
        listed = (await olga.get("/api/desk/callbacks")).json()["callbacks"]
        assert [c["number"] for c in listed] == ["+79135550105"]
        bad = await olga.post("/api/desk/callback", {"number": "12ab"})
        assert bad.status in (409, 422), bad.text
    finally:
        try:
            await app.link.action("Hangup", Channel=channel_id)
        except Exception:  # the call ended by itself meanwhile
            pass


async def test_a_campaign_transfer_pops_up_with_what_the_call_was_about(
    console_at: ConsoleFactory,
) -> None:
    async with console_at(now=TUESDAY_11) as console:
        app = console.app
        olga = await desk_user(console, "olga", "operator", OPERATOR_1)
        await only_operator_1_rings(app)
        try:
            sveta = await console.user("sveta", "supervisor")
            await add_short_scenario(sveta)
            # a sim customer whose number ends in 4 presses 0: "operator"
            made = await create(sveta, "phone,account,debt\n+79130000004,1001,150\n")
            assert made.status in (200, 201), made.text
            sse = await SseReader.open(olga)
            try:
                started = await sveta.post(f"/api/campaigns/{made.json()['id']}/start", {})
                assert started.status == 200, started.text
                pop, _ = await next_event(
                    sse,
                    "desk-pop",
                    lambda d: d["appeal"] is not None and d["appeal"]["source"] == "transfer",
                    60,
                )
            finally:
                sse.close()
        finally:
            for op in await app.operators.all():
                if op.state == OperatorState.PAUSED:
                    await app.operators.unpause(op.code)
    assert pop["caller"] == "+79130000004"
    context = pop["appeal"]["context"]
    assert context["campaign_name"] == "Долги декабря" and context["scenario"] == "test-debt"
    assert context["digits"] == "0" and context["account"] == "1001"
    assert context["parts_total"] >= 1 and "debt" in context["values"]
