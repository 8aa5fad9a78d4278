"""The call's state machine: allowed transitions only, each stamped by the clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contact_center.clock import Clock
from contact_center.hotline.flow import CallState, CallStateMachine, IllegalTransition

S = CallState


@pytest.mark.parametrize(
    "path",
    [
        [S.ANSWERED, S.WARNED, S.IVR, S.QUEUED, S.CONNECTED, S.ENDED],
        [S.ANSWERED, S.WARNED, S.IVR, S.SELF_SERVICE, S.IVR, S.SELF_SERVICE, S.IVR, S.ENDED],
        [S.ANSWERED, S.WARNED, S.CLOSED, S.MESSAGE, S.ENDED],
        [S.ANSWERED, S.WARNED, S.IVR, S.QUEUED, S.MESSAGE, S.ENDED],
        [S.ENDED],
        [S.ANSWERED, S.ENDED],
    ],
)
def test_allowed_paths(path: list[CallState]) -> None:
    machine = CallStateMachine(Clock())
    for state in path:
        machine.to(state)
    assert [t.state for t in machine.transitions] == [S.ARRIVED, *path]
    times = [t.at for t in machine.transitions]
    assert times == sorted(times)


@pytest.mark.parametrize(
    "path",
    [
        [S.WARNED],  # nothing before the answer
        [S.ANSWERED, S.IVR],  # nothing before the recording warning
        [S.ANSWERED, S.WARNED, S.QUEUED],  # the queue only from the menu
        [S.ANSWERED, S.WARNED, S.CLOSED, S.IVR],  # no menu out of hours
        [S.ENDED, S.ENDED],
    ],
)
def test_illegal_transitions(path: list[CallState]) -> None:
    machine = CallStateMachine(Clock())
    with pytest.raises(IllegalTransition):
        for state in path:
            machine.to(state)


def test_clock_offset_shifts_the_stamps() -> None:
    plain, shifted = CallStateMachine(Clock()), CallStateMachine(Clock(3600))
    delta = shifted.transitions[0].at - plain.transitions[0].at
    assert timedelta(minutes=59) < delta < timedelta(minutes=61)
    assert shifted.entered(S.ARRIVED) == shifted.transitions[0].at
    assert shifted.entered(S.QUEUED) is None
