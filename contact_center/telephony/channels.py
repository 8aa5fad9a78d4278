"""Every channel Asterisk has now, as AMI CoreShowChannels lists it: one typed reading of
the listing for whoever reconciles calls after a start or a lost link (the hotline's
recovery, AsyncAGI, the dialer and its peers' nodes)."""

from __future__ import annotations

from dataclasses import dataclass

from contact_center.telephony._panoramisk import Message
from contact_center.telephony.ami import AmiLink


@dataclass(frozen=True, slots=True)
class ShownChannel:
    """One CoreShowChannel entry. Its Application and ApplicationData are the channel
    snapshot's: an app run by AGI EXEC (MixMonitor, Queue) stays listed after it returned
    to AsyncAGI."""

    uniqueid: str
    name: str
    linkedid: str = ""
    # ChannelState (6: Up); -1 when the entry has none
    state: int = -1
    application: str = ""
    data: str = ""
    context: str = ""
    exten: str = ""
    priority: str = ""
    caller_num: str = ""
    caller_name: str = ""
    language: str = ""
    account_code: str = ""
    # set while the channel is in a bridge (with an operator)
    bridge_id: str = ""
    # how long the channel has existed (Duration "HH:MM:SS"); None when unreadable
    seconds: float | None = None

    @classmethod
    def from_event(cls, event: Message) -> ShownChannel:
        def text(key: str) -> str:
            return str(event.get(key, "") or "")

        state = text("ChannelState")
        return cls(
            uniqueid=text("Uniqueid"),
            name=text("Channel"),
            linkedid=text("Linkedid"),
            state=int(state) if state.isdigit() else -1,
            application=text("Application"),
            data=text("ApplicationData"),
            context=text("Context"),
            exten=text("Exten"),
            priority=text("Priority"),
            caller_num=text("CallerIDNum"),
            caller_name=text("CallerIDName"),
            language=text("Language"),
            account_code=text("AccountCode"),
            bridge_id=text("BridgeId"),
            seconds=parse_duration(text("Duration")),
        )


def parse_duration(raw: str) -> float | None:
    """CoreShowChannel's Duration "HH:MM:SS" in seconds (None when unreadable)."""
    parts = raw.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(seconds)


async def show_channels(link: AmiLink) -> list[ShownChannel]:
    """Every channel the Asterisk behind `link` has now, entries without a Uniqueid left
    out (TelephonyError: Asterisk could not be asked)."""
    shown = (ShownChannel.from_event(e) for e in await link.action_list("CoreShowChannels"))
    return [channel for channel in shown if channel.uniqueid]


async def live_channel_ids(link: AmiLink) -> set[str]:
    """Uniqueids and Linkedids of every channel the Asterisk behind `link` has now: a call
    whose ChannelId is not among them is over there (or was never placed)."""
    ids: set[str] = set()
    for channel in await show_channels(link):
        ids.add(channel.uniqueid)
        if channel.linkedid:
            ids.add(channel.linkedid)
    return ids
