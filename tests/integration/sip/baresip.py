"""A real SIP user agent for the tests: baresip (Debian's `baresip-core`) run headless.

Each `Baresip` gets its own config folder, SIP port on loopback and control port. It sends
a WAV file as its microphone (module `aufile`), records both directions of every call to
WAV files (module `sndfile`: ``dump-<peer>-enc.wav`` is what it sent, ``-dec.wav`` what it
heard), plays into ALSA's `null` device (a player is required, nothing is heard) and is
driven over `ctrl_tcp` (JSON in netstrings: commands with a token, events of the UA).

Modules of baresip 1.0.0 used: g711 (alaw/ulaw, what our PJSIP endpoints allow), aufile,
sndfile, alsa, account (the `accounts` file), menu (the commands: dial, accept, hangup,
sndcode for RFC 4733 digits) and ctrl_tcp.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BARESIP = "baresip"
MODULES_DIR = Path("/usr/lib/baresip/modules")
MODULES = ("g711", "aufile", "sndfile", "alsa")
APP_MODULES = ("account", "menu", "ctrl_tcp")


def available() -> str | None:
    """Why baresip cannot run here (None: it can)."""
    if shutil.which(BARESIP) is None:
        return "baresip is not installed (scripts/install-test-tools installs baresip-core)"
    missing = [m for m in (*MODULES, *APP_MODULES) if not (MODULES_DIR / f"{m}.so").is_file()]
    if missing:
        return f"baresip modules missing in {MODULES_DIR}: {', '.join(missing)}"
    return None


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Event:
    type: str
    data: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class Baresip:
    """One baresip process: `await ua.start()`, then `dial`, `send_digits`, `hangup`..."""

    def __init__(
        self,
        name: str,
        folder: Path,
        *,
        account: str,
        source_wav: Path,
        rtp_ports: tuple[int, int],
    ) -> None:
        self.name = name
        self.folder = folder
        self.account = account
        self.source_wav = source_wav
        self.rtp_ports = rtp_ports
        self.sip_port = free_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        self.records = folder / "records"
        self.log_path = folder / "baresip.log"
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = 0

    @property
    def contact(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records.mkdir(exist_ok=True)
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            f"audio_source aufile,{self.source_wav}",
            "audio_player alsa,null",
            "audio_alert alsa,null",
            "audio_srate 8000",
            "audio_channels 1",
            f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "jitter_buffer_delay 1-10",
            f"module_path {MODULES_DIR}",
            *(f"module {m}.so" for m in MODULES),
            *(f"module_app {m}.so" for m in APP_MODULES),
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self.records}",
            # no ring tones to play: `menu` would open a player for them
            "ringback_disabled yes",
        ]
        (self.folder / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self.folder / "accounts").write_text(self.account + "\n", encoding="utf-8")
        (self.folder / "contacts").write_text("", encoding="utf-8")

    async def start(self, timeout: float = 15.0) -> None:
        self.write_config()
        out = await asyncio.to_thread(open, self.log_path, "ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                BARESIP,
                "-f",
                str(self.folder),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.folder,
            )
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.ctrl_port
                )
                break
            except OSError:
                if self._proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name}: baresip did not start\n{self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.1)
        self._read_task = asyncio.create_task(self._read(), name=f"baresip-{self.name}")

    async def stop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.command("quit"), 2)
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._read_task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 3)
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 3)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # --- control -------------------------------------------------------------------

    async def command(self, name: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Run a menu command; returns its reply (`ok`, `data`)."""
        assert self._writer is not None, "not started"
        self._tokens += 1
        token = str(self._tokens)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[token] = reply
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        self._writer.write(b"%d:%s," % (len(body), body))
        await self._writer.drain()
        try:
            return await asyncio.wait_for(reply, timeout)
        finally:
            self._replies.pop(token, None)

    async def dial(self, uri: str) -> None:
        reply = await self.command("dial", uri)
        assert reply.get("ok"), f"{self.name}: dial {uri}: {reply}"

    async def hangup(self) -> None:
        await self.command("hangup")

    async def send_digits(self, digits: str, gap: float = 0.3) -> None:
        """RFC 4733 telephone events, one key at a time."""
        for digit in digits:
            reply = await self.command("sndcode", digit)
            assert reply.get("ok"), f"{self.name}: sndcode {digit}: {reply}"
            await asyncio.sleep(gap)

    async def wait_event(
        self,
        kind: str,
        timeout: float,
        *,
        since: int = 0,
        match: Callable[[Event], bool] | None = None,
    ) -> Event:
        """The first event of type `kind` (e.g. REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED)
        at index `since` or later in `events`."""

        def found() -> Event | None:
            for event in self.events[since:]:
                if event.type == kind and (match is None or match(event)):
                    return event
            return None

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(found), timeout)
            except TimeoutError:
                seen = [e.type for e in self.events[since:]]
                raise AssertionError(
                    f"{self.name}: no {kind} within {timeout:g} s (events: {seen})\n"
                    f"{self.log_tail()}"
                ) from None
        event = found()
        assert event is not None
        return event

    def recordings(self, direction: str) -> list[Path]:
        """The WAV files sndfile wrote: direction `dec` (heard) or `enc` (sent)."""
        return sorted(self.records.glob(f"dump-*-{direction}.wav"))

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while True:
                size = await self._reader.readuntil(b":")
                body = await self._reader.readexactly(int(size[:-1]))
                await self._reader.readexactly(1)  # the netstring's ","
                message = json.loads(body)
                if message.get("response"):
                    reply = self._replies.get(str(message.get("token")))
                    if reply is not None and not reply.done():
                        reply.set_result(message)
                elif message.get("event"):
                    log.debug("%s: event %s", self.name, message)
                    async with self._changed:
                        self.events.append(Event(str(message.get("type")), message))
                        self._changed.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
