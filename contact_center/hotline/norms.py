"""The standard's timing norms for telephone service and the hotline report (pure).

Standard, ch. 2 § 2.1 p. 4 (average/limit values):

    waiting for an operator's answer   40 s
    customer lookup by the operator    45 s
    giving the information requested   5 min
    post-call work                     5 min

What is measured (per appeal, in seconds):
    wait     queue entry -> operator answer (answered calls; abandoned calls are counted apart
             with how long they waited until they gave up)
    lookup   operator answer -> "lookup done"
    info     "lookup done" (or the answer) -> "info done"
    wrapup   end of the conversation -> "wrap-up done" (or the limit running out)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

METRICS = ("wait", "lookup", "info", "wrapup")


@dataclass(frozen=True, slots=True)
class Norms:
    wait: float = 40.0
    lookup: float = 45.0
    info: float = 300.0
    wrapup: float = 300.0

    def limit(self, metric: str) -> float:
        return float(getattr(self, metric))


NORMS = Norms()


@dataclass(frozen=True, slots=True)
class CallMetrics:
    """One appeal's measured times (None: not measured, e.g. no operator took it)."""

    day: date
    operator: str | None = None
    queued: bool = False
    answered: bool = False
    abandoned: bool = False
    wait: float | None = None
    lookup: float | None = None
    info: float | None = None
    wrapup: float | None = None

    def value(self, metric: str) -> float | None:
        value = getattr(self, metric)
        return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Stat:
    count: int
    avg_s: float | None
    max_s: float | None
    within_norm_share: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "avg_s": self.avg_s,
            "max_s": self.max_s,
            "within_norm_share": self.within_norm_share,
        }


def stat(values: Iterable[float], norm: float | None) -> Stat:
    """Count, average, maximum (rounded to 0.1 s) and the share at or under `norm`."""
    items = [float(v) for v in values]
    if not items:
        return Stat(0, None, None, None)
    share = None if norm is None else round(sum(v <= norm for v in items) / len(items), 4)
    return Stat(len(items), round(sum(items) / len(items), 1), round(max(items), 1), share)


@dataclass(frozen=True, slots=True)
class Group:
    calls: int
    queued: int
    answered: int
    abandoned: int
    metrics: Mapping[str, Stat]
    abandoned_wait: Stat

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "calls": self.calls,
            "queued": self.queued,
            "answered": self.answered,
            "abandoned": self.abandoned,
        }
        for metric in METRICS:
            out[metric] = self.metrics[metric].as_dict()
        out["abandoned_wait"] = {
            "count": self.abandoned_wait.count,
            "avg_s": self.abandoned_wait.avg_s,
            "max_s": self.abandoned_wait.max_s,
        }
        return out


def group(calls: Sequence[CallMetrics], norms: Norms = NORMS) -> Group:
    answered = [c for c in calls if c.answered]
    abandoned = [c for c in calls if c.abandoned]
    metrics = {
        m: stat(
            (v for c in (answered if m == "wait" else calls) if (v := c.value(m)) is not None),
            norms.limit(m),
        )
        for m in METRICS
    }
    return Group(
        calls=len(calls),
        queued=sum(c.queued for c in calls),
        answered=len(answered),
        abandoned=len(abandoned),
        metrics=metrics,
        abandoned_wait=stat((c.wait for c in abandoned if c.wait is not None), None),
    )


@dataclass(frozen=True, slots=True)
class Report:
    date_from: date
    date_to: date
    total: Group
    by_day: Mapping[date, Group] = field(default_factory=dict)
    by_operator: Mapping[str, Group] = field(default_factory=dict)
    norms: Norms = NORMS

    def as_dict(self) -> dict[str, Any]:
        """The JSON document: totals at the top (`calls`, `answered`, `abandoned`, `wait` ...)."""
        out: dict[str, Any] = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        out.update(self.total.as_dict())
        out["norms_s"] = {m: self.norms.limit(m) for m in METRICS}
        out["by_day"] = [{"day": d.isoformat(), **g.as_dict()} for d, g in self.by_day.items()]
        out["by_operator"] = [{"operator": o, **g.as_dict()} for o, g in self.by_operator.items()]
        return out


def build_report(
    calls: Iterable[CallMetrics], date_from: date, date_to: date, norms: Norms = NORMS
) -> Report:
    items = [c for c in calls if date_from <= c.day <= date_to]
    days: dict[date, list[CallMetrics]] = {}
    operators: dict[str, list[CallMetrics]] = {}
    for call in sorted(items, key=lambda c: c.day):
        days.setdefault(call.day, []).append(call)
        if call.operator:
            operators.setdefault(call.operator, []).append(call)
    return Report(
        date_from,
        date_to,
        group(items, norms),
        {d: group(v, norms) for d, v in days.items()},
        {o: group(v, norms) for o, v in sorted(operators.items())},
        norms,
    )
