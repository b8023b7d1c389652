"""The seed README's text protocol, typed over a plain TCP socket as with nc.

PUT / DELETE / bare KEYS are tandemkv aliases (SET / DEL / KEYS *); GET and inline
commands in general are Redis behaviour and run against both targets. An inline PUT takes
the rest of its line as the value, as the seed did (protocol/inline.py).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from helpers.resp import RespError
from helpers.servers import ServerProcess
from tandemkv.protocol import ProtocolError, split_inline


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


# ------------------------------------------------ PUT's value is the rest of the line


@pytest.mark.tandemkv_only("PUT is the seed's command name")
@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf-as-nc-sends"])
def test_seed_put_takes_the_rest_of_the_line_as_its_value(session: LineSession, eol: bytes) -> None:
    """In the seed `PUT <key> <value>` stored the rest of the line; so does an inline PUT."""
    session.exchange(b"PUT mykey hello world" + eol, b"+OK\r\n")
    session.exchange(b"GET mykey" + eol, b"$11\r\nhello world\r\n")
    session.exchange(b"put greeting   two  spaces inside  " + eol, b"+OK\r\n")
    session.exchange(b"GET greeting" + eol, b"$18\r\ntwo  spaces inside\r\n")
    session.exchange(b"PUT note it's not quoting" + eol, b"+OK\r\n")
    session.exchange(b"GET note" + eol, b"$16\r\nit's not quoting\r\n")
    session.exchange(b'PUT q say "hi" now' + eol, b"+OK\r\n")
    session.exchange(b"GET q" + eol, b'$12\r\nsay "hi" now\r\n')
    session.exchange(b'PUT "my key" a b' + eol, b"+OK\r\n")
    session.exchange(b'GET "my key"' + eol, b"$3\r\na b\r\n")


@pytest.mark.tandemkv_only("PUT is the seed's command name")
def test_seed_put_with_words_after_the_value_stores_them_not_options(
    session: LineSession,
) -> None:
    """The seed had no options, so `PUT k v EX 10` stores "v EX 10"; SET takes options."""
    session.exchange(b"PUT k v EX 10\r\n", b"+OK\r\n")
    session.exchange(b"GET k\r\n", b"$7\r\nv EX 10\r\n")
    session.exchange(b"TTL k\r\n", b":-1\r\n")
    session.exchange(b"SET k v EX 100\r\n", b"+OK\r\n")
    session.exchange(b"TTL k\r\n", b":100\r\n")
    session.exchange(b"PUT k\r\n", b"-ERR wrong number of arguments for 'put' command\r\n")


@pytest.mark.tandemkv_only("PUT is the seed's command name")
def test_multibulk_put_is_set_with_its_options(server: ServerProcess) -> None:
    """Only the inline line keeps the seed's rule: over RESP, PUT is SET, arguments and all."""
    with server.raw() as conn:
        assert conn.call("PUT", "k", "a", "b") == RespError("ERR syntax error")
        assert conn.call("PUT", "k", "v", "EX", 100) == "OK"
        assert conn.call("TTL", "k") == 100


def test_inline_set_with_extra_words_is_a_syntax_error_as_in_redis(session: LineSession) -> None:
    session.exchange(b"SET k hello world\r\n", b"-ERR syntax error\r\n")
    session.exchange(b"GET k\r\n", b"$-1\r\n")


def test_split_inline_put_rules() -> None:
    """The rule itself, without a server (protocol/inline.py)."""
    assert split_inline(b"PUT k a b") == [b"PUT", b"k", b"a b"]
    assert split_inline(b"PUT k 'a b'") == [b"PUT", b"k", b"a b"]  # one argument: quoting
    assert split_inline(b'PUT k "a b" c') == [b"PUT", b"k", b'"a b" c']  # more: as typed
    assert split_inline(b'PUT k "open') == [b"PUT", b"k", b'"open']
    assert split_inline(b"  pUt\tk\ta\tb \t") == [b"pUt", b"k", b"a\tb"]
    assert split_inline(b"PUT k") == [b"PUT", b"k"]
    assert split_inline(b"PUT") == [b"PUT"]
    assert split_inline(b"PUTS k a b") == [b"PUTS", b"k", b"a", b"b"]
    assert split_inline(b"SET k a b") == [b"SET", b"k", b"a", b"b"]
    assert split_inline(b"PUT k a\x00b c") == [b"PUT", b"k", b"a"]  # NUL ends the line
    with pytest.raises(ProtocolError):
        split_inline(b'PUT "k a b')  # the key's quoting still applies
