"""Pacing: by the operators (how many are free to take a transfer, and who took ours) and
by Asterisk itself (no dialing while it refuses Originates or the link is down)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from contact_center.speech.numbers import plural_form
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import TelephonyError

log = logging.getLogger(__name__)


# why a campaign runs fewer calls at once than asked (Pace.reason)
PACE_REASONS = ("", "link_down", "asterisk_refuses", "operators", "channels")


@dataclass(frozen=True, slots=True)
class Pace:
    """How many calls a campaign may have at once now, and why it is fewer than asked."""

    asked: int
    limit: int
    # PACE_REASONS: "" (as asked), the AMI link is down, Asterisk refuses Originates
    # (one call at a time until it takes one), the free operators (a scenario offering 0),
    # the trunk's channel limit shared by every campaign
    reason: str = ""
    free_operators: int | None = None
    per_operator: float | None = None
    channels: int | None = None
    channels_elsewhere: int | None = None
    # the free operators are shared by this many running campaigns that offer one
    # (`free_operators` is this campaign's share of `free_in_all`)
    operator_campaigns: int | None = None
    free_in_all: int | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "limit": self.limit,
            "reason": self.reason or None,
            "free_operators": self.free_operators,
            "per_operator": self.per_operator,
            "channels": self.channels,
            "channels_elsewhere": self.channels_elsewhere,
            "operator_campaigns": self.operator_campaigns,
            "free_in_all": self.free_in_all,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Pace:
        return cls(
            asked=int(data["asked"]),
            limit=int(data["limit"]),
            reason=str(data.get("reason") or ""),
            free_operators=data.get("free_operators"),
            per_operator=data.get("per_operator"),
            channels=data.get("channels"),
            channels_elsewhere=data.get("channels_elsewhere"),
            operator_campaigns=data.get("operator_campaigns"),
            free_in_all=data.get("free_in_all"),
        )


def operator_share(free: int, campaign_id: int, campaigns: Collection[int]) -> int:
    """The free operators one of several running campaigns that offer an operator may count
    on (pure): split evenly, the remainder to the lowest campaign ids, so every worker that
    sees the same campaigns splits them the same way and together they never promise the
    same operator twice. A campaign alone (or not among them) has them all."""
    ids = sorted(set(campaigns))
    if len(ids) <= 1 or campaign_id not in ids:
        return free
    n, index = len(ids), ids.index(campaign_id)
    return free // n + (1 if index < free % n else 0)


def effective_concurrency(
    asked: int,
    *,
    link_up: bool = True,
    refusing: bool = False,
    offers_operator: bool = False,
    free_operators: int = 0,
    per_operator: float = 2.0,
    channels: int = 0,
    channels_elsewhere: int = 0,
    operator_campaigns: int = 1,
    free_in_all: int | None = None,
) -> Pace:
    """The calls a campaign may have at once (pure): `asked` (its --concurrency), capped
    - by the free operators when its scenario offers 0: `per_operator` calls per free
      operator, at least one (who presses 0 with nobody free is promised a call-back);
      `free_operators` is its share when `operator_campaigns` campaigns offer one
      (`operator_share` of `free_in_all`);
    - by the trunk's `channels` (0: no limit) less the calls of other campaigns;
    - to nothing while the AMI link is down, to one while Asterisk refuses Originates.
    The reason named is the cap that holds (the tightest; the link and Asterisk first)."""
    if not link_up:
        return Pace(asked, 0, "link_down")
    if refusing:
        return Pace(asked, min(asked, 1), "asterisk_refuses")
    limit, reason = asked, ""
    by_operators: int | None = None
    if offers_operator:
        by_operators = max(1, math.ceil(free_operators * per_operator))
        if by_operators < limit:
            limit, reason = by_operators, "operators"
    if channels > 0:
        by_channels = max(0, channels - channels_elsewhere)
        if by_channels < limit:
            limit, reason = by_channels, "channels"
    return Pace(
        asked,
        limit,
        reason,
        free_operators=free_operators if offers_operator else None,
        per_operator=per_operator if offers_operator else None,
        channels=channels or None,
        channels_elsewhere=channels_elsewhere if channels else None,
        operator_campaigns=operator_campaigns
        if offers_operator and operator_campaigns > 1
        else None,
        free_in_all=free_in_all if offers_operator and operator_campaigns > 1 else None,
    )


def pace_text(pace: Pace) -> str:
    """The pace as a supervisor reads it: «одновременно 4 из 10: свободных операторов 2
    (по 2 звонка на оператора)»."""
    head = f"одновременно {pace.limit} из {pace.asked}"
    if not pace.reason:
        return f"одновременно до {pace.asked}"
    if pace.reason == "link_down":
        return f"{head}: нет связи с Asterisk"
    if pace.reason == "asterisk_refuses":
        return f"{head}: Asterisk не принимает вызовы, пробуем по одному"
    if pace.reason == "operators":
        free = pace.free_operators or 0
        per = _number(pace.per_operator or 0)
        operators = f"свободных операторов {free}" if free else "свободных операторов нет"
        if pace.operator_campaigns:
            n = pace.operator_campaigns
            operators = (
                f"свободных операторов {pace.free_in_all or 0}, на эту кампанию {free}: "
                f"их делят {n} {plural_form(n, 'кампания', 'кампании', 'кампаний')}"
            )
        return f"{head}: {operators} (по {per} {_calls_word(pace.per_operator or 0)} на оператора)"
    if pace.reason == "channels":
        return (
            f"{head}: лимит каналов {pace.channels}, "
            f"заняты другими кампаниями {pace.channels_elsewhere or 0}"
        )
    return head


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}".replace(".", ",")


def _calls_word(value: float) -> str:
    """«по N звонку/звонка/звонков» (по + dative: 1 звонку, 2 звонка, 5 звонков)."""
    if value != int(value):
        return "звонка"
    n = int(value)
    if n % 10 == 1 and n % 100 != 11:
        return "звонку"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return "звонка"
    return "звонков"


class OperatorDesk:
    """Free operators of the queue, from AMI QueueSummary (Available minus callers already
    waiting), or from `counter` when the operators are on another node, cached for a
    second; transfers in flight are counted as taken.

    It also notes which operator answered each of the dialer's transfers (AMI AgentConnect).
    Only calls announced with `expect` are noted, and each is dropped by `answered_by` when
    its transfer ends: the hotline's own calls connect operators all day long.
    """

    def __init__(
        self,
        link: AmiLink,
        queue: str,
        *,
        ttl: float = 1.0,
        counter: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._link = link
        self._queue = queue
        # the operators are on another node: their free count from the shared database
        # (what every worker reads, so the campaign's limit, which claims check against
        # the open calls of all workers, is the same everywhere)
        self._counter = counter
        self._ttl = ttl
        self._cached: tuple[float, int] | None = None
        self._failing = False
        self.in_flight = 0
        self._transfers: dict[str, str] = {}  # our call's uniqueid -> operator interface
        self._on_connect: dict[str, Callable[[str], None]] = {}
        self._unsubscribe = link.on_event("AgentConnect", self._on_agent_connect)

    def close(self) -> None:
        self._unsubscribe()

    async def free(self, *, fresh: bool = False) -> int:
        now = time.monotonic()
        if fresh or self._cached is None or now - self._cached[0] > self._ttl:
            available = 0
            try:
                if self._counter is not None:
                    available = await self._counter()
                else:
                    events = await self._link.action_list("QueueSummary", Queue=self._queue)
                    for event in events:
                        if str(event.get("Queue", "")) == self._queue:
                            available = _int(event.get("Available")) - _int(event.get("Callers"))
            except (TelephonyError, SQLAlchemyError) as exc:
                # once per outage, not once per pass
                if not self._failing:
                    log.warning("free operators not known: %s", exc)
                self._failing = True
            else:
                self._failing = False
            self._cached = (now, max(0, available))
        return max(0, self._cached[1] - self.in_flight)

    def expect(self, uniqueid: str, on_connect: Callable[[str], None] | None = None) -> None:
        """A call of ours is about to enter the queue (or is there already, after a
        restart): note the operator who answers it, and tell `on_connect` at once (the
        call stores it as it happens)."""
        self._transfers.setdefault(uniqueid, "")
        if on_connect is not None:
            self._on_connect[uniqueid] = on_connect

    def answered_by(self, uniqueid: str) -> str:
        """The operator who answered the call ("" nobody); the call is no longer watched."""
        self._on_connect.pop(uniqueid, None)
        return self._transfers.pop(uniqueid, "")

    @property
    def watched(self) -> int:
        return len(self._transfers)

    def _on_agent_connect(self, event: Any) -> None:
        interface = str(event.get("Interface", "") or event.get("MemberName", ""))
        # the queue's caller is our channel, or a channel linked to it
        for key in ("Uniqueid", "Linkedid"):
            uid = str(event.get(key, ""))
            if uid and uid in self._transfers:
                self._transfers[uid] = interface
                callback = self._on_connect.get(uid)
                if callback is not None:
                    callback(interface)
                return


class DialGate:
    """Whether the dialer may place calls now. Asterisk refusing an Originate (shutting
    down, overloaded) or the link being down means nobody can be called: the dialer
    holds, then sends one call to see if Asterisk takes it again, and only then a full
    batch, instead of claiming the whole list and handing every contact back."""

    def __init__(self, *, first_hold: float = 0.5, longest_hold: float = 8.0) -> None:
        self._first = first_hold
        self._longest = longest_hold
        self._hold = 0.0
        self._until = 0.0
        self.refused = 0
        # Originates sent and not answered yet (refused or taken)
        self.in_flight = 0

    @property
    def open(self) -> bool:
        return time.monotonic() >= self._until

    @property
    def probing(self) -> bool:
        """The last Originate was refused: one call at a time until one is taken."""
        return self._hold > 0

    def not_sent(self) -> None:
        self.refused += 1
        self._hold = min(self._longest, self._hold * 2) if self._hold else self._first
        self._until = time.monotonic() + self._hold

    def sent(self) -> None:
        self._hold = 0.0
        self._until = 0.0


def _int(value: Any) -> int:
    text = str(value or "0")
    return int(text) if text.lstrip("-").isdigit() else 0
