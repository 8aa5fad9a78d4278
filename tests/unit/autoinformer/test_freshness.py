"""Fresh data at dial time, the rules (autoinformer.campaigns.freshness): literal tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from autoinformer.campaigns.freshness import (
    DebtNow,
    OutageNow,
    debt_verdict,
    outage_note,
    outage_values,
    outage_verdict,
)

KRS = ZoneInfo("Asia/Krasnoyarsk")
LISTED = {"debt": "1500.50", "debt_date": "2026-10-01", "address": "ул. Ленина, д. 5"}


@pytest.mark.parametrize(
    ("now", "reads_debt", "kind", "debt"),
    [
        # the customer left the base: the list's data are all there is
        (None, True, "same", None),
        (DebtNow(Decimal("1500.50"), date(2026, 10, 1)), True, "same", None),
        (DebtNow(Decimal("1500.5"), date(2026, 10, 1)), True, "same", None),
        (DebtNow(Decimal("0"), date(2026, 10, 1)), True, "paid", None),
        (DebtNow(Decimal("-10"), None), True, "paid", None),
        (DebtNow(None, None), True, "paid", None),
        (DebtNow(Decimal("700"), date(2026, 10, 1)), True, "changed", "700"),
        (DebtNow(Decimal("1500.50"), date(2026, 11, 1)), True, "changed", "1500.50"),
        # a message that does not read the debt is never held back by it
        (DebtNow(Decimal("0"), None), False, "changed", "0"),
    ],
)
def test_debt_as_it_stands_now_decides_the_call(
    now: DebtNow | None, reads_debt: bool, kind: str, debt: str | None
) -> None:
    verdict = debt_verdict(LISTED, now, reads_debt=reads_debt)
    assert verdict.kind == kind
    if debt is None:
        assert verdict.values is None
    else:
        assert verdict.values is not None
        assert verdict.values["debt"] == debt
        assert verdict.values["address"] == LISTED["address"]


def test_a_list_without_a_debt_column_keeps_its_values_when_the_message_ignores_debt() -> None:
    verdict = debt_verdict({"address": "x"}, DebtNow(Decimal("5"), None), reads_debt=False)
    assert verdict.kind == "same"


START = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
END = START + timedelta(hours=6)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("registry", "campaign_end", "kind", "end_at"),
    [
        ((START, END), START - DAY, None, None),
        (None, START - DAY, "cancelled", None),
        # moved later: the end was the 24 h rule's, it follows the outage
        ((START + DAY, END + DAY), START - DAY, "moved", START),
        # moved earlier: 24 h before the new start
        ((START - 5 * DAY / 24, END), START - DAY, "moved", START - DAY - 5 * DAY / 24),
        # the supervisor's own earlier end stays when it is still earlier
        ((START + DAY, END + DAY), START - 2 * DAY, "moved", START - 2 * DAY),
        # only the end moved: the campaign's end stays
        ((START, END + DAY), START - DAY, "moved", START - DAY),
    ],
)
def test_the_registry_moves_or_cancels_the_campaign(
    registry: tuple[datetime, datetime] | None,
    campaign_end: datetime,
    kind: str | None,
    end_at: datetime | None,
) -> None:
    now = OutageNow(*registry) if registry is not None else None
    verdict = outage_verdict(listed_start=START, listed_end=END, campaign_end=campaign_end, now=now)
    if kind is None:
        assert verdict is None
        return
    assert verdict is not None
    assert (verdict.kind, verdict.end_at) == (kind, end_at)


def test_moved_times_are_written_as_a_list_writes_them_and_the_note_says_why() -> None:
    assert outage_values(START, END, KRS) == {
        "outage_start": "2026-12-10T10:00",
        "outage_end": "2026-12-10T16:00",
    }
    verdict = outage_verdict(
        listed_start=START - DAY, listed_end=END - DAY, campaign_end=None, now=OutageNow(START, END)
    )
    assert verdict is not None
    before = START - 2 * DAY
    assert outage_note(verdict, 7, KRS, before) == (
        "отключение 7 перенесено на 10.12.2026 10:00–10.12.2026 16:00: "
        "оставшиеся звонки читают новое время"
    )
    assert "24 часа уже нельзя" in outage_note(verdict, 7, KRS, START)
    cancelled = outage_verdict(listed_start=START, listed_end=END, campaign_end=None, now=None)
    assert cancelled is not None
    assert "снято из реестра" in outage_note(cancelled, 7, KRS, before)
