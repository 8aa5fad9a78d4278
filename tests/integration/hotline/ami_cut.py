"""A TCP relay in front of the real Asterisk's AMI port that a test can cut.

Not a fake AMI server: every byte goes to and from the session's Asterisk. Cutting it is a
network failure between the service and a running Asterisk: calls, queues and operators go
on and their events are lost, unlike SIGSTOP, which freezes Asterisk itself. While cut, the
port refuses connections, so the service's link reconnects with its usual back-off.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.integration.conftest import free_tcp_port


class AmiCut:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_tcp_port(host)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.cuts = 0

    async def up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, self.host, self.port, reuse_address=True
            )

    async def down(self) -> None:
        """Drop every relayed connection and refuse new ones until `up`."""
        self.cuts += 1
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        await self.down()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # one side gone: the other goes too, as a broken network would have it
            dst.transport.abort()
            self._writers.discard(dst)
            with contextlib.suppress(Exception):
                dst.close()
