"""Simulated hotline callers (the sim world's [sim-callers]): smoke tests, the demo, tests.

A caller is an Originate of ``Local/s@hotline`` whose other half runs ``sim-callers``:
``d<keys>`` presses keys once the menu plays and stays on the line; ``g<secs>k<keys>`` presses
keys, then gives up after <secs> seconds; ``w<secs>`` hangs up after <secs> seconds.
The hotline side is the running service's flow (here: in this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contact_center.app import App
from contact_center.hotline.flow import HotlineCall
from contact_center.operators.models import OperatorState
from contact_center.speech.service import Speech
from contact_center.telephony.exceptions import AmiActionError

_KEYS = re.compile(r"^[0-9*#w]{1,40}$")
# Sample caller IDs: not customers unless the customer base lists them
DEFAULT_CALLER = "+73914400000"


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / float(w.getframerate())


async def prompt_seconds(speech: Speech, names: Sequence[str]) -> float:
    """How long the prompts play (they are synthesized first if needed)."""
    total = 0.0
    for name in names:
        playback = await speech.prompt(name)
        path = Path(speech.sounds_dir) / (playback.removeprefix(speech.asterisk_prefix + "/"))
        total += await asyncio.to_thread(wav_seconds, path.with_suffix(".wav"))
    return total


async def menu_delay(speech: Speech) -> float:
    """Seconds after the answer at which a caller's key lands in the greeting (the recording
    warning before it is played without listening for keys; the greeting takes the main
    menu's keys)."""
    # 2 s into the greeting: 20 callers at once on a loaded machine start their warnings
    # late, and a key pressed while the warning still plays is not heard
    return round(await prompt_seconds(speech, ["recording_warning"]) + 2.0, 2)


@dataclass(slots=True)
class SimCall:
    channel_id: str
    exten: str
    answered: bool = False
    error: str = ""
    call: HotlineCall | None = None

    @property
    def hotline_uniqueid(self) -> str:
        return f"{self.channel_id}-b"


@dataclass(slots=True)
class SimRun:
    calls: list[SimCall] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def finished(self) -> list[SimCall]:
        return [c for c in self.calls if c.call is not None]


def caller_exten(digits: str, give_up_after: float | None = None) -> str:
    if not _KEYS.match(digits):
        raise ValueError("клавиши: цифры, * и #, w — пауза полсекунды")
    if give_up_after is not None:
        return f"g{give_up_after:g}k{digits}"
    return f"d{digits}"


async def originate_caller(
    service: App,
    exten: str,
    *,
    caller_id: str = DEFAULT_CALLER,
    dtmf_delay: float | None = None,
) -> SimCall:
    """One simulated caller into the hotline; returns once Asterisk has placed it."""
    channel_id = f"sim-{uuid.uuid4().hex[:20]}"
    sim = SimCall(channel_id, exten)
    fields: dict[str, str | list[str]] = {
        "Channel": "Local/s@hotline",
        "Context": "sim-callers",
        "Exten": exten,
        "Priority": "1",
        "Async": "true",
        "Timeout": "10000",
        "CallerID": caller_id,
        "ChannelId": channel_id,
        "OtherChannelId": sim.hotline_uniqueid,
    }
    if dtmf_delay is not None:
        # a channel variable of the caller's half shadows the sim world's global
        fields["Variable"] = [f"SIM_CALLER_DTMF_DELAY={dtmf_delay:g}"]
    try:
        messages = await service.link.action_raw("Originate", timeout=20, **fields)
    except AmiActionError as exc:
        sim.error = exc.message
        return sim
    final = next((m for m in messages[1:] if m.get("Event") == "OriginateResponse"), None)
    sim.answered = final is not None and str(final.get("Response")) == "Success"
    if not sim.answered:
        sim.error = "вызов не состоялся" if final is None else f"Reason {final.get('Reason')}"
    return sim


async def run_callers(
    service: App,
    count: int,
    digits: str = "0",
    *,
    caller_ids: Sequence[str] = (),
    give_up_after: float | None = None,
    timeout: float = 300.0,
) -> SimRun:
    """Originate `count` callers at once into the hotline answered by `service` and wait until
    every call has ended (or `timeout`)."""
    started = time.monotonic()
    done: dict[str, HotlineCall] = {}
    finished = asyncio.Event()
    expected: set[str] = set()

    def on_finished(call: HotlineCall) -> None:
        done[call.uniqueid] = call
        if expected and expected <= set(done):
            finished.set()

    service.hotline.on_call_finished.append(on_finished)
    try:
        delay = await menu_delay(service.speech)
        exten = caller_exten(digits, give_up_after)
        calls = await asyncio.gather(
            *(
                originate_caller(
                    service,
                    exten,
                    caller_id=caller_ids[i % len(caller_ids)] if caller_ids else DEFAULT_CALLER,
                    dtmf_delay=delay,
                )
                for i in range(count)
            )
        )
        expected.update(c.hotline_uniqueid for c in calls if c.answered)
        if expected <= set(done):
            finished.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), timeout)
        for call in calls:
            call.call = done.get(call.hotline_uniqueid)
        return SimRun(list(calls), time.monotonic() - started)
    finally:
        service.hotline.on_call_finished.remove(on_finished)


async def settle(service: App, timeout: float) -> bool:
    """Wait (up to `timeout`) until no operator is on a call or in post-call work, so a
    smoke run leaves the queue as it found it. True if it settled."""
    busy = {OperatorState.ON_CALL.value, OperatorState.WRAP_UP.value}
    deadline = time.monotonic() + timeout
    while True:
        if not any(op.state in busy for op in await service.operators.all()):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
