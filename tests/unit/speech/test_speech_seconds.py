"""How long rendered names play: read from their WAV headers, whatever the prefix."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from contact_center.speech.service import Speech


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))


@pytest.mark.parametrize("prefix", ["cc", "", "/var/lib/asterisk/sounds/cc"])
def test_the_length_of_a_message_is_the_sum_of_its_parts(tmp_path: Path, prefix: str) -> None:
    speech = Speech(tmp_path, asterisk_prefix=prefix)
    first, second = tmp_path / "cache" / "ab" / "ab12.wav", tmp_path / "prompts" / "bye.wav"
    write_wav(first, 1.5)
    write_wav(second, 0.25)
    names = [speech.playback_name(first), speech.playback_name(second)]
    assert speech.seconds(names) == pytest.approx(1.75)
    first.unlink()  # remembered: no second read
    assert speech.seconds(names[:1]) == pytest.approx(1.5)
    assert speech.seconds([]) == 0.0


def test_a_part_that_cannot_be_read_makes_the_length_unknown(tmp_path: Path) -> None:
    speech = Speech(tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "cut.wav").write_bytes(b"RIFF")
    assert speech.seconds(["cc/cache/cut"]) is None
    assert speech.seconds(["cc/cache/missing"]) is None
