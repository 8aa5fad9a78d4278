"""The standard's norms and the hotline report, on literal tables."""

from __future__ import annotations

from datetime import date

import pytest

from contact_center.hotline.norms import (
    NORMS,
    CallMetrics,
    build_report,
    stat,
)

D1, D2 = date(2026, 11, 25), date(2026, 11, 26)


def test_norms_are_the_standards() -> None:
    assert (NORMS.wait, NORMS.lookup, NORMS.info, NORMS.wrapup) == (40, 45, 300, 300)


@pytest.mark.parametrize(
    ("values", "norm", "expected"),
    [
        ([], 40, (0, None, None, None)),
        ([10, 30, 50], 40, (3, 30.0, 50.0, 0.6667)),
        ([40, 40.0], 40, (2, 40.0, 40.0, 1.0)),
        ([40.01], 40, (1, 40.0, 40.0, 0.0)),
        ([1, 2], None, (2, 1.5, 2.0, None)),
    ],
)
def test_stat(values: list[float], norm: float | None, expected: tuple[object, ...]) -> None:
    s = stat(values, norm)
    assert (s.count, s.avg_s, s.max_s, s.within_norm_share) == expected


CALLS = [
    #           day operator      queued answered abandoned wait   lookup info  wrapup
    CallMetrics(D1, "op1", True, True, False, 10.0, 30.0, 100.0, 60.0),
    CallMetrics(D1, "op1", True, True, False, 50.0, 50.0, 400.0, 400.0),
    CallMetrics(D1, "op2", True, True, False, 20.0, None, 200.0, 120.0),
    CallMetrics(D1, None, True, False, True, 70.0),
    CallMetrics(D2, "op2", True, True, False, 40.0, 45.0, 300.0, 300.0),
    CallMetrics(D2, None, True, False, True, 5.0),
    CallMetrics(D2, None, False, False, False),  # self-service only
]


def test_report_totals_by_day_and_by_operator() -> None:
    report = build_report(CALLS, D1, D2)
    doc = report.as_dict()
    assert (doc["calls"], doc["answered"], doc["abandoned"], doc["queued"]) == (7, 4, 2, 6)
    assert doc["wait"] == {"count": 4, "avg_s": 30.0, "max_s": 50.0, "within_norm_share": 0.75}
    assert doc["lookup"] == {"count": 3, "avg_s": 41.7, "max_s": 50.0, "within_norm_share": 0.6667}
    assert doc["info"]["within_norm_share"] == 0.75
    assert doc["wrapup"]["max_s"] == 400.0
    assert doc["abandoned_wait"] == {"count": 2, "avg_s": 37.5, "max_s": 70.0}
    days = {d["day"]: d for d in doc["by_day"]}
    assert days["2026-11-25"]["calls"] == 4 and days["2026-11-25"]["abandoned"] == 1
    assert days["2026-11-26"]["wait"]["within_norm_share"] == 1.0
    ops = {o["operator"]: o for o in doc["by_operator"]}
    assert ops["op1"]["answered"] == 2 and ops["op1"]["wait"]["avg_s"] == 30.0
    assert ops["op2"]["lookup"]["count"] == 1
    assert doc["norms_s"] == {"wait": 40.0, "lookup": 45.0, "info": 300.0, "wrapup": 300.0}


def test_report_keeps_only_the_period() -> None:
    report = build_report(CALLS, D2, D2)
    assert report.total.calls == 3 and list(report.by_day) == [D2]


def test_empty_report_has_nulls_not_zero_division() -> None:
    doc = build_report([], D1, D1).as_dict()
    assert doc["calls"] == 0
    assert doc["wait"] == {"count": 0, "avg_s": None, "max_s": None, "within_norm_share": None}
