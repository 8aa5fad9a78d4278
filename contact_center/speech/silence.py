"""The silence a wait for a key plays (AgiChannel.wait_for_digit): a wait is a sound that
takes keys, so Asterisk keeps the key that stops it in the channel like any sound's.

The service writes its own into the sounds folder every Asterisk of it sees (`cc/...`):
the stock `silence/10` of Asterisk's core sounds is not in every Asterisk image. 8 kHz
16-bit mono, what Asterisk plays without transcoding; 10 s, played from an offset for a
shorter wait (`AgiChannel.wait_for_digit`)."""

from __future__ import annotations

import contextlib
import os
import wave
from pathlib import Path

SILENCE_SECONDS = 10
_RATE = 8000
_NAME = Path("silence") / f"{SILENCE_SECONDS}s.wav"


def silence_path(sounds_dir: Path) -> Path:
    return sounds_dir / _NAME


def _complete(path: Path) -> bool:
    try:
        with wave.open(str(path), "rb") as w:
            return (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (
                _RATE,
                1,
                2,
                _RATE * SILENCE_SECONDS,
            )
    except (OSError, EOFError, wave.Error):
        return False


def ensure_silence(sounds_dir: Path) -> tuple[Path, bool]:
    """The silence file, written (atomically) unless a complete one is there; and whether
    it was written. Blocking file work: call it from a worker thread."""
    path = silence_path(sounds_dir)
    if _complete(path):
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        with wave.open(str(part), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(_RATE)
            w.writeframes(bytes(2 * _RATE * SILENCE_SECONDS))
        os.replace(part, path)
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return path, True
