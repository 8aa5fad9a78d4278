"""How long the dialer's pre-render step holds the event loop on a big campaign.

    .venv/bin/python bench/prerender_stall.py [--contacts 100000] [--amounts 5]

Builds a debt campaign of N contacts in a temporary SQLite database (bulk insert), then
runs the dialer's pre-render step for it with real speech synthesis (espeak-ng in the
worker processes) into a temporary sounds folder whose prompts are built first, as
`contact-center sounds build` leaves production. Only `--amounts` distinct debts are
used, so a handful of phrases need espeak and the rest is the cache: what is measured is
the work per contact on the event loop. Meanwhile a probe task sleeps 5 ms again and
again and records how late it wakes: the longest lateness is the longest stall of the
loop (a hotline call or an AMI event waits that long).

Prints the set-up, the full garbage collections during the step (an interpreter-wide pause
the loop sees too; `--gc-freeze` shows the step with the start-up objects frozen), the
longest stall held by code (the loop thread's CPU time, full GC pauses left out: on a
shared machine another process may have the core), then `contacts/s`, `total_s` and last
`max_loop_stall_ms: N` as measured. Not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from autoinformer.campaigns.service import CampaignService, CampaignSpec
from autoinformer.models import CampaignContact
from autoinformer.phone.prerender import Prerenderer
from autoinformer.plugin import Autoinformer, AutoinformerPlugin
from autoinformer.scheduling import Caps
from contact_center.app import build_app
from contact_center.settings import Settings
from contact_center.storage import migrate

# the shipped debt notice without the account number (every contact would be a phrase of
# its own): the amount is the only thing that changes from contact to contact
SCENARIO = """
name = "bench-debt"
kind = "debt"
message = \"\"\"{prompt:autoinformer_intro} Задолженность по вашему лицевому счёту \
составляет {money:debt}. Пожалуйста, оплатите её. {prompt:press_1_confirm} \
{prompt:press_0_operator}\"\"\"
wait_digit = 5
repeats = 1
[keys]
"1" = "confirm"
"0" = "operator"
other = "repeat"
"""
INSERT_CHUNK = 10_000


class GcWatch:
    """Full (generation 2) garbage collections: a pause of the whole interpreter that the
    loop sees whoever allocated (its length grows with the objects the process holds)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []  # (start, end), perf_counter
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses.append((self._started, time.perf_counter()))

    def within(self, start: float, end: float) -> float:
        """Seconds of full collection between `start` and `end`."""
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b in self.pauses)


class LoopProbe:
    """Sleeps `period` again and again and records how late it wakes.

    `worst`: the lateness as measured (wall clock). `worst_held`: the part of it the loop's
    thread spent running (its CPU time: not the moments another process had the core, on a
    shared machine) minus full-GC pauses: the loop held by code.
    """

    def __init__(self, gc_watch: GcWatch, period: float = 0.005) -> None:
        self.period = period
        self.gc_watch = gc_watch
        self.worst = self.worst_held = 0.0
        self.samples = 0

    def reset(self) -> None:
        self.worst = self.worst_held = 0.0
        self.samples = 0

    async def run(self) -> None:
        while True:
            before, cpu_before = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.period)
            after, cpu = time.perf_counter(), time.thread_time() - cpu_before
            late = after - before - self.period
            held = min(late, cpu) - self.gc_watch.within(before, after)
            self.worst = max(self.worst, late)
            self.worst_held = max(self.worst_held, held)
            self.samples += 1


async def build_campaign(
    campaigns: CampaignService, workdir: Path, contacts: int, amounts: int
) -> int:
    scenario = workdir / "bench-debt.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    await campaigns.scenarios.add_file(scenario)
    created = await campaigns.create(
        CampaignSpec(name="bench", kind="debt", scenario="bench-debt", caps=Caps()),
        list_data=b"phone,account,debt\n+79130000000,0,100\n",
    )
    cid = created.campaign_id
    rows = [
        {
            "campaign_id": cid,
            "line": i + 3,
            "phone": f"7913{i + 1:07d}",
            "account": str(100000 + i),
            "name": "",
            "timezone": None,
            "values": json.dumps({"debt": f"{1000 + 137 * (i % amounts)}.50"}),
            "state": "waiting",
            "status": None,
            "notified": False,
            "attempts": 0,
            "answered": 0,
            "callback": False,
        }
        for i in range(contacts - 1)
    ]
    async with campaigns.sessions() as session, session.begin():
        for start in range(0, len(rows), INSERT_CHUNK):
            await session.execute(insert(CampaignContact), rows[start : start + INSERT_CHUNK])
    await campaigns.start(cid)
    return cid


async def run(args: argparse.Namespace, workdir: Path) -> None:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings().replace(database_url=url, sounds_dir=workdir / "sounds")
    async with build_app(settings, plugins=[AutoinformerPlugin()]) as app:
        ai, speech = app.part(Autoinformer), app.speech
        started = time.perf_counter()
        cid = await build_campaign(ai.campaigns, workdir, args.contacts, args.amounts)
        stored = time.perf_counter() - started
        print(f"campaign of {args.contacts} contacts stored in {stored:.1f} s")
        started = time.perf_counter()
        await speech.build_prompts()
        print(f"prompts built in {time.perf_counter() - started:.1f} s")
        book = ai.book
        plan = next(p for p in await book.active_plans() if p.id == cid)
        # the dialer's own pre-render step, on the objects the composition root built
        prerenderer = Prerenderer(book=book, scenarios=ai.scenarios, speech=speech)
        if args.gc_freeze:
            gc.freeze()  # what a service can do once started: full collections skip it all
        gc_watch = GcWatch()
        probe = LoopProbe(gc_watch)
        probing = asyncio.ensure_future(probe.run())
        await asyncio.sleep(0.05)  # the probe is running before the step starts
        probe.reset()
        gc.callbacks.append(gc_watch)
        synthesized_before = speech.stats.synthesized
        started = time.perf_counter()
        result = await prerenderer.prepare(plan)
        total = time.perf_counter() - started
        gc.callbacks.remove(gc_watch)
        probing.cancel()
        synthesized = speech.stats.synthesized - synthesized_before
    print(f"pre-render result: {result}")
    print(f"phrases synthesized by espeak during the step: {synthesized}")
    print(f"probe wake-ups: {probe.samples}")
    longest_gc = max((b - a for a, b in gc_watch.pauses), default=0.0)
    print(f"full GC pauses: {len(gc_watch.pauses)}, longest {longest_gc * 1000:.0f} ms")
    print(f"max_loop_held_by_code_ms: {probe.worst_held * 1000:.0f}")
    print(f"contacts/s: {args.contacts / total:,.0f}")
    print(f"total_s: {total:.2f}")
    print(f"max_loop_stall_ms: {probe.worst * 1000:.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--amounts", type=int, default=5, help="distinct debt amounts")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() before the step (see GcWatch)"
    )
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, {args.contacts} contacts")
    workdir = Path(tempfile.mkdtemp(prefix="cc-prerender-"))
    try:
        # migrations run their own loop: before the bench's
        migrate.upgrade(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", [AutoinformerPlugin()])
        asyncio.run(run(args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
