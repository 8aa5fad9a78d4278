"""The one AMI link to Asterisk, on panoramisk, with its known pitfalls fixed at the edge.

What this adds to panoramisk 1.4 (DESIGN.md, "panoramisk pitfalls"):
- bytes are decoded with an incremental UTF-8 decoder, so a Cyrillic name split across two
  TCP reads arrives whole;
- events go to one asyncio.Queue consumed by one owned task, in order; handlers are plain
  callables and a handler that raises is logged, never allowed to drop the connection;
- every action has a timeout; an action in flight when the link drops fails with
  AmiConnectionError instead of being re-sent after the reconnect (an Originate sent twice
  would dial a customer twice); one that could not be written at all fails with AmiNotSent;
- `start()` keeps trying for as long as the process runs (back-off capped at
  `reconnect_max`), so a service can come up before its Asterisk; `connect(timeout)` is the
  bounded form for one-shot commands;
- a keepalive Ping with a timeout notices a half-open link; one unanswered Ping gets a second
  chance before the link is dropped (a busy or briefly stalled Asterisk is not a dead one);
- a refused login is an error the caller sees (panoramisk only sets a flag).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import re
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from contact_center.settings import Settings
from contact_center.tasks import TaskSet
from contact_center.telephony._panoramisk import EOL, Action, AMIProtocol, Manager, Message, Reply
from contact_center.telephony.exceptions import (
    AmiActionError,
    AmiConnectionError,
    AmiLoginError,
    AmiNotSent,
    AmiTimeout,
    TelephonyError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# a handler may return a coroutine: it is then run as an owned task
EventHandler = Callable[[Message], object]
ConnectionListener = Callable[[bool], object]
# one action header's value; a sequence repeats the header (Originate's Variable)
AmiField = str | int | float | Sequence[str]

_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class _Utf8Protocol(AMIProtocol):
    """AMIProtocol whose decoding keeps a multi-byte character split across two reads."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            first, _, _ = text.partition(EOL)
            self.version = first.partition("/")[2].strip()
        if self.queue:
            text = self.queue.popleft() + text
        chunks = text.split(EOL + EOL)
        self.queue.append(chunks.pop(-1))
        for chunk in chunks:
            message = Message.from_line(chunk.strip())
            if message is not None:
                self.handle_message(message)


class _Manager(Manager):
    """panoramisk's Manager wired back to our link: login outcome, back-off, no blind re-sends."""

    def __init__(self, link: AmiLink, **config: Any) -> None:
        super().__init__(**config)
        self.link = link
        self.closing = False
        self.connecting: asyncio.Task[Any] | None = None

    def connect(self, *args: Any, **kwargs: Any) -> object:
        if self.closing:
            return None
        # panoramisk's own connect has no timeout: a SYN into a black hole would hold the
        # link for the kernel's ~2 minutes before the next attempt
        opening = self.loop.create_connection(
            self.config["protocol_factory"],
            self.config["host"],
            self.config["port"],
            ssl=self.config["ssl"],
        )
        task = self.loop.create_task(_within(opening, self.link.config.connect_timeout))
        task.add_done_callback(self.connection_made)
        self.connecting = task
        return task

    def connection_made(self, f: asyncio.Future[tuple[asyncio.Transport, AMIProtocol]]) -> None:
        self.connecting = None
        if self.closing or f.cancelled():
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        exc = f.exception()
        if exc is not None:
            # panoramisk would log every failed attempt (with a traceback after a drop) and
            # give up on anything but OSError: the link reports, backs off and tries again
            self.link._connect_failed(exc)
            self.loop.call_later(self.link._next_backoff(), self.connect)
            return
        self.link._transport_made()
        super().connection_made(f)

    def login(self, future: asyncio.Future[Message]) -> bool:
        ok = bool(super().login(future))
        if self.pinger is not None:  # our keepalive checks the reply; panoramisk's does not
            self.pinger.cancel()
            self.pinger = None
        message = "" if ok else str(future.result().get("Message", ""))
        self.link._login_result(ok, message)
        return ok

    def ping(self) -> None:
        self.pinger = None

    def connection_lost(self, exc: object) -> None:
        self.reconnect_timeout = self.link._next_backoff()
        self.link._disconnected()
        super().connection_lost(exc)


@dataclass(frozen=True, slots=True)
class AmiConfig:
    host: str
    port: int
    username: str
    secret: str
    action_timeout: float = 10.0
    ping_interval: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 10.0
    # a TCP connect or a login that takes longer is abandoned and tried again
    connect_timeout: float = 10.0
    # how often a service waiting for Asterisk says it still waits
    unreachable_log_every: float = 60.0

    @property
    def ping_timeout(self) -> float:
        return max(2.0, self.ping_interval)

    @classmethod
    def from_settings(cls, settings: Settings) -> AmiConfig:
        return cls(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_user,
            secret=settings.ami_secret,
            action_timeout=settings.ami_action_timeout,
            ping_interval=settings.ami_ping_interval,
        )


class AmiLink:
    """One AMI session: typed actions that raise on `Response: Error`, ordered events."""

    def __init__(self, config: AmiConfig) -> None:
        self.config = config
        self._manager: _Manager | None = None
        self._handlers: dict[str, list[EventHandler]] = {}
        self._listeners: list[ConnectionListener] = []
        self._events: asyncio.Queue[Message | asyncio.Future[None]] = asyncio.Queue()
        self._tasks = TaskSet("ami")
        self._ready = asyncio.Event()
        self._failed = asyncio.Event()
        self._closing = asyncio.Event()
        self._failure: AmiLoginError | None = None
        self._first_login: asyncio.Future[None] | None = None
        self._pending: set[asyncio.Future[Reply]] = set()
        self._backoff = config.reconnect_min
        self._last_connect_error: BaseException | None = None
        self._last_error = ""
        self._closed = False
        self._ever_up = False
        # a service waits for Asterisk patiently and says so; a one-shot command just fails
        self._patient = False
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0
        self._refused_logged = 0.0
        self._login_started: float | None = None
        self.reconnects = 0
        self.connect_attempts = 0
        self.pings_missed = 0
        # Pings Asterisk answered with an error (it is shutting down): alive, just refusing
        self.pings_refused = 0
        # the run of Asterisk this connection reaches (see asterisk_boot); "" until asked
        self._boot = ""

    # ----------------------------------------------------------------- life cycle
    def start(self) -> None:
        """Start connecting and stay connected from now on: an unreachable Asterisk is tried
        again forever (back-off capped at `reconnect_max`) and reported as a WARNING, once and
        then every `unreachable_log_every` seconds. Returns at once; watch `connected`,
        `on_connection` and `wait_connected`. A login refused before the link was ever up ends
        the trying: `failure` is set and `wait_connected` raises it."""
        self._patient = True
        self._open()

    async def connect(self, *, timeout: float = 10.0) -> None:
        """Connect and log in; raise AmiLoginError or AmiConnectionError if that fails in time
        (the link is closed then). For one-shot commands; a service calls `start`."""
        first = self._open()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(first)
        except TimeoutError:
            await self.close()
            reason = f": {self._last_connect_error}" if self._last_connect_error else ""
            raise AmiConnectionError(
                f"AMI at {self.config.host}:{self.config.port} not reachable "
                f"within {timeout:g} s{reason}"
            ) from None
        except AmiLoginError:
            await self.close()
            raise

    def _open(self) -> asyncio.Future[None]:
        if self._manager is not None:
            raise RuntimeError("AmiLink started twice")
        loop = asyncio.get_running_loop()
        self._manager = _Manager(
            self,
            loop=loop,
            host=self.config.host,
            port=self.config.port,
            username=self.config.username,
            secret=self.config.secret,
            encoding="utf8",
            protocol_factory=_Utf8Protocol,
            ping_delay=10**6,
            reconnect_timeout=self.config.reconnect_min,
            forgetable_actions=("ping", "login", "originate"),
            log=logging.getLogger("contact_center.telephony.panoramisk"),
        )
        self._manager.reconnect_timeout = self.config.reconnect_min
        self._manager.register_event("*", self._enqueue)
        self._tasks.spawn(self._consume(), name="ami-events")
        self._tasks.spawn(self._keepalive(), name="ami-keepalive")
        first: asyncio.Future[None] = loop.create_future()
        self._first_login = first
        self._manager.connect()
        return first

    async def close(self) -> None:
        self._closed = True
        self._closing.set()
        was_ready = self._ready.is_set()
        if self._manager is not None:
            self._manager.closing = True
            if self._manager.connecting is not None:
                self._manager.connecting.cancel()
            self._manager.close()
        self._ready.clear()
        self._fail_pending(AmiConnectionError("AMI link closed"))
        if was_ready:
            self._notify(False)
        await self._tasks.close()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_error(self) -> str:
        """Why the last attempt to connect or log in failed ('' once the link is up)."""
        return self._last_error

    @property
    def failure(self) -> AmiLoginError | None:
        """Why the link gave up for good (a login refused before it was ever up), or None."""
        return self._failure

    @property
    def known_boot(self) -> str:
        """`asterisk_boot` if this connection asked already, else "" (no waiting)."""
        return self._boot if self.connected else ""

    async def asterisk_boot(self) -> str:
        """When the Asterisk at the other end started, as CoreStatus says ("2026-12-01
        13:32:18"): it names one run of Asterisk from its start to its stop, so whoever
        stored it with a call knows later whether that call could have died with an earlier
        run. Asked once per connection; fails like any action while the link is down."""
        if self._boot:
            return self._boot
        connection = self.reconnects
        reply = await self.action("CoreStatus")
        boot = f"{reply.get('CoreStartupDate', '')} {reply.get('CoreStartupTime', '')}".strip()
        # a reply from a connection that dropped since must not stand for the next one
        if self.connected and self.reconnects == connection:
            self._boot = boot
        return boot

    async def _learn_boot(self) -> None:
        try:
            await self.asterisk_boot()
        except TelephonyError as exc:
            # asked again by the first call that needs it
            log.debug("CoreStatus at connect failed: %s", exc)

    async def wait_connected(self, timeout: float | None) -> None:
        """Until the link is up (None: no limit); AmiConnectionError when `timeout` passes
        first or the link is closed, the link's `failure` if it gave up."""
        if self._ready.is_set():
            return
        waiters = [
            asyncio.ensure_future(event.wait())
            for event in (self._ready, self._failed, self._closing)
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._ready.is_set():
            return
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise AmiConnectionError("AMI link closed")
        raise AmiConnectionError(f"AMI link not back within {timeout:g} s")

    async def wait_failure(self) -> AmiLoginError:
        """Return when the link has given up for good (see `start`)."""
        await self._failed.wait()
        assert self._failure is not None
        return self._failure

    def drop(self, *, reconnect_in: float | None = None) -> None:
        """Cut the connection now, as a network failure would (tests, chaos runs); the link
        reconnects by itself, after `reconnect_in` seconds if given."""
        if reconnect_in is not None:
            self._backoff = max(0.0, reconnect_in)
        self._abort_transport()

    # ----------------------------------------------------------------- events
    def on_event(self, name: str, handler: EventHandler) -> Callable[[], None]:
        """Call `handler(event)` for each event named `name` ('*' for all), in arrival order.

        Handlers must not block; a coroutine handler is run as an owned task (unordered).
        Returns a function that unregisters the handler.
        """
        key = name.lower()
        self._handlers.setdefault(key, []).append(handler)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._handlers.get(key, []).remove(handler)

        return remove

    def on_connection(self, listener: ConnectionListener) -> None:
        """`listener(True)` after every (re)login, `listener(False)` when the link drops."""
        self._listeners.append(listener)

    async def wait_event(
        self,
        name: str,
        predicate: Callable[[Message], bool] = lambda _e: True,
        *,
        timeout: float,
    ) -> Message:
        """The next event named `name` that satisfies `predicate`."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def handler(event: Message) -> None:
            if not future.done() and predicate(event):
                future.set_result(event)

        remove = self.on_event(name, handler)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # comes with the result, and the cancelled caller goes on
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise AmiTimeout(f"no {name} event within {timeout:g} s") from None
        finally:
            remove()

    def _enqueue(self, _manager: Manager, event: Message) -> None:
        self._events.put_nowait(event)

    async def flush_events(self) -> None:
        """Return once every event received so far has been through the handlers (so a
        reply read now can be compared with the events that came before it)."""
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._events.put_nowait(marker)
        await marker

    async def catch_up(self, *, timeout: float) -> None:
        """Return once every event Asterisk sent until now has been through the handlers,
        read or not: a Ping's reply comes after them on the link (a process that was
        stopped wakes to timers due before the bytes waiting in its socket are read).
        AmiTimeout / AmiConnectionError when Asterisk cannot be asked."""
        await self.action("Ping", timeout=timeout)
        await self.flush_events()

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            if isinstance(event, asyncio.Future):
                if not event.done():
                    event.set_result(None)
                continue
            name = str(event.get("Event", "")).lower()
            for handler in (*self._handlers.get(name, ()), *self._handlers.get("*", ())):
                try:
                    result = handler(event)
                    if asyncio.iscoroutine(result):
                        self._tasks.spawn(result, name=f"ami-handler-{name}")
                except Exception:
                    log.exception("AMI event handler for %s failed", name)

    # ----------------------------------------------------------------- actions
    async def action(
        self,
        name: str,
        /,
        *,
        timeout: float | None = None,
        **fields: AmiField,
    ) -> Message:
        """Send one action and return its response; raise AmiActionError on `Response: Error`."""
        # as_list=False: the first reply completes it (panoramisk would otherwise wait for
        # more after replies such as "Added AGI command to queue")
        result = await self._send(name, fields, timeout=timeout, as_list=False)
        first = result[0] if isinstance(result, list) else result
        if str(first.get("Response", "")).lower() in ("error", "failure", "fail"):
            raise AmiActionError(name, str(first.get("Message", "")))
        return first

    async def action_list(
        self,
        name: str,
        /,
        *,
        timeout: float | None = None,
        **fields: AmiField,
    ) -> list[Message]:
        """An action answered by an event list; returns the events between start and Complete."""
        result = await self._send(name, fields, timeout=timeout, as_list=None)
        messages = result if isinstance(result, list) else [result]
        first = messages[0]
        if str(first.get("Response", "")).lower() == "error":
            raise AmiActionError(name, str(first.get("Message", "")))
        return [m for m in messages[1:] if not str(m.get("Event", "")).endswith("Complete")]

    async def action_raw(
        self,
        name: str,
        /,
        *,
        timeout: float | None = None,
        **fields: AmiField,
    ) -> list[Message]:
        """Every message panoramisk collected for the action (response first)."""
        return await self.send_nowait(name, timeout=timeout, **fields)

    def send_nowait(
        self, name: str, /, *, timeout: float | None = None, **fields: AmiField
    ) -> Coroutine[Any, Any, list[Message]]:
        """`action_raw` with the action written now, in this step: no task hop before it
        goes out (raises AmiNotSent at once when the link is down). Await what it returns
        for every message collected."""
        sent = self._write(name, fields, as_list=None)

        async def reply() -> list[Message]:
            result = await self._reply(name, sent, timeout)
            return result if isinstance(result, list) else [result]

        return reply()

    async def _send(
        self,
        name: str,
        fields: Mapping[str, AmiField],
        *,
        timeout: float | None,
        as_list: bool | None,
    ) -> Reply:
        return await self._reply(name, self._write(name, fields, as_list=as_list), timeout)

    def _write(
        self, name: str, fields: Mapping[str, AmiField], *, as_list: bool | None
    ) -> tuple[Manager, Action, asyncio.Future[Reply]]:
        headers = _headers(name, fields)
        manager = self._manager
        if (
            manager is None
            or not self.connected
            or manager.protocol is None
            or manager.protocol.transport.is_closing()
        ):
            # an aborted transport drops writes silently until connection_lost runs: say
            # "not sent" rather than let the action wait for a reply that cannot come
            raise AmiNotSent(f"{name}: AMI link is down")
        act = Action(headers, as_list=as_list)
        future = manager.protocol.send(act, as_list=as_list)
        self._pending.add(future)
        return manager, act, future

    async def _reply(
        self,
        name: str,
        sent: tuple[Manager, Action, asyncio.Future[Reply]],
        timeout: float | None,
    ) -> Reply:
        manager, act, future = sent
        limit = self.config.action_timeout if timeout is None else timeout
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # comes with the reply, and the cancelled caller (a flow being stopped) goes on
            async with asyncio.timeout(limit):
                return await asyncio.shield(future)
        except TimeoutError:
            future.cancel()
            raise AmiTimeout(f"{name}: no reply within {limit:g} s") from None
        finally:
            self._pending.discard(future)
            if manager.protocol is not None:
                manager.protocol.responses.pop(act.id, None)

    # ----------------------------------------------------------------- internals
    def _transport_made(self) -> None:
        self._login_started = time.monotonic()

    def _login_result(self, ok: bool, message: str) -> None:
        self._login_started = None
        first = self._first_login
        if ok:
            self._backoff = self.config.reconnect_min
            self._last_connect_error = None
            self._last_error = ""
            if self._unreachable_since is not None:
                log.warning(
                    "Asterisk AMI at %s:%d reachable again after %.0f s",
                    self.config.host,
                    self.config.port,
                    time.monotonic() - self._unreachable_since,
                )
                self._unreachable_since = None
            self._ready.set()
            self._ever_up = True
            if first is not None and not first.done():
                first.set_result(None)
            else:
                self.reconnects += 1
                log.warning("AMI link re-established (reconnect %d)", self.reconnects)
            # known before the first call needs it: a call's Originate is written in the
            # step that claimed it only when the boot is known (the first wave of a
            # campaign went through a task and a CoreStatus round trip, ~45 ms, without)
            self._tasks.spawn(self._learn_boot(), name="ami-boot")
            self._notify(True)
            return
        error = AmiLoginError(
            f"Asterisk refused AMI login for {self.config.username!r}: {message or 'no reason'}"
        )
        self._last_error = str(error)
        if not self._ever_up:
            # our user name or secret is wrong (they are read once, at start): no retry fixes
            # that, so the link gives up and says why
            self._failure = error
            self._failed.set()
            if first is not None and not first.done():
                first.set_exception(error)
                first.exception()  # the service may never await it: no "never retrieved"
            if self._manager is not None:
                self._manager.closing = True
            self._abort_transport()
            return
        # it worked before: Asterisk's manager.conf changed under us; keep trying, loudly
        now = time.monotonic()
        if now - self._refused_logged >= self.config.unreachable_log_every:
            self._refused_logged = now
            log.error("%s; will retry", error)
        self._abort_transport()

    def _connect_failed(self, exc: BaseException) -> None:
        self._last_connect_error = exc
        self.connect_attempts += 1
        reason = str(exc) or type(exc).__name__
        self._last_error = reason
        if not self._patient:
            log.debug("AMI connect failed: %s", reason)
            return
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = self._unreachable_logged = now
            log.warning(
                "Asterisk AMI at %s:%d unreachable (%s); trying again every %g s at most",
                self.config.host,
                self.config.port,
                reason,
                self.config.reconnect_max,
            )
        elif now - self._unreachable_logged >= self.config.unreachable_log_every:
            self._unreachable_logged = now
            log.warning(
                "Asterisk AMI at %s:%d still unreachable after %.0f s (%d attempts; %s)",
                self.config.host,
                self.config.port,
                now - self._unreachable_since,
                self.connect_attempts,
                reason,
            )

    def _next_backoff(self) -> float:
        current = self._backoff
        self._backoff = min(
            max(self._backoff * 2, self.config.reconnect_min), self.config.reconnect_max
        )
        return current

    def _disconnected(self) -> None:
        self._login_started = None
        self._boot = ""
        was_ready = self._ready.is_set()
        self._ready.clear()
        self._fail_pending(AmiConnectionError("AMI link dropped while waiting for a reply"))
        if was_ready:
            log.warning("AMI link lost; reconnecting")
            self._notify(False)

    def _fail_pending(self, error: Exception) -> None:
        for future in list(self._pending):
            if not future.done():
                future.set_exception(error)
                # retrieved by the waiter, or by nobody after a timeout: never warn about it
                future.exception()
        self._pending.clear()

    def _notify(self, up: bool) -> None:
        for listener in self._listeners:
            try:
                result = listener(up)
                if asyncio.iscoroutine(result):
                    self._tasks.spawn(result, name="ami-connection-listener")
            except Exception:
                log.exception("AMI connection listener failed")

    def _abort_transport(self) -> None:
        protocol = self._manager.protocol if self._manager is not None else None
        if protocol is not None and not protocol.transport.is_closing():
            protocol.transport.abort()
            # down from this moment, not from connection_lost a loop turn later: nobody
            # writes into a transport that drops what it is given
            self._disconnected()

    async def _keepalive(self) -> None:
        interval = self.config.ping_interval
        missed = 0
        while True:
            # the second chance goes out at once: a dead link is noticed within
            # interval + 2 x ping_timeout
            if missed == 0:
                await asyncio.sleep(interval)
            if not self.connected:
                missed = 0
                self._check_login_stuck()
                continue
            try:
                await self.action("Ping", timeout=self.config.ping_timeout)
            except AmiTimeout:
                missed += 1
                self.pings_missed += 1
                if missed < 2:
                    log.info(
                        "AMI Ping unanswered within %g s; one more try", self.config.ping_timeout
                    )
                    continue
                log.warning(
                    "AMI: %d Pings in a row unanswered; dropping the link to reconnect", missed
                )
                missed = 0
                self._abort_transport()
            except AmiConnectionError:
                missed = 0
            except AmiActionError as exc:
                # "Asterisk is shutting down" and the like: Asterisk answered, so the link is
                # alive; the keepalive goes on, or a half-open link later would go unnoticed
                if missed:
                    log.info("AMI Ping answered on the second try (%s)", exc.message)
                missed = 0
                self.pings_refused += 1
            except Exception:
                # whatever else goes wrong, the keepalive must not end: log and ping again
                log.exception("AMI keepalive Ping failed; pinging on")
                missed = 0
            else:
                if missed:
                    log.info("AMI Ping answered on the second try; the link stays up")
                missed = 0

    def _check_login_stuck(self) -> None:
        # TCP accepted (the kernel does that even for a stopped Asterisk) but no login reply
        started = self._login_started
        if started is not None and time.monotonic() - started > self.config.connect_timeout:
            self._connect_failed(TimeoutError("no reply to the AMI login"))
            self._abort_transport()


async def _within(opening: Coroutine[Any, Any, T], seconds: float) -> T:
    """`opening` with a time limit. Not wait_for: on 3.11 it swallows a cancellation (the
    link closing) that comes with the connection made, which would then be used."""
    async with asyncio.timeout(seconds):
        return await opening


def _headers(name: str, fields: Mapping[str, AmiField]) -> dict[str, str | list[str]]:
    """Build action headers; refuse anything that could inject another header or action."""
    headers: dict[str, str | list[str]] = {"Action": name}
    for key, value in fields.items():
        if not _HEADER_NAME.fullmatch(key):
            raise ValueError(f"bad AMI header name {key!r}")
        values = list(value) if isinstance(value, list | tuple) else [value]
        for item in values:
            if any(ch in str(item) for ch in "\r\n"):
                raise ValueError(f"AMI header {key} must not contain a line break")
        headers[key] = [str(v) for v in values] if isinstance(value, list | tuple) else str(value)
    for required in (name,):
        if not _HEADER_NAME.fullmatch(required):
            raise ValueError(f"bad AMI action name {required!r}")
    return headers
