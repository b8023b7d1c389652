"""The seed README's text protocol, typed over a plain TCP socket as with nc.

PUT / DELETE / bare KEYS are tandemkv aliases (SET / DEL / KEYS *); GET and inline
commands in general are Redis behaviour and run against both targets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from helpers.servers import ServerProcess


class LineSession:
    """A raw socket that sends text lines and reads back exact bytes."""

    def __init__(self, server: ServerProcess) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=10)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def exchange(self, line: bytes, expected: bytes) -> None:
        self.sock.sendall(line)
        deadline = time.monotonic() + 10
        while len(self.buffer) < len(expected) and time.monotonic() < deadline:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        received, self.buffer = self.buffer[: len(expected)], self.buffer[len(expected) :]
        assert received == expected, f"sent {line!r}"


@pytest.fixture
def session(server: ServerProcess) -> Iterator[LineSession]:
    conn = LineSession(server)
    yield conn
    conn.close()


@pytest.mark.tandemkv_only("PUT / DELETE / bare KEYS are the seed's command names")
@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf-as-nc-sends"])
def test_seed_readme_commands(session: LineSession, eol: bytes) -> None:
    session.exchange(b"PUT mykey myvalue" + eol, b"+OK\r\n")
    session.exchange(b"GET mykey" + eol, b"$7\r\nmyvalue\r\n")
    session.exchange(b"KEYS" + eol, b"*1\r\n$5\r\nmykey\r\n")
    session.exchange(b"DELETE mykey" + eol, b":1\r\n")
    session.exchange(b"GET mykey" + eol, b"$-1\r\n")
    session.exchange(b"DELETE mykey" + eol, b":0\r\n")
    session.exchange(b"KEYS" + eol, b"*0\r\n")


@pytest.mark.tandemkv_only("PUT is the seed's command name")
def test_seed_quoted_values_and_lowercase(session: LineSession) -> None:
    session.exchange(b'PUT mykey "hello world"\r\n', b"+OK\r\n")
    session.exchange(b"get mykey\r\n", b"$11\r\nhello world\r\n")
    session.exchange(b"put other 'single quoted'\n", b"+OK\r\n")
    session.exchange(b"GET other\n", b"$13\r\nsingle quoted\r\n")
    session.exchange(b'PUT esc "tab\\there\\x41"\r\n', b"+OK\r\n")
    session.exchange(b"GET esc\r\n", b"$9\r\ntab\there" + b"A\r\n")


def test_inline_commands_redis_style(session: LineSession) -> None:
    session.exchange(b'SET mykey "hello world"\r\n', b"+OK\r\n")
    session.exchange(b"GET mykey\n", b"$11\r\nhello world\r\n")
    session.exchange(b"EXISTS mykey nokey\r\n", b":1\r\n")
    session.exchange(b"KEYS *\n", b"*1\r\n$5\r\nmykey\r\n")
    session.exchange(b"GET nokey\r\n", b"$-1\r\n")
    session.exchange(b"PING\r\nPING\n", b"+PONG\r\n+PONG\r\n")
    session.exchange(b"  GET   mykey  \r\n", b"$11\r\nhello world\r\n")
