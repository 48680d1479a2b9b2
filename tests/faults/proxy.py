"""A TCP proxy that a test puts between a server and PostgreSQL or Redis to break the link.

``cut()`` closes every connection through it (a crash, a restart, a dropped network),
``refuse()`` also stops listening, so new connections are refused (a stopped server),
``freeze()`` keeps every socket open but forwards nothing (a server or network that hangs,
like SIGSTOP), ``silence_open()`` does so for the connections open now only (a firewall or NAT
that forgot them), and ``heal()`` brings it back. It runs its own event loop in a thread, so it
keeps forwarding while a test blocks, whatever the test's own loop does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 65_536


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silenced: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> FaultProxy:
        self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def cut(self) -> None:
        """Close every connection; new ones are accepted and forwarded."""
        self._run(self._cut())

    def refuse(self) -> None:
        """Close every connection and stop listening: connecting is refused."""
        self._run(self._refuse())

    def freeze(self) -> None:
        """Forward nothing, either way, on open or new connections; close none."""
        self._run(self._set_flowing(flowing=False))

    def silence_open(self) -> None:
        """Forward nothing on the connections open now, and close none; new ones flow."""
        self._run(self._silence_open())

    def heal(self) -> None:
        """Listen and forward again (what a frozen link held back goes through)."""
        self._run(self._heal())

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self._refuse()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._cut()

    async def _set_flowing(self, *, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _silence_open(self) -> None:
        self._silenced |= self._writers

    async def _heal(self) -> None:
        if self._server is None:
            await self._listen()
        self._silenced.clear()
        await self._set_flowing(flowing=True)

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client_out)
        try:
            upstream_in, upstream_out = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_out.transport.abort()
            return
        self._writers.add(upstream_out)
        for source, target in ((client_in, upstream_out), (upstream_in, client_out)):
            task = asyncio.create_task(self._pipe(source, target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await source.read(CHUNK):
                await self._flowing.wait()
                if target in self._silenced:
                    continue
                if target.transport.is_closing():
                    break
                target.write(data)
                await target.drain()
        target.transport.abort()
        self._writers.discard(target)
