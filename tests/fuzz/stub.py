"""A tiny RESP server that misbehaves on command, to prove the fuzzer's checks can fail.

It runs an asyncio loop in a thread and answers PING with PONG, ECHO with its argument and
anything else with +OK, except for these magic words:

    STALL  blocks its event loop for `stall_seconds` (time.sleep), then answers +OK
    DIE    stops serving: closes the listener and every connection, as a crash would
    TWICE  answers +OK twice (a desynchronised reply stream)
    HANG   never answers on that connection (others are still served)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class StubServer:
    def __init__(self, stall_seconds: float = 1.0) -> None:
        self.stall_seconds = stall_seconds
        self.running = False
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="stub-resp", daemon=True
        )

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def start(self) -> StubServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(10)
        self.running = True
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        await self._close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _close(self) -> None:
        self.running = False
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while self.running:
                args = await read_command(reader)
                if args is None:
                    break
                await self._answer(args, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            # Shutting down (stop() cancels a HANG): end quietly rather than have asyncio
            # log the cancelled connection task as an error.
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, args: list[bytes], writer: asyncio.StreamWriter) -> None:
        name = args[0].upper() if args else b""
        if name == b"PING":
            writer.write(b"+PONG\r\n")
        elif name == b"ECHO" and len(args) == 2:
            writer.write(b"$%d\r\n%s\r\n" % (len(args[1]), args[1]))
        elif name == b"STALL":
            time.sleep(self.stall_seconds)  # holds the loop, as a runaway handler would
            writer.write(b"+OK\r\n")
        elif name == b"DIE":
            await self._close()
            return
        elif name == b"TWICE":
            writer.write(b"+OK\r\n+OK\r\n")
        elif name == b"HANG":
            await asyncio.sleep(3600)
        else:
            writer.write(b"+OK\r\n")
        await writer.drain()


async def read_command(reader: asyncio.StreamReader) -> list[bytes] | None:
    """One RESP array of bulk strings, or an inline line; None at end of stream."""
    line = await reader.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.split()
    args = []
    for _ in range(int(line[1:])):
        header = await reader.readline()
        size = int(header[1:])
        args.append((await reader.readexactly(size + 2))[:-2])
    return args
