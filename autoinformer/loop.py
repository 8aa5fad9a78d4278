"""The loop the dialer and the mailer both run: a pass, then a nap that a wake cuts short."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# a pass returns True when it left work behind: the next one runs at once
Pass = Callable[[], Awaitable[bool]]


async def give_way() -> None:
    """Let everything the loop has ready or due run before this task goes on.

    A sleep on a timer, not `sleep(0)`: `sleep(0)` puts the task back at the head of the
    loop's next round, before the tasks that round's timers and I/O wake (their wake-ups
    come one round later), so a long job yielding that way still made a 5 ms sleeper
    wait two or three of its slices (measured by bench/prerender_stall.py)."""
    await asyncio.sleep(0.0001)


class PassLoop:
    """Runs `one_pass` until `stop()` (or cancellation).

    Between passes it sleeps `tick` seconds unless `wake()` comes first. A failed pass is
    logged and the loop goes on, slower (doubling up to `max_delay`): the database or
    Asterisk being away for a moment (`expected`, logged in one line) or a bug (logged with
    its traceback) must not end every campaign's calls or letters for the whole run.
    """

    def __init__(
        self,
        name: str,
        one_pass: Pass,
        *,
        tick: float,
        expected: tuple[type[Exception], ...] = (),
        max_delay: float = 10.0,
    ) -> None:
        self.name = name
        self._pass = one_pass
        self._tick = tick
        self._expected = expected
        self._max_delay = max_delay
        self._wake = asyncio.Event()
        self.stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self.stopping = True
        self._wake.set()

    async def run(self) -> None:
        delay = self._tick
        while not self.stopping:
            # cleared before the pass: a wake during it runs the next one at once
            self._wake.clear()
            busy = False
            try:
                busy = await self._pass()
                delay = self._tick
            except self._expected as exc:
                log.warning("%s pass failed: %s", self.name, exc)
                delay = min(delay * 2, self._max_delay)
            except Exception:
                log.exception("%s pass failed", self.name)
                delay = min(delay * 2, self._max_delay)
            if busy:
                await asyncio.sleep(0)  # others get the loop between busy passes
                continue
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a stop's cancellation
            # that comes as the wake-up does, and the loop would run another pass
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
