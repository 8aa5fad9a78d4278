"""The typed face of panoramisk 1.4, which ships no type information.

At run time these names are panoramisk's own objects. For the type checker they are
declared here, once, for the part of panoramisk this package touches, as read off
panoramisk 1.4's ami_protocol.py, manager.py, actions.py and message.py
(tests/unit/telephony/test_panoramisk_face.py checks the method names and parameters
against the installed panoramisk). Without this every panoramisk object would be `Any`
and the subclasses in ami.py would inherit from `Any`, so nothing about them was checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["EOL", "AMIProtocol", "Action", "Manager", "Message", "Reply"]

if TYPE_CHECKING:
    import asyncio
    from collections import deque
    from collections.abc import Callable, Iterator, Mapping, MutableMapping
    from typing import Any

    EOL: str

    class Message(MutableMapping[str, Any]):
        """One AMI response or event: headers by case-insensitive name.

        A value is a `str`, or a `list[str]` when the header is repeated (ChanVariable,
        Output); callers that want text say `str(...)`, so values stay `Any` here.
        """

        def __init__(self, headers: Mapping[str, Any], content: str = "") -> None: ...
        @classmethod
        def from_line(cls, line: str) -> Message | None:
            """None for a chunk that is neither a response nor an event."""

        def __getitem__(self, key: str) -> Any: ...
        def __setitem__(self, key: str, value: Any) -> None: ...
        def __delitem__(self, key: str) -> None: ...
        def __iter__(self) -> Iterator[str]: ...
        def __len__(self) -> int: ...

    class Action:
        as_list: bool | None
        future: asyncio.Future[Reply]

        def __init__(self, headers: Mapping[str, Any], *, as_list: bool | None = None) -> None: ...
        @property
        def id(self) -> str: ...

    class AMIProtocol(asyncio.Protocol):
        # create_connection hands every protocol a full Transport, not just a BaseTransport
        transport: asyncio.Transport
        queue: deque[str]
        responses: dict[str, Action]
        factory: Manager | None
        version: str | None

        def send(self, data: Action, as_list: bool | None = False) -> asyncio.Future[Reply]: ...
        def handle_message(self, message: Message) -> None: ...

    class Manager:
        config: dict[str, Any]
        loop: asyncio.AbstractEventLoop
        protocol: AMIProtocol | None
        pinger: asyncio.TimerHandle | None
        reconnect_timeout: float

        def __init__(self, **config: Any) -> None: ...
        # returns the asyncio.Task of the connection attempt; nothing here awaits it
        def connect(
            self,
            run_forever: bool = False,
            on_startup: Callable[[Manager], Any] | None = None,
            on_shutdown: Callable[[Manager], Any] | None = None,
        ) -> object: ...
        def connection_made(
            self, f: asyncio.Future[tuple[asyncio.Transport, AMIProtocol]]
        ) -> None: ...
        def login(self, future: asyncio.Future[Message]) -> bool: ...
        def ping(self) -> None: ...
        def connection_lost(self, exc: object) -> None: ...
        def register_event(
            self, pattern: str, callback: Callable[[Manager, Message], object]
        ) -> Callable[[Manager, Message], object]: ...
        def close(self) -> None: ...

else:
    from panoramisk import Manager
    from panoramisk.actions import Action
    from panoramisk.ami_protocol import AMIProtocol
    from panoramisk.message import Message
    from panoramisk.utils import EOL

# what a sent action's future resolves to: its response, or every message of an event list
Reply = Message | list[Message]
