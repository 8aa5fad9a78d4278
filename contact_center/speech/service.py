"""The speech service the hotline and the autoinformer call: text in, Asterisk names out.

Everything here runs on the event loop but never synthesizes on it: cache look-ups are one
``stat``; misses go to worker processes (:mod:`contact_center.speech.synth`). Each distinct
phrase is synthesized once (cached on disk, and concurrent requests for the same phrase
share one synthesis).
"""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
import functools
import logging
import os
import shutil
import time
import wave
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from contact_center.settings import Settings
from contact_center.speech.cache import DEFAULT_ASTERISK_PREFIX, SoundCache, asterisk_name
from contact_center.speech.message import (
    Message,
    MessageError,
    Part,
    PromptPart,
    SpeechPart,
    resolve,
)
from contact_center.speech.phrases import DEFAULT_AREA_CODES
from contact_center.speech.prompts import PromptCatalog, prompt_path
from contact_center.speech.silence import ensure_silence
from contact_center.speech.synth import (
    DEFAULT_ENGINE,
    DEFAULT_RATE,
    DEFAULT_TIMEOUT,
    DEFAULT_VOICE,
    DEFAULT_WORKERS,
    SynthConfig,
    SynthesisError,
    SynthPool,
)
from contact_center.speech.worker import wav_duration

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class SpeechStats:
    hits: int = 0
    misses: int = 0
    synthesized: int = 0
    failures: int = 0
    audio_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PrerenderReport:
    """What a batch pre-render did. ``failed_contacts`` maps a contact's position in the
    batch to why its message could not be filled; ``failed_texts`` counts phrases whose
    synthesis failed (their text is not kept: it may hold personal data)."""

    contacts: int
    phrases: int
    cached: int
    synthesized: int
    failed_texts: int
    failed_contacts: Mapping[int, str] = field(default_factory=dict)
    audio_seconds: float = 0.0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed_texts and not self.failed_contacts


@dataclass(frozen=True, slots=True)
class PromptBuildReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    directory: Path


class Speech:
    """Phrases to cached 8 kHz WAV files and their Asterisk playback names.

    Use as ``async with Speech(sounds_dir) as speech: names = await speech.render(msg, contact)``.
    """

    def __init__(
        self,
        sounds_dir: Path,
        *,
        engine: str = DEFAULT_ENGINE,
        voice: str = DEFAULT_VOICE,
        rate: int = DEFAULT_RATE,
        timeout: float = DEFAULT_TIMEOUT,
        workers: int = DEFAULT_WORKERS,
        asterisk_prefix: str = DEFAULT_ASTERISK_PREFIX,
        prompts: PromptCatalog | None = None,
        area_codes: Collection[str] = DEFAULT_AREA_CODES,
        pool: SynthPool | None = None,
    ) -> None:
        self.sounds_dir = Path(sounds_dir)
        self.config = pool.config if pool else SynthConfig(engine, voice, rate, timeout)
        self.cache = SoundCache(self.sounds_dir, self.config.voice, int(self.config.rate))
        self.pool = pool or SynthPool(self.config, workers)
        self.asterisk_prefix = asterisk_prefix
        self.prompts = prompts if prompts is not None else PromptCatalog.load()
        self.area_codes = tuple(area_codes)
        self.stats = SpeechStats()
        self._inflight: dict[str, asyncio.Task[Path]] = {}
        self._warned_prompts: set[str] = set()
        # how long each rendered name plays (seconds): a campaign's calls share phrases
        self._seconds: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Speech:
        """Build from the service's settings (the tts_* fields and the Asterisk prefix)."""
        options: dict[str, Any] = {
            "engine": settings.tts_engine,
            "voice": settings.tts_voice,
            "rate": settings.tts_rate,
            "timeout": settings.tts_timeout,
            "workers": settings.tts_workers,
            "asterisk_prefix": settings.asterisk_sounds_prefix,
        }
        options.update(overrides)
        return cls(Path(settings.sounds_dir), **options)

    async def __aenter__(self) -> Speech:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        await self.pool.close()

    # --- single phrases ------------------------------------------------------------------

    def playback_name(self, path: Path) -> str:
        """The name Asterisk plays ``path`` (a file under ``sounds_dir``) by."""
        return asterisk_name(path, self.sounds_dir, self.asterisk_prefix)

    def seconds(self, names: Sequence[str]) -> float | None:
        """How long ``names`` (as `render` gave them) play one after the other, from their
        WAV headers; None if one cannot be read. Each name's length is remembered."""
        total = 0.0
        for name in names:
            known = self._seconds.get(name)
            if known is None:
                try:
                    known = wav_duration(self._path_of(name))
                except (OSError, EOFError, wave.Error):
                    return None
                if len(self._seconds) >= 4096:
                    self._seconds.clear()
                self._seconds[name] = known
            total += known
        return total

    def _path_of(self, name: str) -> Path:
        """The file of an Asterisk name `playback_name` gave."""
        prefix = self.asterisk_prefix.rstrip("/")
        if prefix and name.startswith(prefix + "/"):
            name = name[len(prefix) + 1 :]
        return self.sounds_dir / f"{name}.wav"

    def cached(self, text: str) -> Path | None:
        """The cached file for ``text`` if it is already synthesized."""
        return self.cache.lookup(text)

    async def synthesize(self, text: str, *, force: bool = False) -> Path:
        """The cached 8 kHz WAV for ``text``, synthesizing it in a worker if missing."""
        if not text or not text.strip():
            raise SynthesisError("empty text")
        if not force:
            path = self.cache.lookup(text)
            if path is not None:
                self.stats.hits += 1
                return path
        key = self.cache.key(text)
        task = self._inflight.get(key)
        if task is None:
            self.stats.misses += 1
            task = asyncio.ensure_future(self._synthesize(text, self.cache.path(text)))
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        return await asyncio.shield(task)

    def _forget(self, key: str, task: asyncio.Task[Path]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have been cancelled meanwhile

    async def _synthesize(self, text: str, path: Path) -> Path:
        key = path.stem
        started = time.perf_counter()
        try:
            duration = await self.pool.synthesize(text, path)
        except SynthesisError as exc:
            self.stats.failures += 1
            log.warning("synthesis of phrase %s failed: %s", key, exc)
            raise
        self.stats.synthesized += 1
        self.stats.audio_seconds += duration
        log.debug(
            "synthesized phrase %s (%d chars, %.2f s audio) in %.3f s",
            key,
            len(text),
            duration,
            time.perf_counter() - started,
        )
        return path

    async def say(self, text: str) -> str:
        """The Asterisk name of ``text`` spoken (synthesized if not cached)."""
        return self.playback_name(await self.synthesize(text))

    # --- prompts ---------------------------------------------------------------------------

    async def prompt(self, name: str) -> str:
        """The Asterisk name of a fixed prompt: ``cc/ru/<name>`` once built; before
        ``sounds build`` has run, its text is synthesized into the cache instead."""
        built = self._built_prompt(name)
        if built is not None:
            return built
        if name not in self.prompts:
            raise MessageError(f"неизвестная подсказка: {name!r}")
        if name not in self._warned_prompts:
            self._warned_prompts.add(name)
            log.warning("prompt %s is not built (run `contact-center sounds build`)", name)
        return await self.say(self.prompts.text(name))

    async def build_prompts(
        self, *, force: bool = False, on_progress: Progress | None = None
    ) -> PromptBuildReport:
        """Render every prompt of the catalog into ``<sounds_dir>/ru/<name>.wav``."""
        names = list(self.prompts)
        written: list[str] = []
        unchanged: list[str] = []
        done = 0

        async def build(name: str) -> None:
            nonlocal done
            source = await self.synthesize(self.prompts.text(name), force=force)
            target = prompt_path(self.sounds_dir, name)
            changed = await asyncio.to_thread(_install, source, target)
            (written if changed else unchanged).append(name)
            done += 1
            if on_progress:
                on_progress(done, len(names))

        await asyncio.gather(*(build(n) for n in names))
        order = {n: i for i, n in enumerate(names)}
        return PromptBuildReport(
            written=tuple(sorted(written, key=order.__getitem__)),
            unchanged=tuple(sorted(unchanged, key=order.__getitem__)),
            directory=prompt_path(self.sounds_dir, "x").parent,
        )

    async def silence(self) -> str:
        """The Asterisk name of the silence a wait for a key plays, written first if it is
        not there (`speech.silence`)."""
        path, _written = await asyncio.to_thread(ensure_silence, self.sounds_dir)
        return self.playback_name(path)

    # --- messages --------------------------------------------------------------------------

    def resolve(
        self, message: Message | str | Sequence[Any], contact: Mapping[str, Any]
    ) -> list[Part]:
        """The parts of ``message`` for ``contact`` (pure; raises MessageError)."""
        parsed = Message.parse(message)
        parsed.check_prompts(self.prompts)
        return resolve(parsed, contact, area_codes=self.area_codes)

    async def render(
        self, message: Message | str | Sequence[Any], contact: Mapping[str, Any] | None = None
    ) -> list[str]:
        """The Asterisk names to play, in order, for ``message`` filled from ``contact``.

        Raises :class:`MessageError` (bad message or contact field) or
        :class:`SynthesisError` (a phrase could not be synthesized).
        """
        ready = self.render_ready(message, contact)
        if ready is not None:
            return ready
        parts = self.resolve(message, contact or {})
        return list(await asyncio.gather(*(self._part_name(p) for p in parts)))

    def render_ready(
        self, message: Message | str | Sequence[Any], contact: Mapping[str, Any] | None = None
    ) -> list[str] | None:
        """`render` when every part is on disk already (the usual case: a campaign's
        phrases are rendered before its calls), with no waiting: a call's Originate goes
        out in the step that freed its slot. None when a part is still to be made."""
        parts = self.resolve(message, contact or {})
        ready = [self._ready_name(p) for p in parts]
        if not all(name is not None for name in ready):
            return None
        self.stats.hits += sum(1 for p in parts if not isinstance(p, PromptPart))
        return [name for name in ready if name is not None]

    def _ready_name(self, part: Part) -> str | None:
        """The part's Asterisk name if its file is there already (a `stat`, no waiting)."""
        if isinstance(part, PromptPart):
            return self._built_prompt(part.name)
        if not part.text or not part.text.strip():
            return None  # `say` gives the error
        cached = self.cache.lookup(part.text)
        return None if cached is None else self.playback_name(cached)

    def _built_prompt(self, name: str) -> str | None:
        """The Asterisk name of a prompt `sounds build` has made, None before."""
        built = prompt_path(self.sounds_dir, name)
        return self.playback_name(built) if built.is_file() else None

    async def _part_name(self, part: Part) -> str:
        if isinstance(part, PromptPart):
            return await self.prompt(part.name)
        return await self.say(part.text)

    async def prerender(
        self,
        message: Message | str | Sequence[Any],
        contacts: Iterable[Mapping[str, Any]],
        *,
        on_progress: Progress | None = None,
    ) -> PrerenderReport:
        """Synthesize ahead of dialing every phrase ``message`` needs for ``contacts``.

        A contact whose fields cannot fill the message is reported, not fatal.
        """
        parsed = Message.parse(message)
        parsed.check_prompts(self.prompts)
        texts: dict[str, None] = {}
        failed_contacts: dict[int, str] = {}
        count = 0
        for index, contact in enumerate(contacts):
            count += 1
            try:
                parts = resolve(parsed, contact, area_codes=self.area_codes)
            except MessageError as exc:
                failed_contacts[index] = str(exc)
                continue
            for part in parts:
                if isinstance(part, SpeechPart):
                    texts[part.text] = None
                elif not prompt_path(self.sounds_dir, part.name).is_file():
                    texts[self.prompts.text(part.name)] = None
        report = await self.prerender_texts(texts, on_progress=on_progress)
        return PrerenderReport(
            contacts=count,
            phrases=report.phrases,
            cached=report.cached,
            synthesized=report.synthesized,
            failed_texts=report.failed_texts,
            failed_contacts=failed_contacts,
            audio_seconds=report.audio_seconds,
            elapsed=report.elapsed,
        )

    async def prerender_texts(
        self, texts: Iterable[str], *, on_progress: Progress | None = None
    ) -> PrerenderReport:
        """Make sure every text is in the cache, using all workers."""
        started = time.perf_counter()
        unique = list(dict.fromkeys(" ".join(t.split()) for t in texts if t and t.strip()))
        missing = [t for t in unique if self.cache.lookup(t) is None]
        cached = len(unique) - len(missing)
        queue = list(reversed(missing))
        synthesized = failed = 0
        audio_before = self.stats.audio_seconds
        done = cached
        if on_progress:
            on_progress(done, len(unique))

        async def consume() -> None:
            nonlocal synthesized, failed, done
            while queue:
                text = queue.pop()
                try:
                    await self.synthesize(text)
                    synthesized += 1
                except SynthesisError:
                    failed += 1
                done += 1
                if on_progress:
                    on_progress(done, len(unique))

        await asyncio.gather(*(consume() for _ in range(min(self.pool.size, len(missing)))))
        return PrerenderReport(
            contacts=0,
            phrases=len(unique),
            cached=cached,
            synthesized=synthesized,
            failed_texts=failed,
            audio_seconds=self.stats.audio_seconds - audio_before,
            elapsed=time.perf_counter() - started,
        )


def _install(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` atomically unless they are already equal."""
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(source, part)
        os.replace(part, target)
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return True
