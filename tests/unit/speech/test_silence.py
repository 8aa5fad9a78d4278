"""The silence a wait for a key plays: written once, complete, replaced when broken."""

from __future__ import annotations

import wave
from pathlib import Path

from contact_center.speech.silence import SILENCE_SECONDS, ensure_silence, silence_path


def test_the_silence_is_ten_seconds_of_8_khz_zeros_written_once(tmp_path: Path) -> None:
    path, written = ensure_silence(tmp_path)
    assert written and path == silence_path(tmp_path) == tmp_path / "silence" / "10s.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 8000 * SILENCE_SECONDS
        assert set(w.readframes(w.getnframes())) == {0}
    assert ensure_silence(tmp_path) == (path, False)
    assert [p.name for p in path.parent.iterdir()] == ["10s.wav"]


def test_a_broken_silence_file_is_written_again(tmp_path: Path) -> None:
    path = silence_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"RIFF")  # cut short
    assert ensure_silence(tmp_path) == (path, True)
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == 8000 * SILENCE_SECONDS
