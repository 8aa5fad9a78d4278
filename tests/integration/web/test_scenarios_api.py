"""Scenarios over HTTP: list, show, add with validation errors naming the key, and the
preview as text and as a WAV of the call's parts."""

from __future__ import annotations

import io
import wave

import pytest

from tests.integration.autoinformer.conftest import SHORT_SCENARIO

from .conftest import Console, multipart

pytestmark = pytest.mark.integration


async def test_the_shipped_scenarios_are_listed_and_shown(console: Console) -> None:
    anna = await console.user("anna", "supervisor")
    listed = (await anna.get("/api/scenarios")).json()["scenarios"]
    assert {"debt-notice", "outage-warning", "reminder", "tariff-change"} <= {
        s["name"] for s in listed
    }
    shown = await anna.get("/api/scenarios/debt-notice")
    assert shown.status == 200
    data = shown.json()
    assert data["kind"] == "debt" and "debt" in data["fields"] and data["body"]["message"]
    missing = await anna.get("/api/scenarios/no-such")
    assert missing.status == 422 and missing.json()["field"] == "scenario"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('"1" = "confirm"', '"1" = "dance"'), "keys.1"),
        (("repeats = 0", "repeats = 9"), "repeats"),
        (('kind = "debt"', 'kind = "party"'), "kind"),
        (("{money:debt}", "{money:debt"), "message"),
    ],
)
async def test_a_scenario_with_a_bad_key_is_refused_naming_the_key(
    console: Console, change: tuple[str, str], key: str
) -> None:
    boris = await console.user("boris", "supervisor")
    text = SHORT_SCENARIO.replace(*change)
    assert text != SHORT_SCENARIO
    body, kind = multipart({}, {"file": ("плохой.toml", text.encode())})
    reply = await boris.request("POST", "/api/scenarios", body=body, content_type=kind)
    assert reply.status == 422, reply.text
    assert reply.json()["field"] == key
    assert reply.json()["error"].startswith(f"плохой.toml: {key}")
    names = {s["name"] for s in (await boris.get("/api/scenarios")).json()["scenarios"]}
    assert "test-debt" not in names


async def test_adding_a_scenario_makes_a_version_once_and_is_audited(console: Console) -> None:
    vera = await console.user("vera", "supervisor")
    first = await vera.request(
        "POST", "/api/scenarios", body=SHORT_SCENARIO.encode(), content_type="text/plain"
    )
    assert first.status == 201 and first.json()["ref"] == "test-debt@1"
    same = await vera.request(
        "POST", "/api/scenarios", body=SHORT_SCENARIO.encode(), content_type="text/plain"
    )
    assert same.status == 200 and same.json()["created"] is False
    changed = SHORT_SCENARIO.replace("repeats = 0", "repeats = 1").encode()
    body, kind = multipart({}, {"file": ("test-debt.toml", changed)})
    second = await vera.request("POST", "/api/scenarios", body=body, content_type=kind)
    assert second.status == 201 and second.json()["version"] == 2
    audit = await console.app.users.audit.list()
    assert [a.object_id for a in audit if a.action == "scenario.add"] == [
        "test-debt@2",
        "test-debt@1",
    ]
    oleg = await console.user("oleg", "operator")
    assert (
        await oleg.request(
            "POST", "/api/scenarios", body=SHORT_SCENARIO.encode(), content_type="text/plain"
        )
    ).status == 403


async def test_preview_says_the_message_for_the_sample_or_the_given_contact(
    console: Console,
) -> None:
    gleb = await console.user("gleb", "supervisor")
    await gleb.request(
        "POST", "/api/scenarios", body=SHORT_SCENARIO.encode(), content_type="text/plain"
    )
    sample = await gleb.post("/api/scenarios/test-debt/preview", {})
    assert sample.status == 200, sample.text
    assert sample.json()["text"].startswith("Задолженность одна тысяча пятьсот рублей")
    given = await gleb.post("/api/scenarios/test-debt/preview", {"sample": {"debt": "250,50"}})
    assert given.status == 200, given.text
    assert "двести пятьдесят рублей пятьдесят копеек" in given.json()["text"]
    bad = await gleb.post("/api/scenarios/test-debt/preview", {"debt": "много"})
    assert bad.status == 422 and bad.json()["field"], bad.text
    shipped = await gleb.post("/api/scenarios/debt-notice/preview", {})
    assert shipped.status == 200 and "рублей" in shipped.json()["text"]


async def test_preview_wav_is_the_message_as_8khz_audio(console: Console) -> None:
    dina = await console.user("dina", "supervisor")
    await dina.request(
        "POST", "/api/scenarios", body=SHORT_SCENARIO.encode(), content_type="text/plain"
    )
    reply = await dina.get("/api/scenarios/test-debt/preview.wav?debt=99")
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "audio/wav"
    assert reply.body[:4] == b"RIFF" and reply.body[8:12] == b"WAVE"
    with wave.open(io.BytesIO(reply.body)) as audio:
        assert audio.getframerate() == 8000 and audio.getnchannels() == 1
        seconds = audio.getnframes() / audio.getframerate()
    assert 1.0 < seconds < 20.0, seconds
    longer = await dina.get("/api/scenarios/test-debt/preview.wav?debt=987654.32")
    with wave.open(io.BytesIO(longer.body)) as audio:
        assert audio.getnframes() / audio.getframerate() > seconds, "the value is spoken"
    page = await dina.get("/scenarios")
    assert page.status == 200
    assert 'id="audio-test-debt"' in page.text
    assert 'src="/api/scenarios/test-debt/preview.wav"' in page.text
