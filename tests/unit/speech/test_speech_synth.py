"""Synthesis in worker processes: real espeak-ng (via pyttsx3 and directly) and sox.

Needs the `espeak-ng` and `sox` commands (Debian packages of the same names); skipped
without them. A fake worker script stands in for a hanging or crashing engine.
"""

from __future__ import annotations

import array
import asyncio
import math
import os
import shutil
import sys
import textwrap
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact_center.speech import synth as synth_module
from contact_center.speech.message import MessageError
from contact_center.speech.prompts import PromptCatalog
from contact_center.speech.service import Speech
from contact_center.speech.synth import (
    SynthConfig,
    SynthesisError,
    SynthPool,
    SynthTimeout,
    SynthWorker,
    WorkerCrashed,
)

needs_tts = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed for synthesis",
)

PHRASE = "одна тысяча пятьсот рублей пятьдесят копеек"


def read_wav(path: Path) -> tuple[wave._wave_params, array.array[int]]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        frames = w.readframes(w.getnframes())
    samples = array.array("h")
    samples.frombytes(frames)
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return params, samples


def rms(samples: array.array[int]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def assert_speech_wav(path: Path, *, min_seconds: float = 0.5) -> None:
    params, samples = read_wav(path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 8000)
    assert params.comptype == "NONE"
    assert params.nframes / params.framerate >= min_seconds
    assert rms(samples) > 500, "sounds like silence"
    window = 160  # 20 ms
    voiced = sum(
        rms(samples[i : i + window]) > 300 for i in range(0, len(samples) - window, window)
    )
    assert voiced / (len(samples) // window) > 0.3, "too little of it is voiced"


def test_engine_lists_agree() -> None:
    from contact_center.speech import worker

    assert worker.ENGINES == synth_module.ENGINES


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SynthConfig(engine="festival")
    with pytest.raises(ValueError):
        SynthConfig(rate=5)
    with pytest.raises(ValueError):
        SynthConfig(timeout=0)


@pytest.fixture(params=["pyttsx3", "espeak-ng"])
async def speech(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Speech]:
    async with Speech(tmp_path / "sounds", engine=request.param) as sp:
        yield sp


@needs_tts
async def test_synthesized_wav_is_8khz_mono_speech(speech: Speech) -> None:
    path = await speech.synthesize(PHRASE)
    assert path.parent.parent == speech.sounds_dir / "cache"
    assert_speech_wav(path, min_seconds=1.0)
    assert speech.stats.synthesized == 1
    assert not list(path.parent.glob("*.part"))


@needs_tts
async def test_second_request_is_a_cache_hit(
    speech: Speech, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await speech.synthesize(PHRASE)
    mtime = first.stat().st_mtime_ns

    async def no_worker(text: str, out: Path) -> float:
        raise AssertionError("the worker must not be asked for a cached phrase")

    monkeypatch.setattr(speech.pool, "synthesize", no_worker)
    second = await speech.synthesize("  " + PHRASE.replace(" ", "  ") + "\n")
    assert second == first
    assert first.stat().st_mtime_ns == mtime
    assert (speech.stats.hits, speech.stats.misses) == (1, 1)
    assert await speech.say(PHRASE) == speech.playback_name(first)


@needs_tts
async def test_a_new_speech_instance_finds_the_cache(tmp_path: Path) -> None:
    async with Speech(tmp_path) as one:
        path = await one.synthesize("привет")
    async with Speech(tmp_path) as two:
        assert await two.synthesize("привет") == path
        assert two.stats.hits == 1 and two.pool.workers[0].starts == 0


@needs_tts
async def test_concurrent_requests_share_one_synthesis(tmp_path: Path) -> None:
    async with Speech(tmp_path, workers=2) as speech:
        paths = await asyncio.gather(*(speech.synthesize(PHRASE) for _ in range(5)))
        assert len(set(paths)) == 1
        assert speech.stats.synthesized == 1


@needs_tts
async def test_render_and_prerender(tmp_path: Path) -> None:
    catalog = PromptCatalog({"greeting": "Здравствуйте!"})
    message = "{prompt:greeting} Ваша задолженность {money:debt}. Телефон {phone:phone}"
    contacts = [
        {"debt": "1500", "phone": "+7 913 123-45-67"},
        {"debt": "21.21", "phone": "8 39144 3-05-67"},
        {"debt": "1500", "phone": "+7 913 123-45-67"},
        {"debt": "-3", "phone": "+7 913 123-45-67"},
    ]
    async with Speech(tmp_path, prompts=catalog, workers=2) as speech:
        report = await speech.prerender(message, contacts)
        assert report.contacts == 4
        assert list(report.failed_contacts) == [3]
        assert "сумма" in report.failed_contacts[3]
        # greeting (not built yet), "Ваша задолженность", "Телефон", 2 amounts, 2 phones
        assert (report.phrases, report.synthesized, report.failed_texts) == (7, 7, 0)
        assert report.audio_seconds > 5

        names = await speech.render(message, contacts[0])
        assert speech.stats.synthesized == 7  # all from the cache
        assert len(names) == 5 and all(n.startswith("cc/cache/") for n in names)
        for name in names:
            assert_speech_wav(tmp_path / (name.removeprefix("cc/") + ".wav"), min_seconds=0.3)

        built = await speech.build_prompts()
        assert built.written == ("greeting",)
        assert_speech_wav(tmp_path / "ru" / "greeting.wav")
        assert (await speech.build_prompts()).unchanged == ("greeting",)
        names = await speech.render(message, contacts[0])
        assert names[0] == "cc/ru/greeting"

        with pytest.raises(MessageError):
            await speech.render("{prompt:nope}", {})
        with pytest.raises(MessageError):
            await speech.render(message, contacts[3])


@needs_tts
async def test_synthesis_does_not_block_the_event_loop(tmp_path: Path) -> None:
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async with Speech(tmp_path) as speech:
        await speech.synthesize("разогрев")  # worker start-up is not what we measure
        task = asyncio.create_task(ticker())
        await speech.prerender_texts(f"фраза номер {i}" for i in range(20))
        stop.set()
        await task
    assert gaps and max(gaps) < 0.25


# --- hangs and crashes, with a fake worker ---------------------------------------------

FAKE_WORKER = textwrap.dedent(
    """
    import json, pathlib, sys, time, wave
    mode, marker = sys.argv[1], pathlib.Path(sys.argv[2])
    if mode == "refuse":
        print(json.dumps({"ready": False, "error": "no voice"}), flush=True)
        sys.exit(1)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        first = not marker.exists()
        marker.write_text("seen")
        if mode == "hang-once" and first or mode == "hang":
            time.sleep(3600)
        if mode == "crash":
            sys.exit(3)
        if mode == "fail":
            print(json.dumps({"id": req["id"], "ok": False, "error": "boom"}), flush=True)
            continue
        out = pathlib.Path(req["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
            w.writeframes(b"\\0\\0" * 8000)
        print("noise that is not json", flush=True)
        reply = {"id": req["id"], "ok": True, "duration": 1.0, "engine_retries": 2}
        print(json.dumps(reply), flush=True)
    """
)


def fake_argv(tmp_path: Path, mode: str) -> list[str]:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER, encoding="utf-8")
    return [sys.executable, str(script), mode, str(tmp_path / "marker")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_hung_worker_is_killed_and_restarted(tmp_path: Path) -> None:
    pool = SynthPool(SynthConfig(timeout=0.5), argv=fake_argv(tmp_path, "hang-once"))
    worker = pool.workers[0]
    started = time.perf_counter()
    task = asyncio.create_task(pool.synthesize("x", tmp_path / "out" / "x.wav"))
    for _ in range(1000):
        if worker.pid is not None:
            break
        await asyncio.sleep(0.01)
    first_pid = worker.pid
    assert first_pid is not None
    assert await task == 1.0
    assert time.perf_counter() - started < 5
    assert (pool.timeouts, worker.starts, worker.restarts) == (1, 2, 1)
    assert worker.pid != first_pid and not alive(first_pid)
    assert (tmp_path / "out" / "x.wav").is_file()
    assert pool.engine_retries == 2
    await pool.close()


async def test_hang_without_retries_raises(tmp_path: Path) -> None:
    pool = SynthPool(SynthConfig(timeout=0.3), retries=0, argv=fake_argv(tmp_path, "hang"))
    with pytest.raises(SynthTimeout):
        await pool.synthesize("x", tmp_path / "x.wav")
    assert pool.workers[0].pid is None
    await pool.close()


async def test_crashing_worker(tmp_path: Path) -> None:
    pool = SynthPool(SynthConfig(timeout=2), argv=fake_argv(tmp_path, "crash"))
    with pytest.raises(WorkerCrashed):
        await pool.synthesize("x", tmp_path / "x.wav")
    assert pool.crashes == 2 and pool.workers[0].starts == 2
    await pool.close()


async def test_worker_that_cannot_start(tmp_path: Path) -> None:
    worker = SynthWorker(SynthConfig(), argv=fake_argv(tmp_path, "refuse"))
    with pytest.raises(WorkerCrashed, match="no voice"):
        await worker.synthesize("x", tmp_path / "x.wav")


async def test_worker_command_missing(tmp_path: Path) -> None:
    worker = SynthWorker(SynthConfig(), argv=[str(tmp_path / "no-such-python")])
    with pytest.raises(WorkerCrashed, match="cannot start"):
        await worker.synthesize("x", tmp_path / "x.wav")


async def test_cancelled_request_kills_the_worker(tmp_path: Path) -> None:
    worker = SynthWorker(SynthConfig(timeout=30), argv=fake_argv(tmp_path, "hang"))
    task = asyncio.create_task(worker.synthesize("x", tmp_path / "x.wav"))
    for _ in range(1000):
        if (tmp_path / "marker").exists():
            break
        await asyncio.sleep(0.01)
    pid = worker.pid
    assert pid is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert worker.pid is None and not alive(pid)


async def test_failed_phrase_is_not_retried(tmp_path: Path) -> None:
    pool = SynthPool(SynthConfig(timeout=2), argv=fake_argv(tmp_path, "fail"))
    with pytest.raises(SynthesisError, match="boom"):
        await pool.synthesize("x", tmp_path / "x.wav")
    assert pool.workers[0].starts == 1 and pool.workers[0].requests == 1
    await pool.close()


async def test_speech_counts_failures(tmp_path: Path) -> None:
    pool = SynthPool(SynthConfig(timeout=2), argv=fake_argv(tmp_path, "fail"))
    async with Speech(tmp_path, pool=pool) as speech:
        with pytest.raises(SynthesisError):
            await speech.synthesize("x")
        report = await speech.prerender_texts(["a", "b", "a"])
        assert (report.phrases, report.failed_texts, report.ok) == (2, 2, False)
        assert speech.stats.failures == 3
        with pytest.raises(SynthesisError):
            await speech.synthesize("  ")


@needs_tts
@pytest.mark.parametrize("engine", ["pyttsx3", "espeak-ng"])
async def test_real_worker_rejects_unknown_voice(tmp_path: Path, engine: str) -> None:
    worker = SynthWorker(SynthConfig(engine=engine, voice="qq"))
    with pytest.raises(WorkerCrashed, match="qq"):
        await worker.synthesize("x", tmp_path / "x.wav")
