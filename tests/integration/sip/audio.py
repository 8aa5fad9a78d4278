"""Test audio: tones to send, and what a recording holds (loudness, a tone's share)."""

from __future__ import annotations

import math
import struct
import wave
from array import array
from pathlib import Path


def write_tone(path: Path, freq: float, seconds: float, *, rate: int = 8000) -> Path:
    """A 16-bit mono WAV of a sine at half of full scale."""
    n = int(seconds * rate)
    samples = array("h", (int(16000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def read_samples(path: Path) -> tuple[array[int], int]:
    """The first channel's 16-bit samples and the rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * wav.getsampwidth()}-bit samples, expected 16")
        channels, rate = wav.getnchannels(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    samples = array("h")
    samples.frombytes(raw[: len(raw) - len(raw) % 2])
    if struct.pack("=h", 1) != struct.pack("<h", 1):
        samples.byteswap()
    return (samples[::channels] if channels > 1 else samples), rate


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def rms(samples: array[int]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def tone_share(samples: array[int], rate: int, freq: float) -> float:
    """The share (0..1) of a block's energy at `freq` (Goertzel), for the block where it
    is largest (blocks of 100 ms): close to 1 where that tone plays alone."""
    block = rate // 10
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    best = 0.0
    for start in range(0, len(samples) - block + 1, block):
        s1 = s2 = 0.0
        energy = 0.0
        for x in samples[start : start + block]:
            s1, s2 = x + coeff * s1 - s2, s1
            energy += x * x
        if energy < block * 100.0**2:  # quieter than RMS 100: silence, not a tone
            continue
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2
        # a pure sine of amplitude A over N samples: power ~ (A N / 2)^2, energy ~ A^2 N / 2
        best = max(best, 2 * power / (block * energy))
    return best


def only(paths: list[Path]) -> Path:
    """The one recording of a call (sndfile writes one file per call and direction)."""
    assert len(paths) == 1, paths
    return paths[0]
