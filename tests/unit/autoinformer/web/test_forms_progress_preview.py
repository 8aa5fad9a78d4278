"""The web side's pure parts: the new-campaign form, live counters, preview samples, WAV joining."""

from __future__ import annotations

import io
import json
import time
import wave
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autoinformer.scenarios import scenario_from_text
from autoinformer.scheduling import Caps, Retry, Window
from autoinformer.web.forms import Defaults, FieldError, campaign_spec
from autoinformer.web.preview import PreviewError, join_wavs, sample_contact
from autoinformer.web.progress import CampaignProgress, by_status_label, contact_counters
from contact_center.clock import Clock

DEFAULTS = Defaults("Asia/Krasnoyarsk", 30.0)
KRS = ZoneInfo("Asia/Krasnoyarsk")


def form(**fields: str | list[str]) -> dict[str, list[str]]:
    base: dict[str, str | list[str]] = {"name": "Долги", "kind": "debt"}
    base.update(fields)
    return {k: v if isinstance(v, list) else [v] for k, v in base.items()}


def test_the_form_reads_like_campaign_create_with_its_defaults() -> None:
    spec = campaign_spec(form(), DEFAULTS)
    assert (spec.scenario, spec.channel, spec.concurrency, spec.ring_timeout) == (
        "debt-notice",
        "phone",
        10,
        30.0,
    )
    assert spec.caps is None and spec.start is None


def test_the_form_reads_browser_times_as_local_and_every_option() -> None:
    spec = campaign_spec(
        form(
            start="2026-12-01T09:30",
            end="02.12.2026 18:00",
            window="10:00-19:00",
            days="mon-fri",
            concurrency="5",
            ring_timeout="20,5",
            retry="busy=3/2m, no_answer=1/1h",
            caps="1/2/8",
            priority="3",
        ),
        DEFAULTS,
    )
    assert spec.start == datetime(2026, 12, 1, 9, 30, tzinfo=KRS)
    assert spec.end == datetime(2026, 12, 2, 18, 0, tzinfo=KRS)
    assert spec.windows.workday == Window.parse("10:00-19:00") and spec.windows.days == frozenset(
        range(5)
    )
    assert (spec.concurrency, spec.ring_timeout, spec.priority) == (5, 20.5, 3)
    assert spec.retry["busy"] == Retry(3, timedelta(minutes=2))
    assert spec.retry["no_answer"] == Retry(1, timedelta(hours=1))
    assert spec.caps == Caps(1, 2, 8)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "name"),
        ({"kind": "party"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"days": "someday"}, "days"),
        ({"window": "9-5"}, "window"),
        ({"concurrency": "0"}, "concurrency"),
        ({"concurrency": "много"}, "concurrency"),
        ({"ring_timeout": "500"}, "ring_timeout"),
        ({"retry": "busy=0/1m"}, "retry"),
        ({"caps": "1/x"}, "caps"),
        ({"start": "вчера"}, "start"),
        ({"outage_start": "2026-13-40 10:00"}, "outage_start"),
        ({"decision_date": "32.12.2026"}, "decision_date"),
        ({"outage_end": "завтра"}, "outage_end"),
        ({"outage": "третье"}, "outage"),
        ({"where": "debt>=много"}, "where"),
        ({"where": "цвет=синий"}, "where"),
    ],
)
def test_a_bad_field_is_named(fields: dict[str, str], field: str) -> None:
    with pytest.raises(FieldError) as refused:
        campaign_spec(form(**fields), DEFAULTS)
    assert refused.value.field == field and refused.value.reason


def test_the_list_source_fields_read_like_where_and_outage() -> None:
    spec = campaign_spec(
        form(
            kind="outage",
            outage="7",
            where="address=ул. Ленина, д. 5, 7; ул. Чкалова\r\n\r\ndebt>=1000\n",
            outage_end="2026-12-04T17:00",
        ),
        DEFAULTS,
    )
    assert spec.outage_id == 7
    assert spec.outage_end == datetime(2026, 12, 4, 17, 0, tzinfo=KRS)
    # one filter a line: the commas and semicolons of an address stay inside its filter
    assert [f.key for f in spec.where] == ["address", "debt"]
    assert len(spec.where[0].entries) == 2


def test_counters_from_grouped_rows_match_campaign_status() -> None:
    counters = contact_counters(
        [
            ("waiting", None, False, False, None, 3),
            ("waiting", "busy", False, True, "retry", 2),
            ("calling", None, False, True, None, 1),
            ("done", "notified", True, True, None, 4),
            ("done", "opted_out", True, True, None, 1),
            ("done", "no_answer", False, True, None, 2),
        ],
        attempts=15,
    )
    assert {k: counters[k] for k in ("total", "waiting", "calling", "done", "notified")} == {
        "total": 13,
        "waiting": 5,
        "calling": 1,
        "done": 7,
        "notified": 5,
    }
    assert (counters["failed"], counters["retries_due"], counters["attempts"]) == (2, 2, 15)
    assert counters["waiting_reasons"] == {"due": 3, "retry": 2}
    assert by_status_label(counters) == {
        "waiting": 5,
        "calling": 1,
        "no_answer": 2,
        "notified": 4,
        "opted_out": 1,
    }


class Hub:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    def publish(self, key: str, event: str, data: Any) -> None:
        self.events.append((key, event, data))


def test_progress_publishes_a_change_once_with_a_series_point() -> None:
    hub = Hub()
    progress = CampaignProgress(None, hub, Clock())  # type: ignore[arg-type]

    class C:
        id, name, status, channel = 7, "x", "running", "phone"
        started_at = datetime.now(KRS) - timedelta(minutes=1)
        finished_at = None
        # the dialer's pace as it stores it (autoinformer.phone.pacing.Pace)
        pace = json.dumps(
            {"asked": 10, "limit": 4, "reason": "operators", "free_operators": 2, "per_operator": 2}
        )

    one = contact_counters([("waiting", None, False, False, None, 2)], attempts=0)
    progress._update(C(), one)  # type: ignore[arg-type]
    progress._update(C(), one)  # type: ignore[arg-type]
    two = contact_counters([("done", "notified", True, True, None, 2)], attempts=2)
    progress._update(C(), two)  # type: ignore[arg-type]
    assert [e[0] for e in hub.events] == ["campaign:7", "campaign:7"]
    assert [p["notified"] for p in progress.series(7)] == [0.0, 2.0]
    assert hub.events[-1][2]["point"]["attempts"] == 2.0
    # codes stay codes, with the words a supervisor reads beside them
    first, last = hub.events[0][2], hub.events[-1][2]
    assert first["waiting_reasons_label"] == {"due": "на очереди"}
    assert last["by_status_label"] == {"notified": "оповещён"}
    assert last["status_label"] == "идёт"
    assert last["concurrency"]["text"] == (
        "одновременно 4 из 10: свободных операторов 2 (по 2 звонка на оператора)"
    )
    # the wall-clock moment of publishing, for clients to measure delivery (bench/sse.py)
    assert abs(hub.events[-1][2]["ts"] - time.time()) < 5
    assert progress.contacts_by_status[7] == {"waiting": 0, "calling": 0, "notified": 2}


SCENARIO = """
name = "s"
kind = "outage"
message = "Отключение {date:outage_start} по адресу {field:address}, долг {money:debt}."
"""


def test_the_sample_fills_every_field_and_takes_list_like_values() -> None:
    scenario = scenario_from_text(SCENARIO, "s.toml")
    sample = sample_contact(scenario)
    assert {"outage_start", "address", "debt"} <= set(sample)
    given = sample_contact(scenario, {"debt": "1 500,5", "outage_start": "05.12.2026 10:00"})
    assert (given["debt"], given["outage_start"]) == ("1500.50", "2026-12-05T10:00")
    with pytest.raises(PreviewError) as bad:
        sample_contact(scenario, {"debt": "много"})
    assert bad.value.field == "debt"
    with pytest.raises(PreviewError):
        sample_contact(scenario, {"bad name!": "1"})


def _wav(path: Path, frames: int, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * frames)
    return path


def test_wav_parts_are_joined_with_a_gap_and_formats_must_match(tmp_path: Path) -> None:
    a, b = _wav(tmp_path / "a.wav", 800), _wav(tmp_path / "b.wav", 1600)
    joined = join_wavs([a, b], gap=0.1)
    with wave.open(io.BytesIO(joined)) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 800 + 800 + 1600
    with pytest.raises(ValueError):
        join_wavs([a, _wav(tmp_path / "c.wav", 10, rate=16000)])
    with wave.open(io.BytesIO(join_wavs([]))) as w:
        assert w.getnframes() == 0 and w.getframerate() == 8000
