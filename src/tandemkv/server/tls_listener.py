"""A TLS listener that tells a plaintext client so, instead of failing its handshake mutely.

asyncio's own TLS server would wrap every accepted socket at once: a client speaking RESP
in the clear would see the connection drop with no reason, and the server would log
nothing. Here each accepted socket is first peeked at: a TLS ClientHello starts with a
handshake record (byte 0x16), RESP never does. A TLS client is handed to the event loop
with the context current at that moment (so a reload applies to the next connection); a
plaintext one gets a RESP error naming the fix and is closed. Both failures are logged
as one line, at most once per LOG_EVERY_SECONDS.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import time
from collections.abc import Callable

from tandemkv.config import Address

log = logging.getLogger("tandemkv.server")

TLS_HANDSHAKE_RECORD = 0x16
HANDSHAKE_SECONDS = 10.0
LOG_EVERY_SECONDS = 10.0
ACCEPTS_PER_WAKEUP = 64
ACCEPT_PAUSE_SECONDS = 1.0
PLAINTEXT_REFUSAL = (
    b"-ERR this port accepts TLS connections only: connect with TLS "
    b"(redis-cli --tls, tandemkv --tls, redis-py ssl=True)\r\n"
)


class RateLimitedLog:
    """One warning per period; the lines skipped meanwhile are counted in the next one."""

    def __init__(self, period: float = LOG_EVERY_SECONDS) -> None:
        self.period = period
        self._last = -period
        self._skipped = 0

    def warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self.period:
            self._skipped += 1
            return
        self._last = now
        if self._skipped:
            message += f" ({self._skipped} more like it in the last {self.period:.0f}s)"
            self._skipped = 0
        log.warning(message, *args)


class TLSListener:
    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        context: Callable[[], ssl.SSLContext],
    ) -> None:
        self._factory = protocol_factory
        self._context = context
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._plaintext_log = RateLimitedLog()
        self._handshake_log = RateLimitedLog()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (port 0: any free one); return the bound (host, port)."""
        loop = self._loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        loop.add_reader(sock.fileno(), self._accept)
        bound = sock.getsockname()
        return bound[0], bound[1]

    def close(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _accept(self) -> None:
        assert self._sock is not None and self._loop is not None
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # the client left already
                # Out of descriptors or memory: the socket stays readable, so stop
                # accepting for a moment rather than spin (asyncio's servers do the same).
                self._handshake_log.warn("cannot accept a TLS connection: %s", error)
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(ACCEPT_PAUSE_SECONDS, self._resume_accepting)
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _Sniffer(self, conn, self._loop)

    def _resume_accepting(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _refuse_plaintext(self, conn: socket.socket) -> None:
        self._plaintext_log.warn(
            "refused a plaintext connection from %s on a TLS-only port (the client must use TLS)",
            _peer(conn),
        )
        try:
            conn.send(PLAINTEXT_REFUSAL)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            return
        # Closing with the client's request unread would reset the connection and could
        # destroy the error before the client reads it: read until it leaves, briefly.
        assert self._loop is not None
        _Drain(conn, self._loop)

    def _start_tls(self, conn: socket.socket) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._handshake(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handshake(self, conn: socket.socket) -> None:
        assert self._loop is not None
        peer = _peer(conn)
        try:
            await self._loop.connect_accepted_socket(
                self._factory,
                conn,
                ssl=self._context(),
                ssl_handshake_timeout=HANDSHAKE_SECONDS,
            )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            conn.close()
            reason = getattr(error, "reason", None) or str(error) or type(error).__name__
            self._handshake_log.warn("TLS handshake with %s failed: %s", peer, reason)


class _Sniffer:
    """Waits for a new connection's first byte, without consuming it."""

    def __init__(self, listener: TLSListener, conn: socket.socket, loop: asyncio.AbstractEventLoop):
        self.listener, self.conn, self.loop = listener, conn, loop
        loop.add_reader(conn.fileno(), self._readable)
        self.timer = loop.call_later(HANDSHAKE_SECONDS, self._give_up)

    def _done(self) -> None:
        self.loop.remove_reader(self.conn.fileno())
        self.timer.cancel()

    def _give_up(self) -> None:
        self._done()
        self.conn.close()

    def _readable(self) -> None:
        try:
            first = self.conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            first = b""
        self._done()
        if not first:
            self.conn.close()
        elif first[0] == TLS_HANDSHAKE_RECORD:
            self.listener._start_tls(self.conn)
        else:
            self.listener._refuse_plaintext(self.conn)


class _Drain:
    """Reads and discards until the peer closes (or a second passes), then closes."""

    def __init__(self, conn: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.conn, self.loop = conn, loop
        loop.add_reader(conn.fileno(), self._readable)
        self.timer = loop.call_later(1.0, self._close)

    def _readable(self) -> None:
        try:
            if self.conn.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._close()

    def _close(self) -> None:
        if self.conn.fileno() >= 0:
            self.loop.remove_reader(self.conn.fileno())
            self.timer.cancel()
            self.conn.close()


def _peer(conn: socket.socket) -> str:
    try:
        host, port = conn.getpeername()[:2]
    except OSError:
        return "a client that left"
    return str(Address(host, port))
