"""Differential check of pub/sub: the same scripts on the engine and on a real redis-server.

parity.py's `check` reads one reply per command; pub/sub sends several (SUBSCRIBE a b
confirms each channel) and sends messages to clients that asked nothing. So these scripts
drive three clients and, after each step, compare what *every* client received during it:
on the engine, the stepping client's reply after the messages the broker's sink handed
each session; on Redis, as many complete replies read from each socket (RESP2 and RESP3
bytes decoded alike, push frames kept apart from arrays). At the end no Redis client may
hold unread bytes.

Left out: HELLO's reply (server identity) and orders Redis takes from its hash tables
(the channels UNSUBSCRIBE with no argument leaves, PUBSUB CHANNELS: compared sorted; a
client matched by two patterns: scripts avoid it).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tandemkv.commands.session import Session
from tandemkv.protocol.encoder import encode_reply
from tandemkv.protocol.types import Push

from .harness import Arg, World, to_args
from .test_pubsub import decode

pytestmark = pytest.mark.timeout(120)

# A step: the index of the client sending it (0, 1 or 2), then the command.
Step = tuple[Arg, ...]
UNCOMPARED = {b"HELLO"}
SORTED = {b"CHANNELS"}  # PUBSUB CHANNELS: hash-table order in Redis
READ_SECONDS = 2.0

SCRIPTS: dict[str, list[Step]] = {
    "confirmations and counts": [
        (0, "SUBSCRIBE", "a", "b", "a"),
        (0, "PSUBSCRIBE", "a*", "b?"),
        (0, "UNSUBSCRIBE", "a"),
        (0, "UNSUBSCRIBE", "never"),
        (0, "PUNSUBSCRIBE", "a*"),
        (0, "UNSUBSCRIBE"),
        (0, "UNSUBSCRIBE"),
        (0, "PUNSUBSCRIBE"),
        (0, "PUNSUBSCRIBE"),
        (0, "PUNSUBSCRIBE", "p", "q"),
        (0, "GET", "k"),
        (0, "SUBSCRIBE"),
        (0, "PSUBSCRIBE"),
    ],
    "subscribed mode in resp2": [
        (0, "SUBSCRIBE", "a"),
        (0, "GET", "k"),
        (0, "SET", "k", "v"),
        (0, "CLIENT", "LIST"),
        (0, "CLIENT"),
        (0, "PUBSUB", "NUMPAT"),
        (0, "PUBLISH", "a", "m"),
        (0, "MULTI"),
        (0, "HELLO", "3"),
        (0, "AUTH", "x"),
        (0, "nosuch"),
        (0, "PING"),
        (0, "PING", "hello"),
        (0, "PING", "a", "b"),
        (0, "PSUBSCRIBE", "x"),
        (0, "RESET"),
        (0, "GET", "k"),
        (1, "PSUBSCRIBE", "p*"),
        (1, "UNSUBSCRIBE"),
        (1, "ECHO", "still subscribed to a pattern"),
        (1, "PUNSUBSCRIBE"),
        (1, "ECHO", "free"),
        (2, "SUBSCRIBE", "q"),
        (2, "QUIT"),
    ],
    "messages and pattern messages": [
        (0, "SUBSCRIBE", "news.tech"),
        (1, "PSUBSCRIBE", "news.*"),
        (2, "PUBLISH", "news.tech", "hi"),
        (2, "PUBLISH", "news.sport", "goal"),
        (2, "PUBLISH", "weather", "rain"),
        (0, "PSUBSCRIBE", "*tech"),
        (2, "PUBLISH", "news.tech", "both for client 0"),
        (1, "PUNSUBSCRIBE", "news.*"),
        (2, "PUBLISH", "news.tech", "client 1 left"),
        (0, "SUBSCRIBE", b"\x00bin\r\n"),
        (2, "PUBLISH", b"\x00bin\r\n", b"\r\n*2\r\n\xff"),
        (2, "PUBLISH", "news.tech", ""),
    ],
    "resp3 subscribers": [
        (0, "HELLO", "3"),
        (0, "SUBSCRIBE", "a", "b"),
        (0, "PING"),
        (0, "GET", "k"),
        (0, "SET", "k", "v"),
        (0, "PUBLISH", "a", "to myself"),
        (0, "PSUBSCRIBE", "a*"),
        (0, "PUBLISH", "a", "twice to myself"),
        (1, "PUBLISH", "ab", "from client 1"),
        (0, "PUBSUB", "NUMSUB", "a", "b"),
        (0, "UNSUBSCRIBE", "a"),
        (0, "UNSUBSCRIBE", "b"),
        (0, "UNSUBSCRIBE"),
        (0, "PUNSUBSCRIBE"),
        (0, "PUNSUBSCRIBE"),
        (1, "SUBSCRIBE", "c"),
        (1, "HELLO", "3"),
        (1, "GET", "k"),
        (0, "PUBLISH", "c", "resp3 now"),
        (1, "HELLO", "2"),
        (1, "GET", "k"),
        (1, "RESET"),
    ],
    "pubsub introspection": [
        (0, "SUBSCRIBE", "c1"),
        (1, "SUBSCRIBE", "c1", "c2"),
        (0, "PSUBSCRIBE", "x*"),
        (1, "PSUBSCRIBE", "x*", "y*"),
        (2, "PUBSUB", "NUMPAT"),
        (2, "PUBSUB", "NUMSUB", "c1", "c2", "c3"),
        (2, "PUBSUB", "NUMSUB"),
        (2, "PUBSUB", "CHANNELS"),
        (2, "PUBSUB", "channels", "*2"),
        (2, "PUBSUB", "CHANNELS", "nothing*"),
        (2, "PUBSUB", "SHARDCHANNELS"),
        (2, "PUBSUB", "SHARDNUMSUB", "c1"),
        (2, "PUBSUB", "HELP"),
        (2, "PUBSUB", "foo"),
        (2, "PUBSUB", "NUMPAT", "x"),
        (2, "PUBSUB", "HELP", "x"),
        (2, "PUBSUB", "channels", "a", "b"),
        (2, "PUBSUB", "SHARDCHANNELS", "a", "b"),
        (2, "PUBSUB"),
        (2, "PUBLISH", "c1"),
        (1, "RESET"),
        (2, "PUBSUB", "NUMSUB", "c1", "c2"),
        (2, "PUBSUB", "NUMPAT"),
    ],
    "transactions": [
        (1, "SUBSCRIBE", "ch"),
        (0, "MULTI"),
        (0, "SET", "k", "v"),
        (0, "PUBLISH", "ch", "from exec"),
        (0, "EXEC"),
        (0, "MULTI"),
        (0, "SUBSCRIBE", "a", "b"),
        (0, "EXEC"),
        (0, "GET", "k"),
        (0, "UNSUBSCRIBE", "a"),
        (0, "UNSUBSCRIBE", "b"),
        (0, "GET", "k"),
    ],
}


# ---------------------------------------------------------------------------- the engine


def ours(script: list[Step]) -> list[list[list[object]]]:
    """Per step, what each of the three clients received."""
    world = World()
    sent: dict[int, list[bytes]] = {}

    def sink(session: Session, message: Push) -> None:
        sent.setdefault(session.id, []).append(encode_reply(message, session.resp == 3))

    world.engine.broker.sink = sink
    clients = [world.client() for _ in range(3)]
    steps = []
    for who, *args in script:
        client = clients[int(who)]
        reply = client(*args)
        received = []
        for each in clients:
            data = b"".join(sent.pop(each.session.id, []))
            if each is client:
                data += encode_reply(reply, client.session.resp == 3)
            received.append(decode(data))
        steps.append(received)
    return steps


# ---------------------------------------------------------------------------- Redis


class Reader:
    """A socket and the bytes read from it, decoded a complete reply at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=READ_SECONDS)
        self.buf = b""

    def read(self, count: int) -> list[object]:
        """`count` replies, or what arrived within the time limit (a shorter list)."""
        deadline = time.monotonic() + READ_SECONDS
        while True:
            end = _complete(self.buf, count)
            if end is not None:
                replies, self.buf = decode(self.buf[:end]), self.buf[end:]
                return replies
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._fill(remaining):
                replies, self.buf = decode(self.buf[: _complete_prefix(self.buf)]), b""
                return replies

    def leftover(self) -> bytes:
        self._fill(0.1)
        return self.buf

    def _fill(self, wait: float) -> bool:
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(1 << 16)
        except TimeoutError:
            return False
        self.buf += chunk
        return bool(chunk)


def _complete(data: bytes, count: int) -> int | None:
    """Where the first `count` complete replies of `data` end, None if they are not in."""
    end = 0
    for _ in range(count):
        try:
            end = _skip(data, end)
        except (ValueError, IndexError):
            return None
    return end


def _complete_prefix(data: bytes) -> int:
    end = 0
    while True:
        try:
            end = _skip(data, end)
        except (ValueError, IndexError):
            return end


def _skip(data: bytes, pos: int) -> int:
    """The position after the reply that starts at `pos`; ValueError if incomplete."""
    line_end = data.index(b"\r\n", pos)
    kind, rest = data[pos : pos + 1], data[pos + 1 : line_end]
    pos = line_end + 2
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return pos
        if len(data) < pos + length + 2:
            raise ValueError("incomplete bulk string")
        return pos + length + 2
    if kind in (b"*", b">", b"%"):
        for _ in range(max(0, int(rest)) * (2 if kind == b"%" else 1)):
            pos = _skip(data, pos)
    return pos


def theirs(server: object, script: list[Step], expected: list[list[list[object]]]) -> list:
    host, port = server.host, server.port  # type: ignore[attr-defined]
    steps = []
    with ExitStack() as stack:
        readers = [Reader(host, port) for _ in range(3)]
        for reader in readers:
            stack.callback(reader.sock.close)
        for (who, *args), wanted in zip(script, expected, strict=True):
            command = b"*%d\r\n" % len(args) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a), a) for a in to_args(args)
            )
            readers[int(who)].sock.sendall(command)
            steps.append(
                [
                    r.read(max(1, len(w)) if r is readers[int(who)] else len(w))
                    for r, w in zip(readers, wanted, strict=True)
                ]
            )
        leftovers = [reader.leftover() for reader in readers]
        assert leftovers == [b"", b"", b""], f"Redis sent more: {leftovers}"
    return steps


# ---------------------------------------------------------------------------- comparing


def comparable(step: Step, received: list[list[object]]) -> list[list[object]]:
    who, *args = step
    name = to_args(args[:1])[0].upper()
    mine = received[int(who)]
    if name in UNCOMPARED:
        mine = [type(reply).__name__ for reply in mine]
    elif len(args) > 1 and to_args(args[1:2])[0].upper() in SORTED and mine:
        mine = [sorted(mine[0]) if isinstance(mine[0], list) else mine[0]]
    elif name in (b"UNSUBSCRIBE", b"PUNSUBSCRIBE") and len(args) == 1:
        mine = sorted(mine, key=repr)
    return [mine if i == int(who) else r for i, r in enumerate(received)]


@pytest.fixture(autouse=True)
def redis_without_subscribers(redis_server: object) -> Iterator[None]:
    """Clients of the script before close asynchronously: wait until Redis forgot them."""
    host, port = redis_server.host, redis_server.port  # type: ignore[attr-defined]
    with socket.create_connection((host, port), timeout=READ_SECONDS) as admin:
        deadline = time.monotonic() + 5
        while True:
            admin.sendall(b"PUBSUB NUMPAT\r\nPUBSUB CHANNELS\r\n")
            time.sleep(0.02)
            if admin.recv(1 << 16) == b":0\r\n*0\r\n" or time.monotonic() > deadline:
                break
    yield


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_pubsub_replies_and_messages_like_redis(redis_server: object, name: str) -> None:
    script = SCRIPTS[name]
    mine = ours(script)
    real = theirs(redis_server, script, mine)
    diffs = [
        (step, o, r)
        for step, o, r in zip(script, mine, real, strict=True)
        if comparable(step, o) != comparable(step, r)
    ]
    assert not diffs, "\n".join(f"{s}:\n  ours={o!r}\n  redis={r!r}" for s, o, r in diffs)
