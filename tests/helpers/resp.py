"""A tiny blocking RESP2/RESP3 client for byte-exact integration tests.

redis-py normalises replies (callbacks, type conversion); these tests need to see exactly
what the server sent, including the reply type and the error text, and to send bytes no
well-behaved client would. Replies decode to plain Python values:

simple string -> str, bulk / verbatim string -> bytes, integer / big number -> int,
double -> float, boolean -> bool, null (any form) -> None, array / push / set -> list,
map -> dict, error -> ``RespError`` (returned, not raised, so tests can compare it).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

CRLF = b"\r\n"


@dataclass(frozen=True)
class RespError:
    """An error reply; ``text`` is the line without the leading ``-`` / ``!``."""

    text: str


class ConnectionClosed(Exception):
    """The server closed the connection before a complete reply arrived."""


def encode_command(*args: bytes | str | int | float) -> bytes:
    """Encode one command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RawClient:
    """One TCP connection speaking RESP with explicit reads and writes."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._pos = 0

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args: bytes | str | int | float) -> Any:
        """Send one command and return its decoded reply."""
        self.send(encode_command(*args))
        return self.read_reply()

    def inline(self, line: bytes | str) -> Any:
        """Send one inline command line (CRLF appended) and return its reply."""
        data = line if isinstance(line, bytes) else line.encode()
        self.send(data + CRLF)
        return self.read_reply()

    def read_reply(self) -> Any:
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        return self._decode(kind, rest)

    def read_replies(self, count: int) -> list[Any]:
        return [self.read_reply() for _ in range(count)]

    def is_closed_by_peer(self, wait: float = 5.0) -> bool:
        """True if the server closes the connection within ``wait`` seconds.

        Any unread bytes still buffered count as 'not closed'; a reset counts as closed.
        """
        if self._pos < len(self._buf):
            return False
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            finally:
                self.sock.settimeout(10.0)
            if not chunk:
                return True
            self._buf += chunk
            return False

    def _decode(self, kind: bytes, rest: bytes) -> Any:
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"=", b"!"):
            return self._decode_blob(kind, int(rest))
        if kind in (b"*", b"~", b">"):
            count = int(rest)
            return None if count < 0 else [self.read_reply() for _ in range(count)]
        if kind == b"%":
            return self._decode_map(int(rest))
        if kind == b"|":
            self._decode_map(int(rest))  # attributes annotate the next reply
            return self.read_reply()
        if kind == b"_":
            return None
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return rest == b"t"
        if kind == b"(":
            return int(rest)
        raise AssertionError(f"unknown RESP type byte {kind!r} in line {kind + rest!r}")

    def _decode_blob(self, kind: bytes, length: int) -> Any:
        if length < 0:
            return None
        payload = self._read_exact(length + 2)
        assert payload[-2:] == CRLF, f"bulk payload not CRLF-terminated: {payload[-2:]!r}"
        data = payload[:-2]
        if kind == b"!":
            return RespError(data.decode(errors="replace"))
        if kind == b"=":
            return data[4:]  # drop the 'txt:' / 'mkd:' format prefix
        return data

    def _decode_map(self, count: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for _ in range(count):
            key = self.read_reply()
            result[key if not isinstance(key, list) else tuple(key)] = self.read_reply()
        return result

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError as exc:
            raise ConnectionClosed("connection reset by server") from exc
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += chunk

    def _read_line(self) -> bytes:
        while True:
            end = self._buf.find(CRLF, self._pos)
            if end >= 0:
                line = bytes(self._buf[self._pos : end])
                self._pos = end + 2
                return line
            self._fill()

    def _read_exact(self, size: int) -> bytes:
        while len(self._buf) - self._pos < size:
            self._fill()
        data = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size
        return data
