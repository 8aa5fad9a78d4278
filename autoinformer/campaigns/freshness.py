"""Fresh data at dial time (issue 13 § 4), the pure half: what a contact's debt as it stands
in the customer base now, or its outage as the registry holds it now, means for a call
that is about to be made. The dialer reads the data (autoinformer.phone.fresh) and acts.

- a debt paid since the list was made (≤ 0, or no debt at all) is not called: `paid`;
- a debt that changed is read out as it stands now (the contact's values are rewritten
  before the message is rendered);
- an outage removed from the registry cancels the campaign's remaining calls; an outage
  moved is read out with its new times, and the 24 h rule is applied again: the campaign
  ends 24 h before the new start, so a warning that can no longer be given in time ends
  as `not_reached_in_time`, as it does when a campaign runs out of time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from autoinformer.scheduling import OUTAGE_LEAD

# how an outage's times are written in a contact's values (and in a CSV list)
LIST_TIME = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True, slots=True)
class DebtNow:
    """A customer's debt as the base holds it at dial time."""

    debt: Decimal | None
    debt_date: date | None


@dataclass(frozen=True, slots=True)
class DebtVerdict:
    # "paid": not called; "changed": call with `values`; "same": call as listed
    kind: str
    values: Mapping[str, str] | None = None


SAME = DebtVerdict("same")
PAID = DebtVerdict("paid")


def debt_verdict(
    values: Mapping[str, str], now: DebtNow | None, *, reads_debt: bool
) -> DebtVerdict:
    """What the debt as it stands now means for a contact listed with `values`.

    `now` None: the customer is no longer in the base (the list's data are all there is).
    A message that does not read the debt is never held back by it (only its value is
    kept current)."""
    if now is None:
        return SAME
    if reads_debt and (now.debt is None or now.debt <= 0):
        return PAID
    fresh = {
        "debt": "" if now.debt is None else str(now.debt),
        "debt_date": "" if now.debt_date is None else now.debt_date.isoformat(),
    }
    if "debt" not in values and not reads_debt:
        return SAME
    if (
        _same_amount(values.get("debt", ""), fresh["debt"])
        and values.get("debt_date", "") == fresh["debt_date"]
    ):
        return SAME
    return DebtVerdict("changed", {**values, **fresh})


def _same_amount(a: str, b: str) -> bool:
    try:
        return Decimal(a) == Decimal(b)
    except (InvalidOperation, ValueError):
        return a == b


@dataclass(frozen=True, slots=True)
class OutageNow:
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class OutageVerdict:
    # "cancelled": the outage is gone from the registry; "moved": new times
    kind: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # the campaign's new end (24 h before the new start, or its own earlier end)
    end_at: datetime | None = None


def outage_verdict(
    *,
    listed_start: datetime | None,
    listed_end: datetime | None,
    campaign_end: datetime | None,
    now: OutageNow | None,
) -> OutageVerdict | None:
    """What the registry's outage now means for the campaign warning of it (None: nothing
    changed). `listed_*`: the times the campaign reads out; `campaign_end`: its end."""
    if now is None:
        return OutageVerdict("cancelled")
    if now.starts_at == listed_start and now.ends_at == listed_end:
        return None
    cutoff = now.starts_at - OUTAGE_LEAD
    old_cutoff = listed_start - OUTAGE_LEAD if listed_start is not None else None
    if campaign_end is None or campaign_end == old_cutoff:
        # the end was the 24 h rule's: it follows the outage
        end_at = cutoff
    else:
        end_at = min(campaign_end, cutoff)
    return OutageVerdict("moved", now.starts_at, now.ends_at, end_at)


def outage_values(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> dict[str, str]:
    """An outage's times as a contact's values carry them (what the message reads out)."""
    return {
        "outage_start": starts_at.astimezone(tz).strftime(LIST_TIME),
        "outage_end": ends_at.astimezone(tz).strftime(LIST_TIME),
    }


def outage_note(verdict: OutageVerdict, outage_id: int, tz: ZoneInfo, now: datetime) -> str:
    """The supervisor's line about what the registry did (status, report)."""
    if verdict.kind == "cancelled":
        return f"отключение {outage_id} снято из реестра: оставшиеся звонки отменены"
    assert verdict.starts_at is not None and verdict.ends_at is not None
    fmt = "%d.%m.%Y %H:%M"
    moved = (
        f"отключение {outage_id} перенесено на {verdict.starts_at.astimezone(tz):{fmt}}"
        f"–{verdict.ends_at.astimezone(tz):{fmt}}"
    )
    if verdict.end_at is not None and verdict.end_at <= now:
        return moved + ": предупредить за 24 часа уже нельзя, оставшиеся не оповещены в срок"
    return moved + ": оставшиеся звонки читают новое время"
