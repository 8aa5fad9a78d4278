"""The hotline end to end on a real Asterisk: sim callers ring, sim operators answer."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from click.testing import CliRunner

from contact_center.cli import main
from contact_center.hotline.models import Appeal
from contact_center.hotline.outages import OutageRecord
from contact_center.operators.models import OperatorState
from contact_center.operators.services import OperatorView
from tests.integration.hotline.conftest import (
    IN_HOURS,
    OUT_OF_HOURS,
    TZ,
    MakeHotline,
    offset_to,
    until,
)

VALID_ACCOUNT, DEBT_PHONE = "100200", "+79135550101"


def plays(appeal: Appeal) -> list[str]:
    return [entry[1] for entry in appeal.timeline if entry[0] == "play"]


def states(appeal: Appeal) -> list[str]:
    return [entry[1] for entry in appeal.timeline if entry[0] == "state"]


async def test_recording_warning_is_the_first_thing_played(hotline: MakeHotline) -> None:
    h = await hotline()
    speech = h.service.speech
    sim = await h.call("d0")
    call = await h.finished(sim)
    assert call.appeal_id is not None
    appeal = await h.service.hotline.appeals.get(call.appeal_id)
    # the caller presses 0 during the greeting (barge-in), so the menu itself is skipped
    expected = [
        await speech.prompt(name)
        for name in ("recording_warning", "greeting", "connecting_operator")
    ]
    assert plays(appeal) == expected == call.played
    # nothing was played before the warning; the warning came right after the answer
    entries = [(e[0], e[1]) for e in appeal.timeline]
    assert entries[:3] == [
        ("state", "answered"),
        ("play", expected[0]),
        ("state", "warned"),
    ]
    assert appeal.answered_at == datetime.fromisoformat(appeal.timeline[0][2])
    assert appeal.answered_at <= datetime.fromisoformat(appeal.timeline[1][2])
    # the whole call was recorded by MixMonitor, the file is linked from the appeal
    recording = Path(appeal.recording_path)
    assert recording.is_absolute() and recording.name.startswith(sim.hotline_uniqueid)
    await until(lambda: recording.is_file() and recording.stat().st_size > 44, timeout=5,
                what="the MixMonitor file")  # fmt: skip
    assert appeal.number.startswith(f"{IN_HOURS.year}-") and appeal.number.endswith("-ФЛ")


async def test_call_in_hours_reaches_an_operator_and_its_metrics_are_stored(
    hotline: MakeHotline,
) -> None:
    # the sim operator never presses wrap-up-done: the test does, as an operator would
    h = await hotline(customers=True, sim_operator_wrapup_time=-1.0)
    await h.service.link.action("Setvar", Variable="SIM_OPERATOR_TALK_TIME", Value="3")
    operators = h.service.operators
    sim = await h.call("d0", caller_id=DEBT_PHONE)
    call = await h.started(sim)

    async def on_call() -> OperatorView | None:
        return next(
            (o for o in await operators.all()
             if o.state == OperatorState.ON_CALL and o.current_appeal_id == call.appeal_id),
            None,
        )  # fmt: skip

    op = await until(on_call, timeout=40, what="an operator to answer")
    described = await operators.current_appeal(op.code)
    assert described is not None and described["customer"]["account"] == VALID_ACCOUNT
    await operators.lookup_done(op.code)
    await operators.info_done(op.code)
    booking = await operators.book(
        op.code,
        date(2026, 12, 3),
        dtime(10, 30),
        "Дивногорск, ул. Заводская, 1",
    )

    async def wrapping() -> bool:
        return (await operators.get(op.code)).state == OperatorState.WRAP_UP

    await until(wrapping, timeout=15, what="post-call work to start")
    # in post-call work the member is paused: Asterisk offers it no call
    assert (await h.members())[op.interface].paused
    await asyncio.sleep(0.2)  # a measurable post-call time, not a synchronisation
    await operators.wrap_up_done(op.code, "Об", "Спросил о задолженности")
    assert not (await h.members())[op.interface].paused
    assert (await operators.get(op.code)).state == OperatorState.AVAILABLE

    await h.finished(sim)
    assert call.appeal_id is not None
    appeal = await h.service.hotline.appeals.get(call.appeal_id)
    assert appeal.customer_id is not None
    assert appeal.operator_id == op.id
    assert appeal.ended_by == "operator" and not appeal.abandoned
    assert appeal.queue_entered_at and appeal.operator_answered_at and appeal.operator_ended_at
    assert appeal.wait_s is not None and 0 <= appeal.wait_s < 40
    assert appeal.talk_s is not None and 2.5 < appeal.talk_s < 6
    assert appeal.lookup_s is not None and appeal.lookup_s < 45
    assert appeal.info_s is not None and appeal.info_s < 300
    assert appeal.wrapup_s is not None and 0.2 <= appeal.wrapup_s < 300
    assert not appeal.wrapup_timed_out
    assert (appeal.classification, appeal.summary) == ("Об", "Спросил о задолженности")
    assert appeal.ivr_path == "main:0=operator queue:continue"
    (appointment,) = await h.service.hotline.appeals.appointments(appeal.id)
    assert appointment.id == booking and appointment.customer_id == appeal.customer_id
    report = (await h.service.hotline.appeals.report(IN_HOURS.date(), IN_HOURS.date())).as_dict()
    assert (report["calls"], report["answered"], report["abandoned"]) == (1, 1, 0)
    assert report["wait"]["within_norm_share"] == 1.0
    assert report["by_operator"][0]["operator"] == op.code


async def test_out_of_hours_call_hears_the_opening_time_and_leaves_a_message(
    hotline: MakeHotline,
) -> None:
    h = await hotline(clock_offset=offset_to(OUT_OF_HOURS))
    speech = h.service.speech
    sim = await h.call("silent")
    call = await h.started(sim)
    await until(lambda: "message" in call.path, timeout=40, what="the message recording")
    await h.hang_up(call)  # the caller says their piece and hangs up
    await h.finished(sim)
    opening = datetime(2026, 12, 7, 8, 0, tzinfo=TZ)  # Saturday -> Monday 08:00
    assert call.next_opening == opening
    spoken = await speech.render(
        "{prompt:hotline_closed} {prompt:hotline_opens} {date:open_date form=genitive year=no} "
        "{time:open_time form=at}.",
        {"open_date": opening.date(), "open_time": opening.time()},
    )
    warning, greeting = await speech.prompt("recording_warning"), await speech.prompt("greeting")
    assert call.played[:2] == [warning, greeting]
    assert call.played[2 : 2 + len(spoken)] == spoken
    assert call.appeal_id is not None
    appeal = await h.service.hotline.appeals.get(call.appeal_id)
    assert appeal.out_of_hours and appeal.kind == "message"
    assert appeal.due_date == opening.date()
    assert appeal.message_path.endswith("-message.wav")
    assert appeal.ended_by == "caller"
    assert states(appeal)[:4] == ["answered", "warned", "closed", "message"]


async def test_caller_who_gives_up_in_the_queue_is_counted_abandoned(hotline: MakeHotline) -> None:
    h = await hotline()
    operators = h.service.operators
    for op in await operators.all():
        await operators.pause(op.code, "обед")
    rung: list[str] = []
    h.service.link.on_event("AgentCalled", lambda e: rung.append(str(e.get("Interface"))))
    sim = await h.call("g9k0")  # presses 0, hangs up 9 s later (about 4 s in the queue)
    call = await h.finished(sim, timeout=60)
    assert call.appeal_id is not None
    appeal = await h.service.hotline.appeals.get(call.appeal_id)
    assert appeal.abandoned and appeal.operator_answered_at is None
    assert appeal.queue_entered_at is not None and appeal.ended_by == "caller"
    assert appeal.wait_s is not None and 1.0 < appeal.wait_s < 9.0
    assert rung == []  # paused operators are never rung
    report = (await h.service.hotline.appeals.report(IN_HOURS.date(), IN_HOURS.date())).as_dict()
    assert (report["calls"], report["answered"], report["abandoned"]) == (1, 0, 1)
    assert report["abandoned_wait"]["max_s"] == round(appeal.wait_s, 1)
    queue_log = (Path(h.service.settings.asterisk_runtime_dir) / "log" / "queue_log").read_text()
    assert f"|{sim.hotline_uniqueid}|operators|NONE|ABANDON|" in queue_log


async def test_ivr_debt_self_service_with_a_valid_and_an_unknown_account(
    hotline: MakeHotline,
) -> None:
    h = await hotline(customers=True)
    speech = h.service.speech
    valid = await h.call(f"d2ww{VALID_ACCOUNT}#")
    unknown = await h.call("d2ww999999#")
    valid_call, unknown_call = await h.started(valid), await h.started(unknown)
    enter = await speech.prompt("enter_account")
    not_found = await speech.prompt("account_not_found")
    await until(lambda: "debt:found" in valid_call.path and valid_call.machine.state == "ivr",
                timeout=40, what="the debt to be read")  # fmt: skip
    await until(lambda: unknown_call.played.count(enter) == 2, timeout=40,
                what="the unknown account to be refused")  # fmt: skip
    for call in (valid_call, unknown_call):
        await h.hang_up(call)
    await h.finished(valid)
    await h.finished(unknown)
    debt = await speech.render(
        "{prompt:debt_as_of} {date:debt_date year=no} {prompt:debt_amount} {money:debt}.",
        {"debt": "1500.50", "debt_date": date(2026, 11, 20)},
    )
    start = valid_call.played.index(enter) + 1
    assert valid_call.played[start : start + len(debt)] == debt
    assert valid_call.path[:2] == ["main:2=debt", "debt:found"]
    assert not_found in unknown_call.played and "debt:found" not in unknown_call.path
    assert unknown_call.path[:2] == ["main:2=debt", "debt:unknown"]
    assert valid_call.appeal_id is not None
    appeal = await h.service.hotline.appeals.get(valid_call.appeal_id)
    assert appeal.ivr_path.startswith("main:2=debt debt:found")
    assert appeal.queue_entered_at is None and appeal.ended_by == "caller"


async def test_broken_ivr_file_is_refused_and_the_old_one_keeps_working(
    hotline: MakeHotline,
) -> None:
    h = await hotline()
    library = h.service.hotline.ivr
    main_toml = library.directory / "main.toml"
    good = main_toml.read_text(encoding="utf-8")
    main_toml.write_text(good.replace('1 = "outages"', '1 = "outagez"'), encoding="utf-8")
    result = await library.reload()
    (error,) = result.errors
    assert (Path(error.file).name, error.key) == ("main.toml", "keys.1.action")
    assert "неизвестное действие 'outagez'" in error.problem
    assert result.kept == ("main",) and library.scripts.root.keys["1"].kind == "outages"
    # the admin's check says the same, with exit status 2
    runner = CliRunner()
    out = runner.invoke(
        main, ["hotline", "check"], env={"CC_IVR_SCRIPTS_DIR": str(library.directory)}
    )
    assert out.exit_code == 2 and "main.toml: keys.1.action" in out.output
    main_toml.write_text("prompt = ", encoding="utf-8")  # not even TOML
    assert (await library.reload()).errors[0].key == ""
    # a current emergency outage: an unknown caller hears every current one
    start = h.service.clock.now().astimezone(TZ).replace(second=0, microsecond=0)
    await h.service.hotline.outages.add(
        OutageRecord("emergency", "ул. Ленина", start, start.replace(hour=23), "авария на линии")
    )
    sim = await h.call("d1")
    call = await h.started(sim)
    await until(lambda: "outages:1" in call.path and call.machine.state == "ivr", timeout=40,
                what="the outages to be read")  # fmt: skip
    await h.hang_up(call)
    await h.finished(sim)
    assert call.path[:2] == ["main:1=outages", "outages:1"]
    reason = await h.service.speech.say("авария на линии.")
    assert reason in call.played
    main_toml.write_text(good, encoding="utf-8")
    assert (await library.reload()).ok


async def test_twenty_callers_three_operators_none_lost(hotline: MakeHotline) -> None:
    # post-call work ends by the limit (0.5 s): the service unpauses each operator itself
    h = await hotline(sim_operator_wrapup_time=-1.0, hotline_wrapup_limit=0.5)
    started = time.monotonic()
    sims = await asyncio.gather(
        *[h.call("d0") for _ in range(16)], *[h.call("g8k0") for _ in range(4)]
    )
    for sim in sims:
        await h.finished(sim, timeout=120)
    elapsed = time.monotonic() - started
    appeals = await h.service.hotline.appeals.in_period(IN_HOURS.date(), IN_HOURS.date())
    assert len(appeals) == 20
    assert {a.uniqueid for a in appeals} == {s.hotline_uniqueid for s in sims}
    answered = [a for a in appeals if a.operator_answered_at is not None]
    abandoned = [a for a in appeals if a.abandoned]
    assert all(a.ended_at is not None and a.queue_entered_at is not None for a in appeals)
    assert all((a.operator_answered_at is not None) != a.abandoned for a in appeals)
    assert len(answered) + len(abandoned) == 20
    # an operator takes the next call only after the previous one's post-call work
    by_operator: dict[int | None, list[Appeal]] = {}
    for a in answered:
        by_operator.setdefault(a.operator_id, []).append(a)
    assert None not in by_operator and len(by_operator) == 3
    for calls in by_operator.values():
        # every one answered, so operator_answered_at is set: mypy cannot know it
        calls.sort(key=lambda a: a.operator_answered_at)  # type: ignore[arg-type, return-value]
        for before, after in itertools.pairwise(calls):
            assert before.operator_ended_at is not None and after.operator_answered_at is not None
            gap = (after.operator_answered_at - before.operator_ended_at).total_seconds()
            assert gap >= 0.45, gap

    async def wrapped_up() -> list[Appeal]:
        rows = await h.service.hotline.appeals.in_period(IN_HOURS.date(), IN_HOURS.date())
        done = [a for a in rows if a.operator_answered_at is None or a.wrapup_s is not None]
        return rows if len(done) == 20 else []

    appeals = await until(wrapped_up, timeout=10, what="the last post-call work to time out")
    answered = [a for a in appeals if a.operator_answered_at is not None]
    assert all(
        a.wrapup_timed_out and a.wrapup_s is not None and a.wrapup_s >= 0.45 for a in answered
    )
    operators = await h.service.operators.all()
    assert all(o.state == OperatorState.AVAILABLE for o in operators)
    assert not any(m.paused for m in (await h.members()).values())
    waits = [a.wait_s for a in answered if a.wait_s is not None]
    gave_up = [a.wait_s for a in abandoned if a.wait_s is not None]
    report = (await h.service.hotline.appeals.report(IN_HOURS.date(), IN_HOURS.date())).as_dict()
    assert report["calls"] == 20 and report["answered"] + report["abandoned"] == 20
    print(
        f"\n20 callers / 3 operators in {elapsed:.1f} s: answered {len(answered)}, "
        f"abandoned {len(abandoned)}; wait avg {statistics.mean(waits):.1f} s, "
        f"max {max(waits):.1f} s, within 40 s {report['wait']['within_norm_share']}; "
        f"abandoned after avg {statistics.mean(gave_up) if gave_up else 0:.1f} s"
    )


async def test_operator_outage_and_report_commands_act_on_the_same_db_and_asterisk(
    hotline: MakeHotline,
) -> None:
    h = await hotline()
    s = h.service.settings
    env = {
        "CC_DATABASE_URL": s.database_url,
        "CC_AMI_HOST": s.ami_host,
        "CC_AMI_PORT": str(s.ami_port),
        "CC_AMI_SECRET": s.ami_secret,
        "CC_CLOCK_OFFSET": str(s.clock_offset),
    }
    runner = CliRunner()

    async def cli(*args: str) -> tuple[int, str]:
        # the commands run their own event loop: give them a thread
        result = await asyncio.to_thread(runner.invoke, main, list(args), env=env)
        return result.exit_code, result.output

    code, out = await cli("operator", "pause", "sim-operator-1", "--reason", "обед")
    assert code == 0 and "пауза" in out
    assert (await h.members())["Local/1@sim-operators/n"].paused
    code, out = await cli("operator", "unpause", "sim-operator-1")
    assert code == 0 and not (await h.members())["Local/1@sim-operators/n"].paused
    code, out = await cli("operator", "login", "op9", "--interface", "Local/9@sim-operators/n")
    assert code == 0 and "Local/9@sim-operators/n" in await h.members()
    code, out = await cli("operator", "logout", "op9")
    assert code == 0 and "Local/9@sim-operators/n" not in await h.members()
    code, out = await cli("operator", "lookup-done", "sim-operator-2")
    assert code == 2 and "нет текущего обращения" in out
    code, out = await cli(
        "outages", "add", "--addresses", "ул. Чкалова; ул. Ленина, д. 5-9",
        "--start", "2026-12-03 09:00", "--end", "2026-12-03 17:00", "--reason", "ремонт",
    )  # fmt: skip
    assert code == 0, out
    code, out = await cli("outages", "list")
    assert code == 0 and "ул. Чкалова; ул. Ленина, д. 5-9" in out and "ремонт" in out
    code, out = await cli("outages", "add", "--addresses", "ул.", "--start", "x", "--end", "y")
    assert code == 2 and "нет названия улицы" in out
    day = IN_HOURS.date().isoformat()
    code, out = await cli("report", "hotline", "--from", day, "--to", day, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert {"calls", "answered", "abandoned", "wait"} <= set(doc)
    assert set(doc["wait"]) == {"count", "avg_s", "max_s", "within_norm_share"}
    code, out = await cli("report", "hotline", "--from", day, "--to", day, "--format", "csv")
    assert code == 0 and out.startswith("\ufeffРаздел;Дата;Оператор;Вызовов;")
