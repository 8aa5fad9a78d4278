"""Synthesis off the event loop: worker processes that are timed out and restarted.

Each :class:`SynthWorker` owns one ``python -m contact_center.speech.worker`` process (one
TTS engine, one request at a time) and talks JSON lines over its pipes. A request that
takes longer than ``timeout`` kills the whole process group; the next request starts a
fresh process. :class:`SynthPool` spreads requests over several workers and retries a
request once after a hang or crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# the engines contact_center.speech.worker knows (not imported: it runs as __main__)
ENGINES = ("pyttsx3", "espeak-ng")
# espeak-ng, one process per phrase, is the default: pyttsx3's espeak driver races with
# espeak's synthesis thread (an utterance is sometimes cancelled and comes back empty; see
# worker.Pyttsx3Engine). pyttsx3 stays selectable; bench/speech.py measures both.
DEFAULT_ENGINE = "espeak-ng"
DEFAULT_VOICE = "ru"
DEFAULT_RATE = 150
# seconds one phrase may take in the worker (a phrase renders in tens of milliseconds)
DEFAULT_TIMEOUT = 10.0
DEFAULT_START_TIMEOUT = 20.0
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))


class SynthesisError(RuntimeError):
    """A phrase could not be synthesized."""


class SynthTimeout(SynthesisError):
    """The worker did not answer in time and was killed."""


class WorkerCrashed(SynthesisError):
    """The worker process ended or failed to start."""


@dataclass(frozen=True, slots=True)
class SynthConfig:
    engine: str = DEFAULT_ENGINE
    voice: str = DEFAULT_VOICE
    rate: int = DEFAULT_RATE
    timeout: float = DEFAULT_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown TTS engine {self.engine!r} (known: {', '.join(ENGINES)})")
        if not 50 <= int(self.rate) <= 500:
            raise ValueError(f"TTS rate {self.rate} is outside 50..500 words per minute")
        if self.timeout <= 0 or self.start_timeout <= 0:
            raise ValueError("TTS timeouts must be positive")

    def worker_argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "contact_center.speech.worker",
            "--engine",
            self.engine,
            "--voice",
            self.voice,
            "--rate",
            str(int(self.rate)),
        ]


class SynthWorker:
    """One worker process, started on first use and restarted after a hang or crash."""

    def __init__(self, config: SynthConfig, *, argv: Sequence[str] | None = None) -> None:
        self.config = config
        self._argv = list(argv) if argv is not None else config.worker_argv()
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self.starts = 0
        self.kills = 0
        self.requests = 0
        # renders the engine repeated inside the worker (pyttsx3's cancelled utterances)
        self._engine_retries_done = 0
        self._engine_retries_now = 0

    @property
    def engine_retries(self) -> int:
        return self._engine_retries_done + self._engine_retries_now

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def _start(self) -> asyncio.subprocess.Process:
        self._engine_retries_done += self._engine_retries_now
        self._engine_retries_now = 0
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: a kill takes espeak-ng/sox too
                env=env,
            )
        except OSError as exc:
            raise WorkerCrashed(f"cannot start the TTS worker: {exc}") from None
        self.starts += 1
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(self.config.start_timeout):
                line = await proc.stdout.readline()
        except TimeoutError:
            await self._kill(proc)
            raise WorkerCrashed("TTS worker did not start in time") from None
        except asyncio.CancelledError:
            await asyncio.shield(self._kill(proc))
            raise
        hello = _decode(line)
        if not hello or not hello.get("ready"):
            await self._kill(proc)
            reason = (hello or {}).get("error") or "no greeting"
            raise WorkerCrashed(f"TTS worker failed to start: {reason}")
        log.debug("TTS worker started (pid %s, engine %s)", proc.pid, self.config.engine)
        return proc

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        self.kills += 1
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)
        if self._proc is proc:
            self._proc = None

    async def synthesize(self, text: str, out: Path) -> float:
        """Render ``text`` into ``out`` (8 kHz mono WAV); returns the audio length in seconds."""
        async with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                self._proc = await self._start()
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            self._next_id += 1
            request_id = self._next_id
            self.requests += 1
            payload = {"id": request_id, "text": text, "out": str(out)}
            try:
                proc.stdin.write((json.dumps(payload, ensure_ascii=False) + "\n").encode())
                await proc.stdin.drain()
                # not wait_for: on 3.11 it swallows a cancellation that comes with the
                # reply, and a call stopped mid-synthesis would be played on
                async with asyncio.timeout(self.config.timeout):
                    reply = await self._read_reply(proc, request_id)
            except TimeoutError:
                log.warning(
                    "TTS worker pid %s hung for %.1f s; killing it", proc.pid, self.config.timeout
                )
                await self._kill(proc)
                _remove_part(out, proc.pid)
                raise SynthTimeout(f"synthesis timed out after {self.config.timeout} s") from None
            except (BrokenPipeError, ConnectionResetError, WorkerCrashed) as exc:
                await self._kill(proc)
                _remove_part(out, proc.pid)
                raise WorkerCrashed(f"TTS worker died: {exc}") from None
            except asyncio.CancelledError:
                # the worker is mid-request: its state is unknown, start afresh next time
                await asyncio.shield(self._kill(proc))
                raise
        with contextlib.suppress(TypeError, ValueError):
            self._engine_retries_now = int(reply.get("engine_retries") or 0)
        if not reply.get("ok"):
            raise SynthesisError(str(reply.get("error") or "synthesis failed"))
        return float(reply.get("duration") or 0.0)

    async def _read_reply(
        self, proc: asyncio.subprocess.Process, request_id: int
    ) -> dict[str, Any]:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise WorkerCrashed(f"exit status {await proc.wait()}")
            reply = _decode(line)
            if reply is not None and reply.get("id") == request_id:
                return reply

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            await self._kill(proc)


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _remove_part(out: Path, pid: int) -> None:
    with contextlib.suppress(OSError):
        out.with_name(f"{out.name}.{pid}.part").unlink()


class SynthPool:
    """``size`` workers; each request goes to an idle one and is retried once after a hang."""

    def __init__(
        self,
        config: SynthConfig,
        size: int = DEFAULT_WORKERS,
        *,
        retries: int = 1,
        argv: Sequence[str] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a synthesis pool needs at least one worker")
        self.config = config
        self.size = size
        self.retries = retries
        self.workers = [SynthWorker(config, argv=argv) for _ in range(size)]
        self._idle: asyncio.Queue[SynthWorker] | None = None
        self.timeouts = 0
        self.crashes = 0

    def _queue(self) -> asyncio.Queue[SynthWorker]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self.workers:
                self._idle.put_nowait(worker)
        return self._idle

    @property
    def restarts(self) -> int:
        return sum(w.restarts for w in self.workers)

    @property
    def engine_retries(self) -> int:
        return sum(w.engine_retries for w in self.workers)

    async def synthesize(self, text: str, out: Path) -> float:
        idle = self._queue()
        worker = await idle.get()
        try:
            attempt = 0
            while True:
                try:
                    return await worker.synthesize(text, out)
                except SynthTimeout:
                    self.timeouts += 1
                    if attempt >= self.retries:
                        raise
                except WorkerCrashed:
                    self.crashes += 1
                    if attempt >= self.retries:
                        raise
                attempt += 1
                log.info("retrying synthesis on a fresh worker (attempt %d)", attempt + 1)
        finally:
            idle.put_nowait(worker)

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self.workers))
