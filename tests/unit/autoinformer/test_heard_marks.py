"""HeardMarks: the marks of closed attempts wait for the next Originates to carry them."""

from __future__ import annotations

from autoinformer.phone.marks import HeardMarks, forget_variables


def test_each_call_carries_the_two_oldest_marks() -> None:
    marks = HeardMarks()
    for channel_id in ("cc-a", "cc-b", "cc-c"):
        marks.stored(channel_id)
    assert marks.take() == ["cc-a", "cc-b"]
    assert marks.take() == ["cc-c"]
    assert marks.take() == []


def test_marks_of_an_unanswered_call_go_back_to_the_front() -> None:
    marks = HeardMarks()
    for channel_id in ("cc-a", "cc-b", "cc-c"):
        marks.stored(channel_id)
    taken = marks.take()
    marks.give_back(taken)
    assert marks.take() == ["cc-a", "cc-b"]
    assert len(marks) == 1


def test_a_long_idle_node_keeps_only_the_newest_marks() -> None:
    marks = HeardMarks()
    for i in range(HeardMarks.LIMIT + 5):
        marks.stored(f"cc-{i}")
    assert len(marks) == HeardMarks.LIMIT
    assert marks.take() == ["cc-5", "cc-6"]


def test_the_dialplan_variables_are_numbered_from_one() -> None:
    assert forget_variables([]) == {}
    assert forget_variables(["cc-a", "cc-b"]) == {"CC_FORGET1": "cc-a", "CC_FORGET2": "cc-b"}
