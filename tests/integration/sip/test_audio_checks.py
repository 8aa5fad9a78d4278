"""The measures the SIP tests judge recordings by tell a tone from speech and silence
(else "audio flows" could pass on anything)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from tests.integration.sip.audio import duration, read_samples, rms, tone_share, write_tone


def test_a_tone_is_found_only_at_its_own_frequency(tmp_path: Path) -> None:
    samples, rate = read_samples(write_tone(tmp_path / "t.wav", 440, 1.0))
    assert duration(tmp_path / "t.wav") == pytest.approx(1.0)
    assert rms(samples) == pytest.approx(16000 / 2**0.5, rel=0.01)
    assert tone_share(samples, rate, 440) > 0.99
    assert tone_share(samples, rate, 1000) < 0.01


def test_silence_has_no_loudness_and_no_tone(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    samples, rate = read_samples(path)
    assert rms(samples) == 0.0 and tone_share(samples, rate, 440) == 0.0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_is_loud_but_no_tone(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "ru", "-w", str(path), "Ваш звонок записывается"],
        check=True,
        timeout=30,
    )
    samples, rate = read_samples(path)
    assert rms(samples) > 500
    assert tone_share(samples, rate, 440) < 0.8 and tone_share(samples, rate, 1000) < 0.8
