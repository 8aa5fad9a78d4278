"""Asterisk plays synthesized phrases by the names contact_center.speech gives them."""

from __future__ import annotations

import shutil
import urllib.parse
import wave
from pathlib import Path

import pytest

from contact_center.speech.service import Speech
from tests.integration.conftest import AsteriskFixture
from tests.integration.test_asterisk_local import raw_ami

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None or shutil.which("sox") is None,
        reason="espeak-ng and sox are needed for synthesis",
    ),
]


def agi_result(event: dict[str, str]) -> dict[str, str]:
    """'200 result=0 endpos=16742' (URL-encoded in AsyncAGIExec) -> {'result': '0', ...}."""
    text = urllib.parse.unquote(event["Result"]).strip()
    code, *pairs = text.split()
    assert code == "200", text
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


async def test_asterisk_streams_rendered_message(asterisk: AsteriskFixture) -> None:
    sounds_dir = Path(asterisk.settings.sounds_dir)  # linked as `cc` into Asterisk's sounds
    async with Speech(sounds_dir) as speech:
        names = await speech.render("Задолженность {money:debt}", {"debt": "1500.50"})
    assert all(name.startswith("cc/cache/") for name in names)
    frames = []
    for name in names:
        with wave.open(str(sounds_dir / (name.removeprefix("cc/") + ".wav"))) as w:
            frames.append(w.getnframes())

    async with raw_ami(asterisk) as (ami, login):
        assert login["Response"] == "Success"
        reply = await ami.action(
            "Originate",
            Channel="Local/79130000001@sim-customers",
            Context="autoinformer",
            Exten="s",
            Priority="1",
            Async="true",
            Timeout="4000",
            ChannelId="t-speech-0001",
        )
        assert reply["Response"] == "Success"
        start = await ami.event(
            lambda m: m.get("Event") == "AsyncAGIStart" and m["Uniqueid"] == "t-speech-0001"
        )
        channel = start["Channel"]
        try:
            for i, (name, nframes) in enumerate(zip(names, frames, strict=True)):
                await ami.action(
                    "AGI", Channel=channel, Command=f'STREAM FILE {name} ""', CommandID=f"sp{i}"
                )
                done = await ami.event(
                    lambda m, i=i: (
                        m.get("Event") == "AsyncAGIExec" and m.get("CommandId") == f"sp{i}"
                    ),
                    timeout=20,
                )
                result = agi_result(done)
                assert result["result"] == "0", result
                # endpos: samples played; the whole 8 kHz file was read
                assert int(result["endpos"]) >= 0.9 * nframes, (result, nframes)

            await ami.action(
                "AGI",
                Channel=channel,
                Command='STREAM FILE cc/cache/00/no-such-phrase ""',
                CommandID="missing",
            )
            missing = agi_result(
                await ami.event(
                    lambda m: m.get("Event") == "AsyncAGIExec" and m.get("CommandId") == "missing"
                )
            )
            assert missing["result"] == "-1" or missing.get("endpos") == "0"
        finally:
            await ami.action("Hangup", Channel=channel)
