"""Speech benchmark: phrase builders, cache hits, synthesis speed and reliability.

    .venv/bin/python bench/speech.py [--phrases 200] [--engines pyttsx3,espeak-ng]

Prints figures measured in this run; the last line is ``tts_realtime_factor: X``: seconds
of 8 kHz audio produced per second of wall time on cache misses (engine + sox conversion +
worker round trip) with the default engine and worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contact_center.app import build_app
from contact_center.settings import Settings
from contact_center.speech import phrases
from contact_center.speech.service import Speech
from contact_center.speech.synth import DEFAULT_ENGINE, DEFAULT_WORKERS, ENGINES

# a phrase builder with its arguments (the builders differ in signature)
PhraseCall = tuple[Callable[..., str], tuple[Any, ...], dict[str, Any]]


def builder_inputs(rng: random.Random, n: int) -> list[PhraseCall]:
    calls: list[PhraseCall] = []
    for _ in range(n):
        kind = rng.randrange(7)
        if kind == 0:
            amount = Decimal(rng.randrange(0, 10**8)) / 100
            calls.append((phrases.money_phrase, (amount,), {}))
        elif kind == 1:
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(730))
            form = rng.choice(phrases.DATE_FORMS)
            calls.append((phrases.date_phrase, (day,), {"form": form, "year": rng.random() < 0.5}))
        elif kind == 2:
            calls.append(
                (phrases.time_phrase, (dt.time(rng.randrange(24), rng.randrange(60)),), {})
            )
        elif kind == 3:
            start = dt.time(rng.randrange(12), rng.choice((0, 30)))
            end = dt.time(rng.randrange(12, 24), rng.choice((0, 15, 30, 45)))
            calls.append((phrases.timerange_phrase, (start, end), {}))
        elif kind == 4:
            unit = rng.choice(sorted(phrases.UNITS))
            calls.append((phrases.quantity_phrase, (rng.randrange(10**6), unit), {}))
        elif kind == 5:
            number = f"+7 9{rng.randrange(10**9):09d}"
            calls.append((phrases.phone_phrase, (number,), {}))
        else:
            calls.append((phrases.number_phrase, (rng.randrange(-(10**6), 10**9),), {}))
    return calls


def bench_builders(rng: random.Random, n: int = 20000) -> float:
    calls = builder_inputs(rng, n)
    started = time.perf_counter()
    for func, args, kwargs in calls:
        func(*args, **kwargs)
    return n / (time.perf_counter() - started)


def realistic_texts(rng: random.Random, n: int, salt: str) -> list[str]:
    """Distinct phrases like those a campaign renders: amounts, dates, phones, sentences."""
    texts = []
    for i in range(n):
        pick = i % 4
        if pick == 0:
            texts.append(phrases.money_phrase(Decimal(rng.randrange(10**7)) / 100))
        elif pick == 1:
            texts.append(phrases.phone_phrase(f"+7 9{rng.randrange(10**9):09d}"))
        elif pick == 2:
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
            texts.append(
                "Плановое отключение электроэнергии "
                + phrases.date_phrase(day, form="genitive", year=False)
                + " "
                + phrases.timerange_phrase("09:00", f"{rng.randrange(12, 18)}:30")
            )
        else:
            texts.append(
                f"Задолженность {salt} по лицевому счёту номер "
                + phrases.number_phrase(rng.randrange(10**6))
            )
    return list(dict.fromkeys(texts))


@asynccontextmanager
async def speech_of(
    sounds_dir: Path, engine: str, workers: int | None = None
) -> AsyncIterator[Speech]:
    """The speech service of an app built by the composition root for one configuration."""
    settings = Settings(sounds_dir=sounds_dir, tts_engine=engine)
    async with build_app(settings, plugins=(), speech_workers=workers) as app:
        yield app.speech


async def bench_cache_hit(root: Path, n: int = 5000) -> tuple[float, float]:
    async with speech_of(root / "hits", DEFAULT_ENGINE) as speech:
        text = "одна тысяча пятьсот рублей"
        await speech.synthesize(text)
        message = "{prompt:debt_amount} {money:debt}. Телефон {phone:phone}"
        contact = {"debt": "1500", "phone": "+7 913 123-45-67"}
        await speech.render(message, contact)
        started = time.perf_counter()
        for _ in range(n):
            await speech.synthesize(text)
        per_hit = (time.perf_counter() - started) / n
        started = time.perf_counter()
        for _ in range(n // 10):
            await speech.render(message, contact)
        per_render = (time.perf_counter() - started) / (n // 10)
    return per_hit * 1e6, per_render * 1e6


async def bench_synthesis(
    root: Path, engine: str, workers: int, texts: list[str]
) -> dict[str, float]:
    async with speech_of(root / f"{engine}-{workers}", engine, workers) as speech:
        # start every worker first: process start-up is paid once, not per phrase
        await speech.prerender_texts(f"прогрев {i} {engine}" for i in range(workers * 2))
        before = speech.stats.synthesized
        report = await speech.prerender_texts(texts)
        return {
            "phrases": float(report.synthesized),
            "failed": float(report.failed_texts),
            "timeouts": float(speech.pool.timeouts),
            "engine_retries": float(speech.pool.engine_retries),
            "restarts": float(speech.pool.restarts),
            "audio": report.audio_seconds,
            "elapsed": report.elapsed,
            "rtf": report.audio_seconds / report.elapsed if report.elapsed else 0.0,
            "per_phrase_ms": 1000 * report.elapsed / max(1, speech.stats.synthesized - before),
        }


async def bench_reliability(root: Path, engine: str, rounds: int) -> dict[str, int]:
    """Fresh workers, each rendering every fixed prompt: failures, engine retries, restarts."""
    totals = {"renders": 0, "failed": 0, "engine_retries": 0, "timeouts": 0, "restarts": 0}
    for r in range(rounds):
        async with speech_of(root / f"rel-{engine}-{r}", engine) as speech:
            texts = [speech.prompts.text(name) for name in speech.prompts]
            report = await speech.prerender_texts(texts)
            totals["renders"] += report.phrases
            totals["failed"] += report.failed_texts
            totals["engine_retries"] += speech.pool.engine_retries
            totals["timeouts"] += speech.pool.timeouts
            totals["restarts"] += speech.pool.restarts
    return totals


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=200)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--rounds", type=int, default=40, help="fresh-worker rounds for the reliability test"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rng = random.Random(20261205)
    cores = os.cpu_count() or 1

    print(f"cpu cores: {cores}; default engine {DEFAULT_ENGINE}, workers {DEFAULT_WORKERS}")
    print(f"builders: {bench_builders(rng):,.0f} phrases/s")
    with tempfile.TemporaryDirectory(prefix="cc-bench-speech-") as tmp:
        root = Path(tmp)
        hit_us, render_us = await bench_cache_hit(root)
        print(
            f"cache hit: {hit_us:.1f} µs per phrase; cached 5-part message render: "
            f"{render_us:.0f} µs"
        )
        headline = 0.0
        for engine in args.engines.split(","):
            for workers in sorted({1, DEFAULT_WORKERS}):
                texts = realistic_texts(rng, args.phrases, "абонента")
                r = await bench_synthesis(root, engine, workers, texts)
                print(
                    f"synthesis {engine:9s} workers={workers}: {r['phrases']:.0f} phrases, "
                    f"{r['audio']:.1f} s audio in {r['elapsed']:.2f} s "
                    f"({r['per_phrase_ms']:.1f} ms/phrase) = {r['rtf']:.0f}x real time; "
                    f"failed {r['failed']:.0f}, timeouts {r['timeouts']:.0f}, "
                    f"restarts {r['restarts']:.0f}, engine retries {r['engine_retries']:.0f}"
                )
                if engine == DEFAULT_ENGINE and workers == DEFAULT_WORKERS:
                    headline = r["rtf"]
        for engine in args.engines.split(","):
            t = await bench_reliability(root, engine, args.rounds)
            print(
                f"reliability {engine:9s}: {t['renders']} prompt renders in {args.rounds} "
                f"fresh worker pools: failed {t['failed']}, engine retries (cancelled "
                f"utterances rendered again) {t['engine_retries']}, timeouts {t['timeouts']}, "
                f"restarts {t['restarts']}"
            )
    print(f"tts_realtime_factor: {headline:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
