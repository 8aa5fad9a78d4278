"""Where synthesized phrases live, and the names Asterisk plays them by.

A phrase is stored once under ``<sounds_dir>/cache/<k[:2]>/<k>.wav`` where ``k`` is a hash
of (text, voice, rate). Asterisk sees ``sounds_dir`` as the directory ``cc`` inside its sounds
data dir, so that file plays as ``cc/cache/<k[:2]>/<k>`` (``Playback`` takes no extension).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Name of `sounds_dir` as Asterisk sees it, inside its sounds data dir.
DEFAULT_ASTERISK_PREFIX = "cc"
CACHE_DIRNAME = "cache"
PROMPTS_DIRNAME = "ru"
SOUND_SUFFIX = ".wav"


def normalize_text(text: str) -> str:
    """Whitespace collapsed and trimmed: texts differing only in spacing share one file."""
    return " ".join(str(text).split())


def cache_key(text: str, voice: str, rate: int) -> str:
    """A stable hex key for (text, voice, rate)."""
    payload = "\x1f".join((normalize_text(text), voice, str(int(rate))))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def asterisk_name(path: Path | str, sounds_dir: Path | str, prefix: str | None = None) -> str:
    """The name Asterisk plays ``path`` by: relative to ``sounds_dir``, no extension, under
    ``prefix`` (default ``cc``). ``sounds/cache/ab/abcdef.wav`` -> ``cc/cache/ab/abcdef``.

    ``prefix`` may be ``""`` (``sounds_dir`` *is* Asterisk's sounds dir) or an absolute
    directory, which Asterisk also accepts.
    """
    prefix = DEFAULT_ASTERISK_PREFIX if prefix is None else prefix
    file = Path(path)
    base = Path(sounds_dir)
    try:
        relative = file.relative_to(base)
    except ValueError:
        try:
            relative = file.resolve().relative_to(base.resolve())
        except ValueError:
            raise ValueError(f"{file} is not inside the sounds directory {base}") from None
    stem = PurePosixPath(*relative.parts).with_suffix("")
    if not prefix:
        return str(stem)
    return f"{prefix.rstrip('/')}/{stem}"


@dataclass(frozen=True, slots=True)
class SoundCache:
    """Paths of cached phrases for one voice and rate under ``sounds_dir``."""

    sounds_dir: Path
    voice: str
    rate: int

    @property
    def root(self) -> Path:
        return self.sounds_dir / CACHE_DIRNAME

    def key(self, text: str) -> str:
        return cache_key(text, self.voice, self.rate)

    def path(self, text: str) -> Path:
        key = self.key(text)
        return self.root / key[:2] / f"{key}{SOUND_SUFFIX}"

    def lookup(self, text: str) -> Path | None:
        """The cached file for ``text`` if it exists (one ``stat``)."""
        path = self.path(text)
        return path if path.is_file() else None
