"""The one AMI link to Asterisk, on panoramisk, with its known pitfalls fixed at the edge.

What this adds to panoramisk 1.4 (DESIGN.md, "panoramisk pitfalls"):
- bytes are decoded with an incremental UTF-8 decoder, so a Cyrillic name split across two
  TCP reads arrives whole;
- events go to one asyncio.Queue consumed by one owned task, in order; handlers are plain
  callables and a handler that raises is logged, never allowed to drop the connection;
- every action has a timeout; an action in flight when the link drops fails with
  AmiConnectionError instead of being re-sent after the reconnect (an Originate sent twice
  would dial a customer twice);
- reconnects back off exponentially; a keepalive Ping with a timeout notices a half-open link;
- a refused login is an error the caller sees (panoramisk only sets a flag).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contact_center.settings import Settings
from contact_center.tasks import TaskSet
from contact_center.telephony._panoramisk import EOL, Action, AMIProtocol, Manager, Message, Reply
from contact_center.telephony.exceptions import (
    AmiActionError,
    AmiConnectionError,
    AmiLoginError,
    AmiNotSent,
    AmiTimeout,
)

log = logging.getLogger(__name__)

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

    def connect(self, *args: Any, **kwargs: Any) -> object:
        if self.closing:
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f: asyncio.Future[tuple[asyncio.Transport, AMIProtocol]]) -> None:
        if self.closing:
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        exc = None if f.cancelled() else f.exception()
        if isinstance(exc, OSError):
            self.link._connect_failed(exc)
            self.reconnect_timeout = self.link._next_backoff()
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
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._tasks = TaskSet("ami")
        self._ready = asyncio.Event()
        self._first_login: asyncio.Future[None] | None = None
        self._pending: set[asyncio.Future[Reply]] = set()
        self._backoff = config.reconnect_min
        self._last_connect_error: OSError | None = None
        self.reconnects = 0

    # ----------------------------------------------------------------- life cycle
    async def connect(self, *, timeout: float = 10.0) -> None:
        """Connect and log in; raise AmiLoginError or AmiConnectionError if that fails in time."""
        if self._manager is not None:
            raise RuntimeError("AmiLink.connect called twice")
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
        self._first_login = loop.create_future()
        self._manager.connect()
        try:
            await asyncio.wait_for(asyncio.shield(self._first_login), timeout)
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
        self._tasks.spawn(self._keepalive(), name="ami-keepalive")

    async def close(self) -> None:
        if self._manager is not None:
            self._manager.closing = True
            self._manager.close()
        self._ready.clear()
        self._fail_pending(AmiConnectionError("AMI link closed"))
        await self._tasks.close()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise AmiConnectionError(f"AMI link not back within {timeout:g} s") from None

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
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AmiTimeout(f"no {name} event within {timeout:g} s") from None
        finally:
            remove()

    def _enqueue(self, _manager: Manager, event: Message) -> None:
        self._events.put_nowait(event)

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
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
        result = await self._send(name, fields, timeout=timeout, as_list=None)
        return result if isinstance(result, list) else [result]

    async def _send(
        self,
        name: str,
        fields: Mapping[str, AmiField],
        *,
        timeout: float | None,
        as_list: bool | None,
    ) -> Reply:
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
        limit = self.config.action_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            future.cancel()
            raise AmiTimeout(f"{name}: no reply within {limit:g} s") from None
        finally:
            self._pending.discard(future)
            if manager.protocol is not None:
                manager.protocol.responses.pop(act.id, None)

    # ----------------------------------------------------------------- internals
    def _login_result(self, ok: bool, message: str) -> None:
        first = self._first_login
        if ok:
            self._backoff = self.config.reconnect_min
            self._last_connect_error = None
            self._ready.set()
            if first is not None and not first.done():
                first.set_result(None)
            else:
                self.reconnects += 1
                log.warning("AMI link re-established (reconnect %d)", self.reconnects)
            self._notify(True)
            return
        error = AmiLoginError(
            f"Asterisk refused AMI login for {self.config.username!r}: {message or 'no reason'}"
        )
        if first is not None and not first.done():
            first.set_exception(error)
        else:
            log.error("%s; will retry", error)
            self._abort_transport()

    def _connect_failed(self, exc: OSError) -> None:
        self._last_connect_error = exc
        log.debug("AMI connect failed: %s", exc)

    def _next_backoff(self) -> float:
        current = self._backoff
        self._backoff = min(self._backoff * 2, self.config.reconnect_max)
        return current

    def _disconnected(self) -> None:
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
        if protocol is not None:
            protocol.transport.abort()

    async def _keepalive(self) -> None:
        interval = self.config.ping_interval
        while True:
            await asyncio.sleep(interval)
            if not self.connected:
                continue
            try:
                await self.action("Ping", timeout=max(2.0, interval))
            except AmiTimeout:
                log.warning("AMI Ping unanswered; dropping the link to reconnect")
                self._abort_transport()
            except AmiConnectionError:
                continue


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
