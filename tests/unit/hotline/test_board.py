"""The live board's pure state: AMI queue events stated as data (as Asterisk 16 sends them,
like the asterisk testsuite's expected-event lists), the state and snapshot they lead to."""

from __future__ import annotations

from typing import Any

import pytest

from contact_center.hotline.board import (
    BoardState,
    CallView,
    Member,
    OperatorRecord,
    hourly,
    operator_state,
    snapshot,
)
from contact_center.hotline.norms import CallMetrics

Q = "operators"
OP1, OP2 = "Local/1@sim-operators/n", "Local/2@sim-operators/n"
CALLER_A, CALLER_B = "sim-a-b", "sim-b-b"
T0 = 1_800_000_000.0


def ev(name: str, **fields: Any) -> dict[str, str]:
    return {"Event": name, **{k: str(v) for k, v in fields.items()}}


def join(uid: str, position: int, caller: str = "+79135550101") -> dict[str, str]:
    return ev("QueueCallerJoin", Queue=Q, Uniqueid=uid, Position=position, Count=position,
              CallerIDNum=caller)  # fmt: skip


def member_status(
    interface: str, *, status: int = 1, paused: int = 0, in_call: int = 0, reason: str = ""
) -> dict[str, str]:
    return ev("QueueMemberStatus", Queue=Q, Interface=interface, MemberName=interface[6:7],
              Status=status, Paused=paused, PausedReason=reason, InCall=in_call)  # fmt: skip


def run(state: BoardState, events: list[tuple[float, dict[str, str]]]) -> list[float]:
    """Apply timed events; return the waits observed."""
    waits = []
    for at, event in events:
        update = state.apply(event, T0 + at)
        if update.waited_s is not None:
            waits.append(update.waited_s)
    return waits


def test_callers_join_and_leave_the_queue_in_order_with_since_when() -> None:
    state = BoardState(Q)
    run(state, [(0, join(CALLER_A, 1)), (3, join(CALLER_B, 2))])
    assert [(w.uniqueid, w.position, w.since) for w in state.ordered_waiting()] == [
        (CALLER_A, 1, T0),
        (CALLER_B, 2, T0 + 3),
    ]
    assert state.longest_wait_since() == T0
    # the caller number is masked before it is kept
    assert state.waiting[CALLER_A].caller == "+7********01"
    run(state, [(5, ev("QueueCallerLeave", Queue=Q, Uniqueid=CALLER_A, Position=1, Count=1))])
    assert [(w.uniqueid, w.position) for w in state.ordered_waiting()] == [(CALLER_B, 1)]
    assert state.longest_wait_since() == T0 + 3


def test_a_caller_answered_goes_from_the_queue_to_talking_and_the_wait_is_observed() -> None:
    state = BoardState(Q)
    waits = run(
        state,
        [
            (0, member_status(OP1)),
            (1, join(CALLER_A, 1)),
            (2, ev("AgentCalled", Queue=Q, Interface=OP1, MemberName="1", Uniqueid=CALLER_A)),
            (4, ev("AgentConnect", Queue=Q, Interface=OP1, MemberName="1", Uniqueid=CALLER_A,
                   HoldTime=3, RingTime=2)),
            (4, ev("QueueCallerLeave", Queue=Q, Uniqueid=CALLER_A, Position=1, Count=0)),
        ],
    )  # fmt: skip
    assert waits == [3.0]
    assert state.waiting == {}
    member = state.members[OP1]
    assert (member.talking, member.talking_since, member.ringing) == (CALLER_A, T0 + 4, "")
    assert operator_state(member, None) == ("talking", T0 + 4)


def test_ringing_then_no_answer_returns_the_operator_to_free() -> None:
    state = BoardState(Q)
    run(state, [(0, member_status(OP1)), (1, join(CALLER_A, 1)),
                (2, ev("AgentCalled", Queue=Q, Interface=OP1, Uniqueid=CALLER_A))])  # fmt: skip
    assert operator_state(state.members[OP1], None) == ("ringing", T0 + 2)
    run(state, [(17, ev("AgentRingNoAnswer", Queue=Q, Interface=OP1, Uniqueid=CALLER_A,
                        RingTime=15))])  # fmt: skip
    assert operator_state(state.members[OP1], None)[0] == "free"
    assert CALLER_A in state.waiting


def test_abandon_observes_how_long_the_caller_waited() -> None:
    state = BoardState(Q)
    waits = run(
        state,
        [
            (0, join(CALLER_A, 1)),
            (12, ev("QueueCallerAbandon", Queue=Q, Uniqueid=CALLER_A, Position=1,
                    OriginalPosition=1, HoldTime=12)),
        ],
    )  # fmt: skip
    assert waits == [12.0] and state.waiting == {}
    # without HoldTime the board's own since-when gives the wait
    state = BoardState(Q)
    waits = run(state, [(0, join(CALLER_A, 1)), (7, ev("QueueCallerAbandon", Queue=Q,
                                                        Uniqueid=CALLER_A))])  # fmt: skip
    assert waits == [7.0]


def test_agent_complete_ends_the_conversation_and_the_record_says_wrap_up() -> None:
    state = BoardState(Q)
    run(state, [(0, member_status(OP1)),
                (1, ev("AgentConnect", Queue=Q, Interface=OP1, Uniqueid=CALLER_A, HoldTime=0)),
                (9, ev("AgentComplete", Queue=Q, Interface=OP1, Uniqueid=CALLER_A,
                       TalkTime=8, Reason="caller"))])  # fmt: skip
    member = state.members[OP1]
    assert not member.talking and not member.in_call
    wrapping = OperatorRecord("1", "", "wrap_up", T0 + 9, T0 + 309)
    assert operator_state(member, wrapping) == ("wrap_up", T0 + 9)
    # the paused member without a record: paused "call" by the service means post-call work
    run(state, [(9, ev("QueueMemberPause", Queue=Q, Interface=OP1, Paused=1,
                       PausedReason="call"))])  # fmt: skip
    assert operator_state(state.members[OP1], None)[0] == "wrap_up"


def test_pause_and_unpause_follow_queue_member_pause() -> None:
    state = BoardState(Q)
    run(state, [(0, member_status(OP1)),
                (5, ev("QueueMemberPause", Queue=Q, Interface=OP1, Paused=1,
                       PausedReason="обед"))])  # fmt: skip
    assert (state.members[OP1].paused, state.members[OP1].reason) == (True, "обед")
    assert operator_state(state.members[OP1], None) == ("paused", T0 + 5)
    assert not state.apply(
        ev("QueueMemberPause", Queue=Q, Interface=OP1, Paused=1, PausedReason="обед"), T0 + 6
    ).changed
    run(state, [(8, ev("QueueMemberPause", Queue=Q, Interface=OP1, Paused=0))])
    assert operator_state(state.members[OP1], None) == ("free", T0 + 8)


def test_member_status_unavailable_is_offline_and_a_logged_out_record_too() -> None:
    state = BoardState(Q)
    run(state, [(0, member_status(OP1, status=5))])
    assert operator_state(state.members[OP1], None)[0] == "offline"
    run(state, [(1, member_status(OP2))])
    logged_out = OperatorRecord("2", "", "logged_out", T0)
    assert operator_state(state.members[OP2], logged_out)[0] == "offline"
    assert operator_state(None, OperatorRecord("3", "", "available", T0))[0] == "offline"


def test_events_of_another_queue_and_unknown_events_change_nothing() -> None:
    state = BoardState(Q)
    assert not state.apply(ev("QueueCallerJoin", Queue="other", Uniqueid="x"), T0).changed
    assert not state.apply(ev("Newchannel", Uniqueid="x"), T0).changed
    assert not state.apply(ev("QueueCallerLeave", Queue=Q, Uniqueid="never-joined"), T0).changed
    assert state.waiting == {} and state.members == {}


def test_a_duplicate_join_keeps_the_first_since() -> None:
    state = BoardState(Q)
    run(state, [(0, join(CALLER_A, 1))])
    assert not state.apply(join(CALLER_A, 1), T0 + 5).changed
    assert state.waiting[CALLER_A].since == T0


def test_seed_from_queue_status_replaces_the_state() -> None:
    state = BoardState(Q)
    run(state, [(0, join("gone-while-down", 1)), (0, member_status("Local/9@x/n"))])
    answer = [
        ev("QueueParams", Queue=Q, Calls=2),
        ev("QueueMember", Queue=Q, Name="1", Location=OP1, StateInterface=OP1, Status=2,
           Paused=0, InCall=1, Membership="static"),
        ev("QueueMember", Queue=Q, Name="2", Location=OP2, StateInterface=OP2, Status=1,
           Paused=1, PausedReason="обед", InCall=0, Membership="static"),
        ev("QueueEntry", Queue=Q, Position=1, Uniqueid=CALLER_A, CallerIDNum="+79135550101",
           Wait=30),
        ev("QueueEntry", Queue=Q, Position=2, Uniqueid=CALLER_B, CallerIDNum="<unknown>",
           Wait=4),
    ]  # fmt: skip
    state.seed(answer, T0 + 100)
    assert set(state.members) == {OP1, OP2}
    assert operator_state(state.members[OP1], None) == ("talking", T0 + 100)
    assert operator_state(state.members[OP2], None)[0] == "paused"
    assert [(w.uniqueid, w.since, w.caller) for w in state.ordered_waiting()] == [
        (CALLER_A, T0 + 70, "+7********01"),
        (CALLER_B, T0 + 96, ""),
    ]
    # events after the seed that it already reflects are harmless (idempotent)
    assert not state.apply(join(CALLER_A, 1), T0 + 101).changed


def test_snapshot_merges_records_calls_and_counts() -> None:
    state = BoardState(Q)
    run(state, [(0, member_status(OP1)), (0, member_status(OP2)), (1, join(CALLER_B, 1)),
                (2, ev("AgentConnect", Queue=Q, Interface=OP1, Uniqueid=CALLER_A))])  # fmt: skip
    records = {
        OP1: OperatorRecord("101", "Оператор Один", "on_call", T0 + 2, None, 4),
        OP2: OperatorRecord("102", "", "available", T0 - 50, None, 0),
        "PJSIP/gone": OperatorRecord("103", "", "logged_out", T0),
    }
    calls = [CallView(CALLER_A, "2026-000001-ФЛ", "connected", T0 - 20, T0 + 2, "+7********02"),
             CallView(CALLER_B, "2026-000002-ФЛ", "queued", T0 - 5, T0 + 1, "")]  # fmt: skip
    snap = snapshot(state, records, calls, {"calls": 2}, link_up=True)
    assert snap["link"] is True
    assert [(o["code"], o["state"], o["since"]) for o in snap["operators"]] == [
        ("101", "talking", T0 + 2),
        ("102", "free", T0 - 50),
    ]
    assert snap["counts"]["talking"] == 1 and snap["counts"]["free"] == 1
    assert snap["queue"]["waiting"] == 1 and snap["queue"]["longest_since"] == T0 + 1
    assert [(c["number"], c["operator"]) for c in snap["calls"]] == [
        ("2026-000001-ФЛ", "101"),
        ("2026-000002-ФЛ", ""),
    ]
    assert snap["norms"] == {"calls": 2}


def test_hourly_groups_todays_calls_against_the_norms() -> None:
    from datetime import date

    day = date(2026, 12, 2)
    rows = [
        (9, CallMetrics(day, queued=True, answered=True, wait=10.0)),
        (9, CallMetrics(day, queued=True, answered=True, wait=50.0)),
        (11, CallMetrics(day, queued=True, abandoned=True, wait=20.0)),
    ]
    hours = hourly(rows)
    assert [h["hour"] for h in hours] == [9, 11]
    assert hours[0]["wait"] == {"count": 2, "avg_s": 30.0, "max_s": 50.0, "within_norm_share": 0.5}
    assert hours[1]["abandoned"] == 1 and hours[1]["wait"]["count"] == 0


@pytest.mark.parametrize(
    ("member", "record", "expected"),
    [
        (Member(OP1, ringing="x", ringing_since=T0), None, "ringing"),
        (Member(OP1, paused=True, reason="logged-out"), None, "offline"),
        (Member(OP1, paused=True, reason="pause"), OperatorRecord("1", "", "paused", T0), "paused"),
        (Member(OP1), OperatorRecord("1", "", "on_call", T0), "talking"),
        (Member(OP1, status=4), None, "offline"),
        (Member(OP1), None, "free"),
    ],
)
def test_operator_state_precedence(
    member: Member, record: OperatorRecord | None, expected: str
) -> None:
    assert operator_state(member, record)[0] == expected
