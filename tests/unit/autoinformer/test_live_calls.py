"""The dialer's calls in progress: a closing call hands its campaign's slot over at once,
keeps its number and its channel until released, and only a tenth of a campaign's calls
may be closing at a time."""

from __future__ import annotations

from typing import Any

from autoinformer.phone import live as live_module
from autoinformer.phone.live import LiveCalls


def live_with(calls: int, campaign_id: int = 7) -> tuple[LiveCalls, list[int]]:
    woken: list[int] = []
    live = LiveCalls(on_release=lambda _freed: woken.append(1))
    for attempt_id in range(calls):
        live.add(attempt_id, campaign_id, 100 + attempt_id, f"7913000{attempt_id:04d}")
    return live, woken


def test_a_closing_call_frees_its_slot_and_keeps_its_number_and_channel() -> None:
    live, woken = live_with(10)
    live.closing(3)
    assert woken  # the next call may start now
    assert live.count(7) == 9
    assert live.in_call("79130000003")
    assert live.total() == 10  # its channel still counts against the trunk
    live.closing(3)  # twice is once
    assert live.count(7) == 9
    live.release(3)
    assert (live.count(7), live.total()) == (9, 9)
    assert not live.in_call("79130000003")


def test_at_most_a_tenth_of_a_campaigns_calls_close_at_once() -> None:
    live, _woken = live_with(20)
    for attempt_id in range(5):
        live.closing(attempt_id)
    # two of twenty hand their slots over; the others keep them until released
    assert live.count(7) == 18
    live.release(0)
    live.closing(4)  # nineteen calls: one closing at a time, and call 1 is
    assert (live.count(7), live.total()) == (18, 19)
    live.release(1)
    live.closing(4)
    assert (live.count(7), live.total()) == (17, 18)


def test_a_campaign_with_few_calls_may_still_have_one_closing() -> None:
    live, _woken = live_with(2)
    live.closing(0)
    live.closing(1)
    assert live.count(7) == 1
    live.release(1)  # released without closing: its slot
    assert (live.count(7), live.total()) == (0, 1)


def test_the_typical_hold_is_the_median_time_calls_kept_their_slot(monkeypatch: Any) -> None:
    clock = [100.0]
    monkeypatch.setattr(live_module.time, "monotonic", lambda: clock[0])
    live, _woken = live_with(5)
    assert live.typical_hold() == 0.0  # none ended yet
    for attempt_id, held in enumerate([2.0, 2.25, 9.0]):
        clock[0] = 100.0 + held
        if attempt_id == 1:
            live.closing(attempt_id)  # a slot handed over counts from then
        live.release(attempt_id)
    assert live.typical_hold() == 2.25
    assert len(live.freed) == 3  # one end each, a closing call's release not again


def test_answered_calls_tell_how_many_will_end_by_a_time() -> None:
    live, _woken = live_with(4)
    live.add(9, 8, 200, "79130009999")  # another campaign's
    live.expect_end(0, 10.0)
    live.expect_end(1, 12.0)
    live.expect_end(2, 30.0)
    live.expect_end(9, 10.0)
    live.expect_end(77, 10.0)  # not a call of ours: nothing
    # call 3 rings still: no end expected
    assert [live.ending(7, by) for by in (9.0, 10.0, 12.5, 31.0)] == [0, 1, 2, 3]
    assert live.ending(8, 31.0) == 1
    live.release(0)
    live.closing(1)  # its slot is the next call's already
    assert live.ending(7, 31.0) == 1


def test_the_dialer_is_told_whose_slot_was_freed_once() -> None:
    """A freed slot may be handed to a call claimed ahead (CallBook.hand_over): the dialer
    learns which call freed it, at closing or at release, never at both."""
    freed: list[int | None] = []
    live = LiveCalls(on_release=lambda call: freed.append(call.attempt_id if call else None))
    for attempt_id in (1, 2):
        live.add(attempt_id, 7, 100 + attempt_id, f"7913000000{attempt_id}")
    live.closing(1)
    live.release(1)
    live.release(2)
    live.release(2)
    assert freed == [1, None, 2, None]
