"""The effective concurrency and why it is lower than asked (autoinformer.phone.pacing):
a literal table of the caps, and the Russian line `campaign status` and the web page show."""

from __future__ import annotations

from typing import Any

import pytest

from autoinformer.phone.pacing import Pace, effective_concurrency, operator_share, pace_text


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
        # shared with other campaigns that offer an operator: this one's share counts
        (
            10,
            {
                "offers_operator": True,
                "free_operators": 1,
                "per_operator": 3,
                "operator_campaigns": 2,
                "free_in_all": 2,
            },
            3,
            "одновременно 3 из 10: свободных операторов 2, на эту кампанию 1: "
            "их делят 2 кампании (по 3 звонка на оператора)",
        ),
        (
            10,
            {
                "offers_operator": True,
                "free_operators": 0,
                "per_operator": 3,
                "operator_campaigns": 5,
                "free_in_all": 1,
            },
            1,
            "одновременно 1 из 10: свободных операторов 1, на эту кампанию 0: "
            "их делят 5 кампаний (по 3 звонка на оператора)",
        ),
        (
            10,
            {
                "offers_operator": True,
                "free_operators": 1,
                "per_operator": 1,
                "operator_campaigns": 21,
                "free_in_all": 21,
            },
            1,
            "одновременно 1 из 10: свободных операторов 21, на эту кампанию 1: "
            "их делят 21 кампания (по 1 звонку на оператора)",
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


@pytest.mark.parametrize(
    ("free", "campaign", "campaigns", "share"),
    [
        (3, 7, [7], 3),
        (3, 7, [], 3),
        (3, 7, [4, 9], 3),  # not among them: all of them (it offers no operator)
        (4, 7, [7, 9], 2),
        (3, 4, [9, 4], 2),  # the remainder to the lowest id, whatever the order
        (3, 9, [9, 4], 1),
        (1, 4, [4, 9, 12], 1),
        (1, 9, [4, 9, 12], 0),
        (0, 4, [4, 9], 0),
        (5, 12, [4, 9, 12, 12], 1),  # a campaign named twice counts once
    ],
)
def test_free_operators_are_split_between_campaigns_alike_on_every_worker(
    free: int, campaign: int, campaigns: list[int], share: int
) -> None:
    assert operator_share(free, campaign, campaigns) == share


def test_the_shares_add_up_to_the_free_operators() -> None:
    for free in range(7):
        for n in range(1, 5):
            ids = list(range(10, 10 + n))
            assert sum(operator_share(free, i, ids) for i in ids) == free


def test_a_shared_pace_survives_its_json() -> None:
    pace = effective_concurrency(
        10,
        offers_operator=True,
        free_operators=1,
        per_operator=3,
        operator_campaigns=2,
        free_in_all=2,
    )
    assert Pace.from_data(pace.to_data()) == pace
    assert pace.to_data()["operator_campaigns"] == 2
