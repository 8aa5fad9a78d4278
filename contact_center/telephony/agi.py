"""AsyncAGI call control over the AMI link: one object per call, awaitable commands.

The dialplan hands a channel to `AGI(agi:async,<flow>)`; Asterisk announces it with an
`AsyncAGIStart` event. Commands go out as AMI `AGI` actions with our own CommandID and their
results come back as `AsyncAGIExec` events carrying that CommandID (panoramisk's own
`send_agi_command` waits for a reply that Asterisk 12+ never sends). `AsyncAGIEnd` means the
channel left AGI: every command still waiting fails with ChannelGone.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from contact_center.tasks import TaskSet
from contact_center.telephony._panoramisk import Message
from contact_center.telephony.ami import AmiLink
from contact_center.telephony.exceptions import (
    AgiCommandError,
    AmiActionError,
    AmiConnectionError,
    AmiTimeout,
    ChannelGone,
)

log = logging.getLogger(__name__)

FlowHandler = Callable[["AgiChannel"], Awaitable[None]]

_RESULT = re.compile(r"^(?P<code>\d{3})[ -](?:result=(?P<result>-?\d*)\s*)?(?P<rest>.*)$", re.S)
_SAFE_ARG = re.compile(r"[^\r\n\"]*")
DIGITS = "0123456789*#"


@dataclass(frozen=True, slots=True)
class AgiResult:
    code: int
    result: str
    rest: str

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

    def __init__(self, server: AgiServer, channel: str, env: dict[str, str]) -> None:
        self._server = server
        self.channel = channel
        self.env = env
        self.uniqueid = env.get("agi_uniqueid", "")
        self.gone = False
        self.digits_heard: list[str] = []

    @property
    def flow(self) -> str:
        return self.env.get("agi_arg_1", "")

    @property
    def caller_id(self) -> str:
        return self.env.get("agi_callerid", "")

    async def command(self, text: str, *, timeout: float = 30.0) -> AgiResult:
        if self.gone:
            raise ChannelGone(f"{self.channel} left AGI")
        return await self._server._command(self, text, timeout=timeout)

    # ------------------------------------------------------------ typed commands
    async def answer(self) -> None:
        await self._checked("ANSWER")

    async def stream_file(
        self, name: str, *, escape_digits: str = "", timeout: float = 300.0
    ) -> str | None:
        """Play a sound by name (no extension); return the digit that interrupted it, if any."""
        _check_sound_name(name)
        escape = "".join(ch for ch in escape_digits if ch in DIGITS)
        result = await self._checked(f'STREAM FILE {_quote(name)} "{escape}"', timeout=timeout)
        digit = result.digit
        if digit:
            self.digits_heard.append(digit)
        return digit

    async def wait_for_digit(self, timeout_s: float) -> str | None:
        ms = max(1, int(timeout_s * 1000))
        result = await self._checked(f"WAIT FOR DIGIT {ms}", timeout=timeout_s + 10)
        digit = result.digit
        if digit:
            self.digits_heard.append(digit)
        return digit

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

    async def hangup(self) -> None:
        if self.gone:
            return
        try:
            await self.command("HANGUP", timeout=10)
        except ChannelGone:
            pass

    async def _checked(self, text: str, *, timeout: float = 30.0) -> AgiResult:
        result = await self.command(text, timeout=timeout)
        if result.code != 200:
            if result.code == 511:
                self.gone = True
                raise ChannelGone(f"{self.channel} is dead: {result.rest}")
            raise AgiCommandError(f"{text.split(' ')[0]}: {result.code} {result.rest}")
        if result.result == "-1":
            raise ChannelGone(f"{self.channel} hung up during {text.split(' ')[0]}")
        return result


def _check_sound_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_./\-]+", name) or ".." in name:
        raise ValueError(f"bad sound name {name!r}")


class AgiServer:
    """Turns AsyncAGI events into AgiChannel objects and runs each call's flow as an owned task.

    A call is routed by its first AGI argument (`AGI(agi:async,hotline)`) to the registered
    flow, unless someone claimed its Uniqueid first (an Originate waiting for its own call).
    """

    def __init__(self, link: AmiLink) -> None:
        self._link = link
        self._flows: dict[str, FlowHandler] = {}
        self._claims: dict[str, asyncio.Future[AgiChannel]] = {}
        self._channels: dict[str, AgiChannel] = {}
        self._commands: dict[str, asyncio.Future[AgiResult]] = {}
        self._command_channel: dict[str, str] = {}
        self._tasks = TaskSet("agi-calls")
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
        channel = AgiChannel(self, channel_name, env)
        self._channels[channel_name] = channel
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
        future = self._commands.pop(command_id, None)
        self._command_channel.pop(command_id, None)
        if future is None or future.done():
            return
        try:
            future.set_result(parse_agi_result(str(event.get("Result", ""))))
        except AgiCommandError as exc:
            future.set_exception(exc)

    def _on_end(self, event: Message) -> None:
        channel_name = str(event.get("Channel", ""))
        channel = self._channels.pop(channel_name, None)
        if channel is not None:
            channel.gone = True
        self._fail_commands(channel_name, ChannelGone(f"{channel_name} left AGI"))

    def _on_connection(self, up: bool) -> None:
        if up:
            return
        # results of commands in flight are lost with the link: fail them, the calls decide
        for command_id, future in list(self._commands.items()):
            if not future.done():
                future.set_exception(AmiConnectionError("AMI link dropped during an AGI command"))
                future.exception()
            self._commands.pop(command_id, None)
        self._command_channel.clear()

    def _fail_commands(self, channel_name: str, error: Exception) -> None:
        for command_id, name in list(self._command_channel.items()):
            if name != channel_name:
                continue
            future = self._commands.pop(command_id, None)
            self._command_channel.pop(command_id, None)
            if future is not None and not future.done():
                future.set_exception(error)

    # ------------------------------------------------------------ commands
    async def _command(self, channel: AgiChannel, text: str, *, timeout: float) -> AgiResult:
        command_id = uuid.uuid4().hex
        future: asyncio.Future[AgiResult] = asyncio.get_running_loop().create_future()
        self._commands[command_id] = future
        self._command_channel[command_id] = channel.channel
        try:
            await self._link.action(
                "AGI", Channel=channel.channel, Command=text, CommandID=command_id
            )
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AmiTimeout(f"AGI {text.split(' ')[0]} on {channel.channel}: no result") from None
        except AmiActionError as exc:
            if "not" in exc.message.lower():
                # "Channel does not exist" / "not in AsyncAGI": the caller has gone
                channel.gone = True
                raise ChannelGone(f"{channel.channel}: {exc.message}") from None
            raise
        finally:
            self._commands.pop(command_id, None)
            self._command_channel.pop(command_id, None)
