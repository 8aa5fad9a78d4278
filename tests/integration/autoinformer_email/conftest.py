"""A real SMTP server (aiosmtpd) on loopback, scriptable per test.

The server runs in aiosmtpd's own thread and event loop, as a separate mail server would;
the sender under test runs on the test's loop. Replies can be scripted: a queue of DATA
replies (``None`` = accept), refusals per recipient, a delay before answering DATA.
"""

from __future__ import annotations

import asyncio
import email
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.integration.conftest import free_tcp_port


class _TrackingController(Controller):
    """aiosmtpd's controller, remembering its sessions so that stop() can cut them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = super().factory()
        self.sessions.append(session)
        return session


@dataclass
class MailServer:
    """What the server received and what it will answer next."""

    port: int
    host: str = "127.0.0.1"
    received: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    data_replies: deque[str | None] = field(default_factory=deque)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    # seconds to sit on the next DATA after taking the letter (the reply comes too late)
    data_delays: deque[float] = field(default_factory=deque)
    transactions: int = 0
    # passed to aiosmtpd's Controller: TLS contexts, an authenticator...
    controller_kwargs: dict[str, Any] = field(default_factory=dict)
    tls_sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)
    controller: _TrackingController | None = None

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def wait_for_letters(self, count: int, timeout: float = 10.0) -> None:
        """Block (in a worker thread) until ``count`` letters have been taken."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"the server got {len(self.received)} of {count} letters")

    # --- aiosmtpd handler hooks (run in the server's thread) ---

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.transactions += 1
            reply = self.data_replies.popleft() if self.data_replies else None
            delay = self.data_delays.popleft() if self.data_delays else 0.0
        if reply is not None:
            return reply
        with self.lock:
            self.tls_sessions += server.transport.get_extra_info("ssl_object") is not None
            self.received.append(bytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            number = len(self.received)
            self.arrived.notify_all()
        if delay:
            await asyncio.sleep(delay)
        return f"250 2.0.0 Ok: queued as Q{number}"

    # --- control from the test ---

    def start(self) -> None:
        self.controller = _TrackingController(
            self, hostname=self.host, port=self.port, ready_timeout=10, **self.controller_kwargs
        )
        self.controller.start()

    def cut_sessions(self) -> None:
        """Drop every open session (as a server does to idle clients or when it dies)."""
        controller = self.controller
        if controller is None:
            return
        done = threading.Event()

        def cut() -> None:
            for session in controller.sessions:
                if session.transport is not None:
                    # typed as BaseTransport; a server's connection has a full Transport
                    cast(asyncio.Transport, session.transport).abort()
            done.set()

        controller.loop.call_soon_threadsafe(cut)
        done.wait(5)

    def stop(self) -> None:
        """Go away like a crashed server: open sessions are cut (the kernel would reset
        them), then the listener closes."""
        self.cut_sessions()
        controller, self.controller = self.controller, None
        if controller is not None:
            controller.stop()

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.received)
        return [email.message_from_bytes(b, policy=policy.default) for b in raw]


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer(port=free_tcp_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
