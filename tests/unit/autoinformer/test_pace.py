"""The effective concurrency and why it is lower than asked (autoinformer.phone.pacing):
a literal table of the caps, and the Russian line `campaign status` and the web page show."""

from __future__ import annotations

from typing import Any

import pytest

from autoinformer.phone.pacing import Pace, effective_concurrency, pace_text


@pytest.mark.parametrize(
    ("asked", "given", "limit", "text"),
    [
        (10, {}, 10, "одновременно до 10"),
        (
            10,
            {"offers_operator": True, "free_operators": 2, "per_operator": 2},
            4,
            "одновременно 4 из 10: свободных операторов 2 (по 2 звонка на оператора)",
        ),
        # nobody free: still one call (who presses 0 is promised a call-back)
        (
            10,
            {"offers_operator": True, "free_operators": 0, "per_operator": 2},
            1,
            "одновременно 1 из 10: свободных операторов нет (по 2 звонка на оператора)",
        ),
        (
            10,
            {"offers_operator": True, "free_operators": 3, "per_operator": 1.5},
            5,
            "одновременно 5 из 10: свободных операторов 3 (по 1,5 звонка на оператора)",
        ),
        (
            10,
            {"offers_operator": True, "free_operators": 1, "per_operator": 5},
            5,
            "одновременно 5 из 10: свободных операторов 1 (по 5 звонков на оператора)",
        ),
        (
            10,
            {"offers_operator": True, "free_operators": 2, "per_operator": 1},
            2,
            "одновременно 2 из 10: свободных операторов 2 (по 1 звонку на оператора)",
        ),
        # enough operators: as asked
        (
            4,
            {"offers_operator": True, "free_operators": 3, "per_operator": 2},
            4,
            "одновременно до 4",
        ),
        (
            10,
            {"channels": 20, "channels_elsewhere": 17},
            3,
            "одновременно 3 из 10: лимит каналов 20, заняты другими кампаниями 17",
        ),
        (10, {"channels": 20, "channels_elsewhere": 5}, 10, "одновременно до 10"),
        (
            10,
            {"channels": 8, "channels_elsewhere": 9},
            0,
            "одновременно 0 из 10: лимит каналов 8, заняты другими кампаниями 9",
        ),
        # the tighter cap is the one named
        (
            10,
            {"offers_operator": True, "free_operators": 1, "per_operator": 2, "channels": 5},
            2,
            "одновременно 2 из 10: свободных операторов 1 (по 2 звонка на оператора)",
        ),
        (
            10,
            {"offers_operator": True, "free_operators": 5, "per_operator": 2, "channels": 3},
            3,
            "одновременно 3 из 10: лимит каналов 3, заняты другими кампаниями 0",
        ),
        # the link and Asterisk come first, whatever else holds
        (
            10,
            {"link_up": False, "offers_operator": True, "free_operators": 1},
            0,
            "одновременно 0 из 10: нет связи с Asterisk",
        ),
        (
            10,
            {"refusing": True},
            1,
            "одновременно 1 из 10: Asterisk не принимает вызовы, пробуем по одному",
        ),
    ],
)
def test_effective_concurrency_and_its_reason(
    asked: int, given: dict[str, Any], limit: int, text: str
) -> None:
    pace = effective_concurrency(asked, **given)
    assert pace.limit == limit
    assert pace_text(pace) == text


def test_a_pace_survives_its_json() -> None:
    pace = effective_concurrency(10, offers_operator=True, free_operators=2, per_operator=2)
    data = pace.to_data()
    assert data["reason"] == "operators" and data["limit"] == 4 and data["asked"] == 10
    assert Pace.from_data(data) == pace
    assert effective_concurrency(10).to_data()["reason"] is None
