"""The message played by the call's own dialplan, and what it tells the dialer.

A campaign call's Originate carries its message's parts (CC_PARTS, CC_P1..CC_Pn), and
[autoinformer] plays them itself, one ControlPlayback each, before any AGI: the customer
hears the first sound as soon as the call is answered and the next part right after the
last, with no round trip to the service in between (each used to wait for the AsyncAGI
event to reach the service and its command to come back: 60 ms a call at 100 channels,
10-20 ms a part). Every key of the pad stops a part (fast-forward and rewind are A and B,
as for AGI's CONTROL STREAM FILE), and Asterisk leaves the heard mark behind the last part
(cc-heard/<ChannelId>, as `AgiChannel.stream_file(mark=...)` does). Then:

- a key, or something after the message (a wait for a key, a goodbye): the call enters
  AGI(agi:async,autoinformer,<parts played>,<CPLAYBACKSTATUS>,<CPLAYBACKSTOPKEY>) and the
  service drives it on from there (`DialplanStart`);
- the whole message played and nothing after it (CC_END=1): the dialplan hangs up;
- either of these ends, or a hang-up mid-message: its `h` extension sends
  UserEvent(CCPlayed, Played: <n>, Heard: <1 if marked>, Recording: <file>) unless the
  call went to AGI (CC_AGI=1): that event is how the service learns a call it never
  drove is over (`DialplanPlays`). Lost with a dropped link, the call is asked about as
  any other (its mark says whether it was heard).

An Asterisk without app_controlplayback (IFMODULE) plays nothing and enters AGI at once
with 0 parts played: the service plays them all, as before.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contact_center.telephony.ami import AmiLink

# the UserEvent [autoinformer]'s `h` extension sends
PLAYED_EVENT = "CCPlayed"
# parts one Originate carries at most (a Variable header each): a longer message is
# played by AGI as before (a debt notice has about 15)
MAX_PARTS = 64
# a sound name the dialplan can take whole as an argument (no comma, quote or space)
_SAFE = re.compile(r"[A-Za-z0-9_/.\-]{1,200}")


@dataclass(frozen=True, slots=True)
class DialplanStart:
    """Where the dialplan left the message when the call entered AGI (its arguments)."""

    played: int
    # the key that stopped the next part, None when none did
    key: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DialplanStart | None:
        """None: the call entered AGI without playing anything itself (no CC_PARTS)."""
        raw = env.get("agi_arg_2", "")
        if not raw.isdigit():
            return None
        status = env.get("agi_arg_3", "")
        key = env.get("agi_arg_4", "") if status == "USERSTOPPED" else ""
        return cls(int(raw), key if len(key) == 1 else None)


@dataclass(frozen=True, slots=True)
class Played:
    """A call the dialplan ended without AGI: how much of the message it played."""

    played: int
    # the heard mark was left: the whole message played (or its last part cut by a key)
    heard: bool
    recording: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Played:
        raw = str(event.get("Played", "") or "")
        return cls(
            played=int(raw) if raw.isdigit() else 0,
            heard=str(event.get("Heard", "") or "") == "1",
            recording=str(event.get("Recording", "") or ""),
        )


def message_variables(names: list[str], *, mark: str | None, end: bool) -> dict[str, str]:
    """The Originate's variables that have [autoinformer] play `names` itself; {} when it
    cannot (too many parts, a name the dialplan would split): AGI plays them then.
    `mark`: the heard mark's key; `end`: nothing follows the message, hang up after it."""
    if not names or len(names) > MAX_PARTS or not all(_safe(n) for n in names):
        return {}
    variables = {"CC_PARTS": str(len(names))}
    variables.update({f"CC_P{i}": name for i, name in enumerate(names, start=1)})
    if mark:
        variables["CC_MARK"] = mark
    if end:
        variables["CC_END"] = "1"
    return variables


def _safe(name: str) -> bool:
    return _SAFE.fullmatch(name) is not None and ".." not in name


class DialplanPlays:
    """The CCPlayed events of the calls being dialled, by ChannelId."""

    def __init__(self, link: AmiLink) -> None:
        self._waiting: dict[str, asyncio.Future[Played]] = {}
        self._unsubscribe: list[Callable[[], None]] = [link.on_event("UserEvent", self._on_event)]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    def expect(self, channel_id: str) -> asyncio.Future[Played]:
        """Taken before the Originate goes out, so the event cannot come first."""
        future = self._waiting.get(channel_id)
        if future is None or future.done():
            future = self._waiting[channel_id] = asyncio.get_running_loop().create_future()
        return future

    def release(self, channel_id: str) -> None:
        future = self._waiting.pop(channel_id, None)
        if future is not None and not future.done():
            future.cancel()

    def _on_event(self, event: Any) -> None:
        if str(event.get("UserEvent", "")) != PLAYED_EVENT:
            return
        future = self._waiting.pop(str(event.get("Uniqueid", "") or ""), None)
        if future is not None and not future.done():
            future.set_result(Played.from_event(event))
