"""Small RESP2 clients with no dependencies: a blocking one, and one that busy-polls.

The durability measurements time single requests and must not share a socket or an event loop
with anything else, so they talk RESP directly instead of through redis-py.
"""

from __future__ import annotations

import socket
import time

HOST = "127.0.0.1"
Word = bytes | str | int


class ReplyError(Exception):
    """The server answered with an error (``-ERR ...``, ``-LOADING ...``)."""


def encode(*words: Word) -> bytes:
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        data = word if isinstance(word, bytes) else str(word).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Connection:
    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> object:
        line = self.file.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"-":
            raise ReplyError(rest.decode(errors="replace"))
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise ReplyError(f"unexpected reply {line!r}")

    def call(self, *words: Word) -> object:
        self.send(encode(*words))
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def info(conn: Connection, section: str) -> dict[str, str]:
    """One INFO section as field -> value."""
    text = conn.call("INFO", section)
    if not isinstance(text, bytes):
        raise ReplyError(f"INFO {section} answered {text!r}")
    lines = text.decode(errors="replace").splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


class BusyConnection:
    """A connection that waits for each reply by polling a non-blocking socket.

    A client that sleeps in recv() between requests lets its CPU go idle, and on a virtual
    machine waking an idle CPU costs tens of microseconds: round trips then measure the
    wake-ups as much as the server, and look faster whenever anything else keeps the CPUs busy.
    Polling keeps the client's CPU awake. Simple replies and bulk strings only (GET, SET, PING).
    """

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.timeout = timeout
        self.buffer = b""

    def __enter__(self) -> BusyConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def call(self, *words: Word) -> object:
        self.sock.sendall(encode(*words))
        deadline = time.monotonic() + self.timeout
        while True:
            parsed = _parse_simple(self.buffer)
            if parsed is not None:
                value, used = parsed
                self.buffer = self.buffer[used:]
                return value
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no reply within {self.timeout:g} s") from None
                continue
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk


def _parse_simple(buffer: bytes) -> tuple[object, int] | None:
    """The first reply in ``buffer`` and the bytes it used; None while it is incomplete."""
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    kind, head = buffer[:1], buffer[1:end]
    if kind == b"+":
        return head.decode(), end + 2
    if kind == b":":
        return int(head), end + 2
    if kind == b"-":
        raise ReplyError(head.decode(errors="replace"))
    if kind != b"$":
        raise ReplyError(f"unexpected reply {buffer[: end + 2]!r}")
    size = int(head)
    if size < 0:
        return None, end + 2
    total = end + 2 + size + 2
    return (buffer[end + 2 : end + 2 + size], total) if len(buffer) >= total else None
