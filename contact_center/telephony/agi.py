"""AsyncAGI call control over the AMI link: one object per call, awaitable commands.

The dialplan hands a channel to `AGI(agi:async,<flow>)`; Asterisk announces it with an
`AsyncAGIStart` event. Commands go out as AMI `AGI` actions with our own CommandID and their
results come back as `AsyncAGIExec` events carrying that CommandID (panoramisk's own
`send_agi_command` waits for a reply that Asterisk 12+ never sends). `AsyncAGIEnd` means the
channel left AGI: every command still waiting fails with ChannelGone.

A channel in AsyncAGI outlives the AMI link (DESIGN.md), so a command does not fail when the
link drops: it stays pending (its timeout counts only while the link is up) and, after the
reconnect, each call that had commands out is reconciled:
- a channel CoreShowChannels no longer lists (or lists with another Uniqueid, after an
  Asterisk restart) has gone: its commands fail with ChannelGone;
- on a live channel a NOOP "probe" is queued behind them. AsyncAGI runs a channel's commands
  one at a time in order, so when the probe's result arrives every command queued before it
  has run: one still without a result ran while nobody listened. Its result is lost: a
  read (GET VARIABLE...) is sent again, anything else resolves as "ran, result unknown"
  (`AgiResult.recovered`; e.g. after `EXEC Queue` the flow reads QUEUESTATUS as it does
  anyway). A command whose AGI action got no acknowledgement (written just as the link
  dropped) and has no result by then never reached the queue: it is sent again.
- a customer's key is never among the lost: a sound that takes keys, and a wait for a
  key (silence that takes keys), are played with CONTROL STREAM FILE, which leaves how
  it ended in the channel (CPLAYBACKSTATUS, CPLAYBACKSTOPKEY). Asterisk keeps that with
  the call, so a key pressed while nobody listened is read back after a reconnect, and
  by a new driver of the call after a restart (`AgiChannel.last_key`).
- a command issued while the link is down is sent once it is back;
- a call that entered AsyncAGI while the link was down (its AsyncAGIStart went to nobody)
  is picked up from CoreShowChannels and routed like any other.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from contact_center.tasks import TaskSet
from contact_center.telephony._panoramisk import Message
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.channels import ShownChannel, show_channels
from contact_center.telephony.exceptions import (
    AgiCommandError,
    AmiActionError,
    AmiConnectionError,
    AmiNotSent,
    AmiTimeout,
    ChannelGone,
    TelephonyError,
)

log = logging.getLogger(__name__)

FlowHandler = Callable[["AgiChannel"], Awaitable[None]]

_RESULT = re.compile(r"^(?P<code>\d{3})[ -](?:result=(?P<result>-?\d*)\s*)?(?P<rest>.*)$", re.S)
_SAFE_ARG = re.compile(r"[^\r\n\"]*")
DIGITS = "0123456789*#"
DIGITS_SET = frozenset(DIGITS)


# a read: asking again gives the answer that was lost with the link
_REREAD = ("GET VARIABLE", "GET FULL VARIABLE", "CHANNEL STATUS", "NOOP")
_KEYED_SOUND = "CONTROL STREAM FILE"
# how the last CONTROL STREAM FILE ended, and the key that stopped it, in one read
_LAST_KEY = 'GET FULL VARIABLE "${CPLAYBACKSTATUS}|${CPLAYBACKSTOPKEY}"'
# what a wait for a key plays, from an offset: 10 s of silence. The service gives the
# AGI server its own (AgiServer.silence, contact_center.speech.silence); this stock one of
# Asterisk's core sounds serves where none is given (tests, tools)
SILENCE = "silence/10"
SILENCE_MS = 10_000


@dataclass(frozen=True, slots=True)
class AgiResult:
    code: int
    result: str
    rest: str
    # True: the command ran while the AMI link was down and its real result was lost
    recovered: bool = False

    @property
    def value(self) -> int:
        return int(self.result) if self.result.lstrip("-").isdigit() else 0

    @property
    def data(self) -> str:
        """The part in parentheses, e.g. 'timeout' or a variable's value."""
        match = re.search(r"\((.*)\)", self.rest)
        return match.group(1) if match else ""

    @property
    def digit(self) -> str | None:
        """The DTMF digit a play or wait command returned, if any."""
        return chr(self.value) if self.value > 0 else None


def parse_agi_result(raw: str) -> AgiResult:
    match = _RESULT.match(raw.strip())
    if match is None:
        raise AgiCommandError(f"unparsable AGI result {raw.strip()[:80]!r}")
    return AgiResult(int(match["code"]), match["result"] or "", match["rest"].strip())


def _quote(arg: str) -> str:
    if not _SAFE_ARG.fullmatch(arg):
        raise ValueError("AGI argument must not contain quotes or line breaks")
    return f'"{arg}"'


def _parse_env(raw: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in unquote(raw).splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            env[key.strip()] = value.strip()
    return env


class AgiChannel:
    """One call in AsyncAGI. Every command is awaited; a hang-up raises ChannelGone."""

    def __init__(
        self,
        server: AgiServer,
        channel: str,
        env: dict[str, str],
        *,
        entered_at: float | None = None,
    ) -> None:
        self._server = server
        self.channel = channel
        self.env = env
        self.uniqueid = env.get("agi_uniqueid", "")
        self.gone = False
        self.digits_heard: list[str] = []
        # the AstDB mark queued behind the last sound (stream_file(mark=...)), as it goes
        self._marking: asyncio.Task[AgiResult | None] | None = None
        # wall-clock time (epoch) the channel came to be, for a call picked up from
        # CoreShowChannels after a reconnect (it waited unseen meanwhile); None: now
        self.entered_at = entered_at

    @property
    def flow(self) -> str:
        return self.env.get("agi_arg_1", "")

    @property
    def caller_id(self) -> str:
        return self.env.get("agi_callerid", "")

    async def command(self, text: str, *, timeout: float = 30.0) -> AgiResult:
        if self.gone:
            raise ChannelGone(f"call {self.uniqueid} left AGI")
        return await self._server._command(self, text, timeout=timeout)

    # ------------------------------------------------------------ typed commands
    async def answer(self) -> None:
        await self._checked("ANSWER")

    async def stream_file(
        self,
        name: str,
        *,
        escape_digits: str = "",
        timeout: float = 300.0,
        mark: DbKey | None = None,
    ) -> str | None:
        """Play a sound by name (no extension); return the digit that interrupted it, if any.

        `mark`: an AstDB key Asterisk sets itself once the sound ended while the channel is
        up (played out, or cut by a key), queued right behind it; a call hung up during the
        sound drops it with the queue. Asterisk keeps AstDB across its restarts, so the end
        is on record even when nobody was driving the call (read it with `DbKey.exists`).

        A sound that takes keys is played with CONTROL STREAM FILE: like STREAM FILE, but
        Asterisk also keeps how it ended in the channel, so the key is not lost with a
        result nobody read (the module docstring). Its fast-forward and rewind keys are
        A and B, which phones do not have: every key of the pad stops it."""
        _check_sound_name(name)
        escape = "".join(ch for ch in escape_digits if ch in DIGITS)
        then = None if mark is None else f"DATABASE PUT {mark.family} {mark.key} 1"
        if escape:
            command = f'CONTROL STREAM FILE {_quote(name)} "{escape}" 0 A B'
        else:
            command = f'STREAM FILE {_quote(name)} ""'
        result = await self._checked(command, timeout=timeout, then=then)
        digit = result.digit
        if digit:
            self.digits_heard.append(digit)
        return digit

    async def wait_for_digit(self, timeout_s: float) -> str | None:
        """Wait up to `timeout_s` for one key of the pad: silence that takes keys
        (`AgiServer.silence`, 10 s, played from an offset; a longer wait in pieces), so
        Asterisk keeps a key pressed while nobody listened as it does a sound's (module
        docstring)."""
        left = max(1, int(timeout_s * 1000))
        while left > 0:
            piece = min(left, SILENCE_MS)
            result = await self._checked(
                f'CONTROL STREAM FILE {_quote(self._server.silence)} "{DIGITS}" 0 A B "" '
                f"{SILENCE_MS - piece}",
                timeout=piece / 1000 + 10,
            )
            digit = result.digit
            if digit:
                self.digits_heard.append(digit)
                return digit
            left -= piece
        return None

    async def last_key(self) -> str | None:
        """The key that stopped the last sound or wait that takes keys on this channel,
        whoever drove it (None: it played out): a driver that takes over a call from a
        lost one finds the key that one never read. It may be a key the lost driver did
        act on: look at what it stored first."""
        return _last_key(await self.command(_LAST_KEY))

    async def get_data(self, prompt: str, *, timeout_s: float = 5.0, max_digits: int = 20) -> str:
        """Play `prompt` and collect up to `max_digits` digits ('#' ends input)."""
        _check_sound_name(prompt)
        ms = max(1, int(timeout_s * 1000))
        result = await self._checked(
            f"GET DATA {_quote(prompt)} {ms} {int(max_digits)}",
            timeout=timeout_s * (max_digits + 1) + 300,
        )
        return result.result if result.result.isdigit() else ""

    async def record_file(
        self,
        path: str,
        *,
        fmt: str = "wav",
        escape_digits: str = "#",
        max_seconds: float = 120.0,
        beep: bool = True,
        silence_s: int = 5,
    ) -> None:
        _check_sound_name(path)
        escape = "".join(ch for ch in escape_digits if ch in DIGITS)
        ms = int(max_seconds * 1000)
        cmd = f'RECORD FILE {_quote(path)} {fmt} "{escape}" {ms}'
        if beep:
            cmd += " BEEP"
        cmd += f" s={int(silence_s)}"
        await self._checked(cmd, timeout=max_seconds + 30)

    async def set_variable(self, name: str, value: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_()]*", name):
            raise ValueError(f"bad channel variable name {name!r}")
        await self._checked(f"SET VARIABLE {name} {_quote(value)}")

    async def get_variable(self, name: str) -> str | None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_()]*", name):
            raise ValueError(f"bad channel variable name {name!r}")
        result = await self.command(f"GET VARIABLE {name}")
        return result.data if result.value == 1 else None

    async def exec(self, application: str, args: str = "", *, timeout: float = 3600.0) -> int:
        """Run a dialplan application (Queue, MixMonitor, ...); returns its AGI result."""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", application):
            raise ValueError(f"bad application name {application!r}")
        result = await self._checked(f"EXEC {application} {_quote(args)}", timeout=timeout)
        return result.value

    async def marked(self, *, timeout: float = 2.0) -> bool:
        """Wait for the mark queued behind the last `stream_file(mark=...)` to be written
        (it runs right after the sound, before anything sent later); False if there was
        none, it failed, or it did not come within `timeout`."""
        marking = self._marking
        if marking is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                result = await asyncio.shield(marking)
        except TimeoutError:
            return False
        # DATABASE PUT: 200 result=1 written, result=0 not
        return result is not None and result.code == 200 and result.result == "1"

    async def hangup(self) -> None:
        if self.gone:
            return
        try:
            await self.command("HANGUP", timeout=10)
        except ChannelGone:
            pass

    async def _checked(
        self, text: str, *, timeout: float = 30.0, then: str | None = None
    ) -> AgiResult:
        if self.gone:
            raise ChannelGone(f"call {self.uniqueid} left AGI")
        result = await self._server._command(self, text, timeout=timeout, then=then)
        if result.code != 200:
            if result.code == 511:
                self.gone = True
                raise ChannelGone(f"call {self.uniqueid} is dead: {result.rest}")
            raise AgiCommandError(f"{text.split(' ')[0]}: {result.code} {result.rest}")
        if result.result == "-1":
            raise ChannelGone(f"call {self.uniqueid} hung up during {text.split(' ')[0]}")
        return result


@dataclass(frozen=True, slots=True)
class DbKey:
    """A key of Asterisk's own database (AstDB, func_db): family/key."""

    family: str
    key: str

    def __post_init__(self) -> None:
        for part in (self.family, self.key):
            if not re.fullmatch(r"[A-Za-z0-9_\-]{1,100}", part):
                raise ValueError(f"bad AstDB key part {part!r}")

    async def exists(self, link: AmiLink) -> bool:
        """Is the key set? Read with AMI Getvar of DB_EXISTS, which needs no channel and no
        `system` class (DB() itself counts as dangerous from AMI and is refused)."""
        reply = await link.action(
            "Getvar", Variable=f"DB_EXISTS({self.family}/{self.key})", timeout=5
        )
        return str(reply.get("Value", "")) == "1"


def _check_sound_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_./\-]+", name) or ".." in name:
        raise ValueError(f"bad sound name {name!r}")


class _Sent(enum.Enum):
    UNSENT = "unsent"  # not written (yet): the link is down
    SENDING = "sending"
    MAYBE = "maybe"  # written, acknowledgement lost with the link: queued or not
    QUEUED = "queued"  # Asterisk acknowledged it: it is in the channel's AGI queue


@dataclass(eq=False, slots=True)
class _Command:
    id: str
    channel: AgiChannel
    text: str
    future: asyncio.Future[AgiResult]
    sent: _Sent = _Sent.UNSENT
    # the link session (AgiServer._session) it was written on
    session: int = 0
    probe: bool = False
    verb: str = field(init=False)

    def __post_init__(self) -> None:
        self.verb = self.text.split(" ")[0]


def _left_agi(message: str) -> bool:
    # Asterisk 16: "Channel X does not exist." / "Failed to add AGI command to channel X
    # queue" (the channel is up but no longer in AsyncAGI)
    text = message.lower()
    return "not" in text or "failed to add" in text


def _lost_result(command: _Command) -> AgiResult:
    # no digit, nothing typed: what the flow does after a timeout is the safe guess
    if command.verb == "GET" and command.text.startswith("GET DATA"):
        return AgiResult(200, "", "(timeout)", recovered=True)
    return AgiResult(200, "0", "", recovered=True)


def _last_key(result: AgiResult) -> str | None:
    """The `_LAST_KEY` read: the key that stopped the last keyed sound, None if it ended
    otherwise (played out, an error) or there was none."""
    status, key = [*result.data.split("|"), ""][:2]
    return key if status == "USERSTOPPED" and key in DIGITS_SET else None


class AgiServer:
    """Turns AsyncAGI events into AgiChannel objects and runs each call's flow as an owned task.

    A call is routed by its first AGI argument (`AGI(agi:async,hotline)`) to the registered
    flow, unless someone claimed its Uniqueid first (an Originate waiting for its own call).
    """

    def __init__(self, link: AmiLink, *, silence: str = SILENCE) -> None:
        self._link = link
        # the sound a wait for a key plays (AgiChannel.wait_for_digit): 10 s of silence
        _check_sound_name(silence)
        self.silence = silence
        self._flows: dict[str, FlowHandler] = {}
        self._claims: dict[str, asyncio.Future[AgiChannel]] = {}
        self._channels: dict[str, AgiChannel] = {}
        self._commands: dict[str, _Command] = {}
        self._tasks = TaskSet("agi-calls")
        # link sessions seen (one per login) and the time the link spent down, which
        # command timeouts do not count
        self._session = 0
        self._down_since: float | None = time.monotonic()
        self._down_total = 0.0
        self._first_up: float | None = None  # wall clock of the first login seen
        if link.connected:  # built on a link already up: that is its first session
            self._on_connection(True)
        self.recovered_commands = 0
        self.adopted_calls = 0
        link.on_event("AsyncAGIStart", self._on_start)
        link.on_event("AsyncAGIExec", self._on_exec)
        link.on_event("AsyncAGIEnd", self._on_end)
        link.on_connection(self._on_connection)

    def register_flow(self, name: str, handler: FlowHandler) -> None:
        self._flows[name] = handler

    def claim(self, uniqueid: str) -> asyncio.Future[AgiChannel]:
        """A future for the call whose Uniqueid is `uniqueid` (e.g. our Originate's ChannelId)."""
        future: asyncio.Future[AgiChannel] = asyncio.get_running_loop().create_future()
        self._claims[uniqueid] = future
        return future

    def release(self, uniqueid: str) -> None:
        future = self._claims.pop(uniqueid, None)
        if future is not None and not future.done():
            future.cancel()

    async def close(self) -> None:
        await self._tasks.close()

    # ------------------------------------------------------------ events
    def _on_start(self, event: Message) -> None:
        channel_name = str(event.get("Channel", ""))
        env = _parse_env(str(event.get("Env", "")))
        env.setdefault("agi_uniqueid", str(event.get("Uniqueid", "")))
        known = self._channels.get(channel_name)
        if known is not None and known.uniqueid == env["agi_uniqueid"]:
            # picked up from CoreShowChannels a moment before its own start event came
            known.env.update(env)
            return
        self._route(AgiChannel(self, channel_name, env))

    def _route(self, channel: AgiChannel) -> None:
        self._channels[channel.channel] = channel
        claim = self._claims.pop(channel.uniqueid, None)
        if claim is not None and not claim.done():
            claim.set_result(channel)
            return
        handler = self._flows.get(channel.flow)
        if handler is None:
            log.error("no flow %r for AsyncAGI call; hanging up", channel.flow)
            self._tasks.spawn(channel.hangup(), name="agi-unrouted-hangup")
            return
        self._tasks.spawn(self._run_flow(handler, channel), name=f"agi-{channel.flow}")

    async def _run_flow(self, handler: FlowHandler, channel: AgiChannel) -> None:
        try:
            await handler(channel)
        except ChannelGone:
            log.info("call on %s ended during the %s flow", channel.uniqueid, channel.flow)
        except Exception:
            log.exception("flow %s failed on call %s", channel.flow, channel.uniqueid)
            if not channel.gone:
                try:
                    await channel.hangup()
                except (AmiConnectionError, AmiTimeout):
                    pass

    def _on_exec(self, event: Message) -> None:
        command_id = str(event.get("CommandId", "") or event.get("CommandID", ""))
        command = self._commands.pop(command_id, None)
        if command is None or command.future.done():
            return
        try:
            command.future.set_result(parse_agi_result(str(event.get("Result", ""))))
        except AgiCommandError as exc:
            command.future.set_exception(exc)

    def _on_end(self, event: Message) -> None:
        channel_name = str(event.get("Channel", ""))
        channel = self._channels.pop(channel_name, None)
        if channel is not None:
            channel.gone = True
        uniqueid = channel.uniqueid if channel is not None else str(event.get("Uniqueid", ""))
        self._fail_commands(channel_name, ChannelGone(f"call {uniqueid} left AGI"))

    def _on_connection(self, up: bool) -> None:
        now = time.monotonic()
        if not up:
            if self._down_since is None:
                self._down_since = now
            if self._link.closed:
                self._fail_all(AmiConnectionError("AMI link closed"))
                return
            # commands stay pending: their channels keep waiting in AsyncAGI. Only the
            # probes of the lost session end; the next reconnect sends new ones
            for command in list(self._commands.values()):
                if command.probe:
                    self._settle(command, AmiConnectionError("AMI link dropped"))
            return
        if self._down_since is not None:
            self._down_total += now - self._down_since
            self._down_since = None
        self._session += 1
        if self._first_up is None:
            self._first_up = time.time()
        if self._session > 1:
            self._tasks.spawn(self._reconcile(self._session), name="agi-reconcile")

    def _fail_commands(self, channel_name: str, error: Exception) -> None:
        for command in list(self._commands.values()):
            if command.channel.channel == channel_name:
                self._settle(command, error)

    def _fail_all(self, error: Exception) -> None:
        for command in list(self._commands.values()):
            self._settle(command, error)

    def _settle(self, command: _Command, error: Exception | AgiResult) -> None:
        self._commands.pop(command.id, None)
        if command.future.done():
            return
        if isinstance(error, AgiResult):
            command.future.set_result(error)
        else:
            command.future.set_exception(error)
            command.future.exception()  # a probe's may have no reader left

    def _downtime(self) -> float:
        ongoing = 0.0 if self._down_since is None else time.monotonic() - self._down_since
        return self._down_total + ongoing

    # ------------------------------------------------------------ commands
    async def _command(
        self, channel: AgiChannel, text: str, *, timeout: float, then: str | None = None
    ) -> AgiResult:
        """`then`: a command queued right behind this one once Asterisk acknowledged it
        (so it runs after it, in Asterisk, whether or not anyone reads either result)."""
        command = _Command(
            uuid.uuid4().hex, channel, text, asyncio.get_running_loop().create_future()
        )
        self._commands[command.id] = command
        try:
            if then is not None and self._link.connected:
                # both written in the same turn of the loop, in this order (each write is
                # synchronous up to the socket): a kill cannot fall between them, as it
                # could between the first's acknowledgement and a later write
                writing = asyncio.ensure_future(self._write(command))
                channel._marking = self.send_later(channel, then)
                try:
                    await writing
                except asyncio.CancelledError:
                    writing.cancel()
                    raise
            elif then is not None:
                channel._marking = None
                await self._write(command)  # once the link is back
                channel._marking = self.send_later(channel, then)
            else:
                await self._write(command)
            return await self._result(command, timeout)
        finally:
            self._commands.pop(command.id, None)

    def send_later(self, channel: AgiChannel, text: str) -> asyncio.Task[AgiResult | None]:
        """Queue a command whose result nobody needs to wait for (owned; failures are
        logged); the task gives its result, None if it failed."""
        return self._tasks.spawn(self._quietly(channel, text), name="agi-send-later")

    async def _quietly(self, channel: AgiChannel, text: str) -> AgiResult | None:
        try:
            return await self._command(channel, text, timeout=30.0)
        except ChannelGone:
            return None
        except TelephonyError as exc:
            log.info("AGI %s on call %s: %s", text.split(" ")[0], channel.uniqueid, exc)
            return None

    async def _write(self, command: _Command) -> None:
        """Put the command in the channel's AGI queue, waiting for the link if it is down;
        returns when Asterisk acknowledged it or may have (MAYBE: the reconcile decides)."""
        while not command.future.done():
            if self._link.closed:
                raise AmiConnectionError(f"AGI {command.verb}: AMI link closed")
            if not self._link.connected:
                command.sent = _Sent.UNSENT
                await self._until_up_or(command.future)
                continue
            command.sent = _Sent.SENDING
            command.session = self._session
            try:
                await self._link.action(
                    "AGI",
                    Channel=command.channel.channel,
                    Command=command.text,
                    CommandID=command.id,
                )
            except AmiNotSent:
                command.sent = _Sent.UNSENT
                # the transport is closing; the link says it is down a moment later
                await asyncio.sleep(0.05)
                continue
            except (AmiConnectionError, AmiTimeout):
                if self._link.closed:
                    raise
                command.sent = _Sent.MAYBE
                return
            except AmiActionError as exc:
                if _left_agi(exc.message):
                    command.channel.gone = True
                    raise ChannelGone(f"call {command.channel.uniqueid} left AGI") from None
                raise
            command.sent = _Sent.QUEUED
            return

    async def _until_up_or(self, future: asyncio.Future[AgiResult]) -> None:
        up = asyncio.ensure_future(self._link.wait_connected(None))
        waiters: set[asyncio.Future[Any]] = {up, future}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
        if up.done() and not up.cancelled():
            error = up.exception()
            if isinstance(error, AmiConnectionError):
                raise error
            if error is not None:
                raise AmiConnectionError(f"AMI link gave up: {error}")

    async def _result(self, command: _Command, timeout: float) -> AgiResult:
        # the timeout is for an Asterisk that does not answer; time with no link does not
        # count, since the channel keeps waiting for us meanwhile
        left = timeout
        while True:
            down_before = self._downtime()
            try:
                # not wait_for: on 3.11 it swallows a cancellation that comes with the
                # result, and a flow cancelled then (stopped, let go) would drive on
                async with asyncio.timeout(left):
                    return await asyncio.shield(command.future)
            except TimeoutError:
                if self._link.closed:
                    raise AmiConnectionError(f"AGI {command.verb}: AMI link closed") from None
                lost = self._downtime() - down_before
                if lost <= 0 and self._link.connected:
                    raise AmiTimeout(
                        f"AGI {command.verb} on call {command.channel.uniqueid}: no result"
                    ) from None
                left = max(lost, 0.5)

    async def _rewrite(self, command: _Command) -> None:
        try:
            await self._write(command)
        except TelephonyError as exc:
            self._settle(command, exc)

    # ------------------------------------------------------------ after a reconnect
    def _current(self, session: int) -> bool:
        return session == self._session and self._link.connected

    async def _reconcile(self, session: int) -> None:
        while True:
            if not self._current(session):
                return  # the link dropped again: the next session reconciles
            try:
                listing = await show_channels(self._link)
                # start events that came before the listing are handled before it is read
                await self._link.flush_events()
                break
            except (AmiConnectionError, AmiTimeout) as exc:
                if self._current(session):
                    log.warning("AGI reconcile: CoreShowChannels failed (%s); again in 1 s", exc)
                    await asyncio.sleep(1.0)
        live = {shown.name: shown for shown in listing}

        def alive(channel: AgiChannel) -> bool:
            shown = live.get(channel.channel)
            # the same name after an Asterisk restart is another call
            return shown is not None and shown.uniqueid == channel.uniqueid

        gone: dict[str, AgiChannel] = {}
        for channel in (*self._channels.values(), *(c.channel for c in self._commands.values())):
            if not alive(channel):
                gone[channel.channel] = channel
        for name, channel in gone.items():
            log.info("AGI reconcile: call %s hung up while the AMI link was down", channel.uniqueid)
            channel.gone = True
            if self._channels.get(name) is channel:
                del self._channels[name]
            self._fail_commands(
                name, ChannelGone(f"call {channel.uniqueid} hung up while the AMI link was down")
            )
        probed: dict[str, AgiChannel] = {}
        for command in self._commands.values():
            if (
                not command.probe
                and command.session < session
                and command.sent in (_Sent.MAYBE, _Sent.QUEUED)
            ):
                probed[command.channel.channel] = command.channel
        for channel in probed.values():
            self._tasks.spawn(self._probe(channel, session), name="agi-probe")
        self._adopt(listing)

    async def _probe(self, channel: AgiChannel, session: int) -> None:
        probe = _Command(
            uuid.uuid4().hex,
            channel,
            "NOOP",
            asyncio.get_running_loop().create_future(),
            session=session,
            probe=True,
        )
        self._commands[probe.id] = probe
        try:
            await self._link.action(
                "AGI", Channel=channel.channel, Command="NOOP", CommandID=probe.id
            )
            # may wait behind a long command (an hour-long EXEC Queue): it ends when that
            # command's own result has come, when the call ends, or when the link drops
            await probe.future
        except ChannelGone:
            return
        except AmiActionError as exc:
            if _left_agi(exc.message):
                channel.gone = True
                self._channels.pop(channel.channel, None)
                self._fail_commands(
                    channel.channel, ChannelGone(f"call {channel.uniqueid} left AGI")
                )
            else:
                log.warning("AGI reconcile probe on call %s refused", channel.uniqueid)
            return
        except (AmiConnectionError, AmiTimeout):
            return
        finally:
            self._commands.pop(probe.id, None)
        for command in list(self._commands.values()):
            if (
                command.channel is not channel
                or command.probe
                or command.session >= session
                or command.future.done()
            ):
                continue
            if command.sent is _Sent.QUEUED and not command.text.startswith(_REREAD):
                self.recovered_commands += 1
                log.info(
                    "AGI %s on call %s ran while the AMI link was down; its result is lost",
                    command.verb,
                    channel.uniqueid,
                )
                if command.text.startswith(_KEYED_SOUND):
                    self._tasks.spawn(self._recover_key(command), name="agi-recover-key")
                else:
                    self._settle(command, _lost_result(command))
            elif command.sent in (_Sent.QUEUED, _Sent.MAYBE):
                log.info("AGI %s on call %s sent again", command.verb, channel.uniqueid)
                self._tasks.spawn(self._rewrite(command), name="agi-resend")

    async def _recover_key(self, command: _Command) -> None:
        """A sound that takes keys ran while nobody listened: how it ended is in the
        channel (it was the last such sound: the flow waited for its result)."""
        try:
            result = await self._command(command.channel, _LAST_KEY, timeout=10)
        except ChannelGone as exc:
            self._settle(command, exc)
            return
        except TelephonyError:
            self._settle(command, _lost_result(command))
            return
        stopped = _last_key(result)
        if stopped:
            log.info(
                "AGI call %s: the key that stopped a sound, read back", command.channel.uniqueid
            )
        value = str(ord(stopped)) if stopped else "0"
        self._settle(command, AgiResult(200, value, "", recovered=True))

    def _adopt(self, listing: list[ShownChannel]) -> None:
        """Calls that entered AsyncAGI while the link was down: their start went to nobody."""
        if self._first_up is None:
            return
        now = time.time()
        for shown in listing:
            name = shown.name
            if name in self._channels or shown.application != "AGI":
                continue
            if not shown.data.startswith("agi:async"):
                continue
            age = shown.seconds
            # older than this process: not ours to pick up (a previous run's call is the
            # dialer's and the hotline's to reconcile)
            if age is None or now - age < self._first_up - 2:
                continue
            args = shown.data.split(",")[1:]
            env = {
                "agi_request": "async",
                "agi_channel": name,
                "agi_uniqueid": shown.uniqueid,
                "agi_callerid": shown.caller_num,
                "agi_calleridname": shown.caller_name,
                "agi_language": shown.language,
                "agi_context": shown.context,
                "agi_extension": shown.exten,
                "agi_priority": shown.priority,
                "agi_accountcode": shown.account_code,
            }
            env.update({f"agi_arg_{i}": arg for i, arg in enumerate(args, start=1)})
            self.adopted_calls += 1
            log.warning(
                "AGI call %s entered AsyncAGI (%s) while the AMI link was down; picked up",
                env["agi_uniqueid"],
                args[0] if args else "",
            )
            self._route(AgiChannel(self, name, env, entered_at=now - age))
