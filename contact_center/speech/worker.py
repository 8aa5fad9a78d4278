"""The synthesis worker: a separate process holding one TTS engine.

Run as ``python -m contact_center.speech.worker --engine pyttsx3 --voice ru --rate 150``.
It speaks JSON lines: after start-up it writes ``{"ready": true, ...}`` (or
``{"ready": false, "error": ...}``), then for every request line
``{"id": 1, "text": "...", "out": "/abs/path.wav"}`` it renders the text, converts it with
sox to 8 kHz 16-bit mono, moves it into place atomically and answers
``{"id": 1, "ok": true, "duration": 2.1}`` or ``{"id": 1, "ok": false, "error": "..."}``.

The protocol runs on a private duplicate of stdout; file descriptor 1 itself is pointed at
/dev/null, because pyttsx3 prints a line for every saved file and C libraries may print too.
The parent (:mod:`contact_center.speech.synth`) times requests out and restarts the process
if it hangs, which pyttsx3 is known to do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from pathlib import Path
from typing import Any, Protocol, TextIO

log = logging.getLogger("contact_center.speech.worker")

ENGINES = ("pyttsx3", "espeak-ng")
TARGET_RATE = 8000
# A single tool call inside the worker must not outlive the parent's request timeout by much.
TOOL_TIMEOUT = 30.0
PYTTSX3_ATTEMPTS = 3
WAV_HEADER = 44


class Engine(Protocol):
    name: str
    retries: int  # renders the engine had to repeat (pyttsx3's cancelled utterances)

    def render(self, text: str, raw: Path) -> None:
        """Write ``text`` as a WAV file (any rate) to ``raw``."""


class Pyttsx3Engine:
    """pyttsx3 over libespeak-ng: one engine per process, one file per ``runAndWait``.

    pyttsx3's espeak driver runs libespeak-ng in AUDIO_OUTPUT_RETRIEVAL mode, which is
    asynchronous: ``runAndWait`` queues its own ``endLoop`` behind the save, so it returns
    after one 10 ms tick whether or not the file has been written (the file appears later,
    from espeak's thread). Under CPU load that gave "no file" here, and a next
    ``save_to_file`` issued while espeak is still busy is queued and then cancels it. So
    after ``runAndWait`` we also wait for the driver's ``finished-utterance`` event, which
    it sends after closing the WAV file.

    Even then, a few renders per thousand (4 of 1,200 prompt renders by fresh workers in
    bench/speech.py) came back here as an empty WAV with ``completed=False``: the driver's
    ``stop()`` (queued by every ``runAndWait``) races with espeak's thread and cancels the
    utterance. Such a render is retried; ``retries`` counts them for the benchmark.
    """

    name = "pyttsx3"

    def __init__(self, voice: str, rate: int) -> None:
        import pyttsx3

        self._finished = threading.Event()
        self._completed = False
        self.retries = 0
        self._engine = pyttsx3.init("espeak")
        self._engine.connect("finished-utterance", self._on_finished)
        self._engine.setProperty("voice", self._resolve_voice(voice))
        self._engine.setProperty("rate", rate)
        self._engine.setProperty("volume", 1.0)

    def _resolve_voice(self, voice: str) -> str:
        wanted = voice.lower()
        voices = self._engine.getProperty("voices")
        for v in voices:
            vid = str(v.id).lower()
            if vid == wanted or vid.endswith("/" + wanted):
                return str(v.id)
        for v in voices:
            if str(v.name).lower() == wanted or wanted in [str(x).lower() for x in v.languages]:
                return str(v.id)
        raise RuntimeError(f"pyttsx3: no voice {voice!r}")

    def _on_finished(self, completed: bool = True, **_: object) -> None:
        self._completed = bool(completed)
        self._finished.set()

    def render(self, text: str, raw: Path) -> None:
        for attempt in range(PYTTSX3_ATTEMPTS):
            if attempt:
                self.retries += 1
                log.info("pyttsx3 did not complete an utterance; rendering it again")
            raw.unlink(missing_ok=True)
            self._finished.clear()
            self._completed = False
            self._engine.save_to_file(text, str(raw))
            self._engine.runAndWait()
            if not self._finished.wait(TOOL_TIMEOUT):
                raise RuntimeError("pyttsx3 did not finish the utterance")
            if self._completed and raw.is_file() and raw.stat().st_size > WAV_HEADER:
                return
        raise RuntimeError(f"pyttsx3 did not complete the utterance in {PYTTSX3_ATTEMPTS} tries")


class EspeakNgEngine:
    """The espeak-ng command, one process per phrase."""

    name = "espeak-ng"
    retries = 0

    def __init__(self, voice: str, rate: int) -> None:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise RuntimeError("espeak-ng is not installed")
        self._argv = [binary, "-v", voice, "-s", str(rate), "-b", "1"]
        check = subprocess.run(
            [*self._argv, "-q", "a"], capture_output=True, timeout=TOOL_TIMEOUT, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"espeak-ng: no voice {voice!r}")

    def render(self, text: str, raw: Path) -> None:
        subprocess.run(
            [*self._argv, "-w", str(raw), "--stdin"],
            input=text.encode("utf-8"),
            check=True,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
        )


def make_engine(name: str, voice: str, rate: int) -> Engine:
    if name == "pyttsx3":
        return Pyttsx3Engine(voice, rate)
    if name == "espeak-ng":
        return EspeakNgEngine(voice, rate)
    raise ValueError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")


def convert(raw: Path, out: Path, sox: str = "sox") -> None:
    """Any WAV -> 8 kHz, 16-bit signed, mono WAV (what Asterisk's ``wav`` format plays)."""
    subprocess.run(
        [
            sox,
            "-q",
            "-V1",
            str(raw),
            "-t",
            "wav",
            "-r",
            str(TARGET_RATE),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=TOOL_TIMEOUT,
    )


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


class Worker:
    def __init__(self, engine: Engine, scratch: Path) -> None:
        self.engine = engine
        self.scratch = scratch
        self.raw = scratch / "raw.wav"
        sox = shutil.which("sox")
        if sox is None:
            raise RuntimeError("sox is not installed")
        self.sox = sox

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        text = str(request["text"])
        out = Path(request["out"])
        if not text.strip():
            raise ValueError("empty text")
        self.raw.unlink(missing_ok=True)
        self.engine.render(text, self.raw)
        if not self.raw.is_file() or self.raw.stat().st_size <= WAV_HEADER:
            raise RuntimeError(f"{self.engine.name} produced no audio")
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(f"{out.name}.{os.getpid()}.part")
        try:
            convert(self.raw, part, self.sox)
            duration = wav_duration(part)
            os.replace(part, out)
        finally:
            part.unlink(missing_ok=True)
        return {"ok": True, "duration": duration, "engine_retries": self.engine.retries}


def _send(stream: TextIO, payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload, ensure_ascii=False) + "\n")
    stream.flush()


def _private_stdout() -> TextIO:
    """A duplicate of stdout for the protocol; fd 1 and ``sys.stdout`` go to /dev/null."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # lives as long as the process
    return proto


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contact_center.speech.worker")
    parser.add_argument("--engine", choices=ENGINES, default="espeak-ng")
    parser.add_argument("--voice", default="ru")
    parser.add_argument("--rate", type=int, default=150)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="speech-worker %(levelname)s: %(message)s")
    proto = _private_stdout()
    scratch = Path(tempfile.mkdtemp(prefix="cc-tts-"))
    try:
        try:
            worker = Worker(make_engine(args.engine, args.voice, args.rate), scratch)
        except Exception as exc:
            _send(proto, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
            return 1
        _send(proto, {"ready": True, "engine": args.engine, "pid": os.getpid()})
        for line in sys.stdin:
            if not line.strip():
                continue
            request_id = None
            try:
                request = json.loads(line)
                request_id = request.get("id")
                reply = worker.handle(request)
            except Exception as exc:  # one bad phrase must not end the worker
                log.warning("request %s failed: %s: %s", request_id, type(exc).__name__, exc)
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            _send(proto, {"id": request_id, **reply})
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
