"""Differential check of the list commands: the same scripts on the engine and on a real
redis-server (see parity.py), and the exact bytes of replies whose shape differs between
RESP2 and RESP3 (the shared machinery decodes both null kinds to None)."""

from __future__ import annotations

import socket
import time

import pytest

from tandemkv.protocol.encoder import encode_reply

from .harness import Arg, World
from .parity import INT64_MAX, INT64_MIN, Other, Step, check

pytestmark = pytest.mark.timeout(120)

TOO_BIG = str(2**63)

SCRIPTS: dict[str, list[Step]] = {
    "push and pop": [
        ("RPUSH", "l", "a", "b", "c"),
        ("LPUSH", "l", "x", "y"),
        ("LRANGE", "l", 0, -1),
        ("LPUSHX", "nope", "a"),
        ("RPUSHX", "nope", "a"),
        ("RPUSHX", "l", "z"),
        ("LPUSHX", "l", "w", "v"),
        ("LLEN", "l"),
        ("LPOP", "l"),
        ("RPOP", "l"),
        ("LPOP", "l", 2),
        ("RPOP", "l", 0),
        ("RPOP", "l", 2),
        ("LPOP", "l", 10),
        ("EXISTS", "l"),
        ("LPOP", "l"),
        ("LPOP", "l", 0),
        ("LPOP", "l", 3),
        ("LPOP", "l", -1),
        ("LPOP", "l", "x"),
        ("LPOP", "l", TOO_BIG),
        ("LPOP", "l", 1, 2),
        ("RPOP", "l", 1, 2),
        ("LPUSH", "l"),
        ("RPUSHX", "l"),
        ("LLEN", "l", "x"),
        ("RPUSH", "l", "a"),
        ("LPOP", "l", INT64_MAX),
    ],
    "wrong types": [
        ("SET", "s", "v"),
        ("RPUSH", "l", "a"),
        ("LPUSH", "s", "a"),
        ("RPUSHX", "s", "a"),
        ("LPOP", "s"),
        ("LPOP", "s", 0),
        ("LLEN", "s"),
        ("LRANGE", "s", 0, -1),
        ("LRANGE", "s", "x", -1),
        ("LINDEX", "s", "x"),
        ("LSET", "s", "x", "v"),
        ("LREM", "s", 0, "v"),
        ("LREM", "s", "x", "v"),
        ("LTRIM", "s", 0, 1),
        ("LINSERT", "s", "BEFORE", "a", "b"),
        ("LINSERT", "s", "UP", "a", "b"),
        ("LPOS", "s", "a"),
        ("LPOS", "s", "a", "RANK", 0),
        ("LMOVE", "s", "l", "LEFT", "LEFT"),
        ("LMOVE", "l", "s", "LEFT", "LEFT"),
        ("LMOVE", "nope", "s", "LEFT", "LEFT"),
        ("RPOPLPUSH", "l", "s"),
        ("LMPOP", 2, "nope", "s", "LEFT"),
        ("LMPOP", 2, "l", "s", "LEFT"),
        ("LMPOP", 1, "s", "LEFT", "COUNT", 0),
        ("GET", "s"),
        ("TYPE", "l"),
    ],
    "ranges and indexes": [
        ("RPUSH", "l", "a", "b", "c", "d", "e"),
        ("LRANGE", "l", 0, -1),
        ("LRANGE", "l", 1, 3),
        ("LRANGE", "l", -2, -1),
        ("LRANGE", "l", -100, 1),
        ("LRANGE", "l", 3, 100),
        ("LRANGE", "l", 5, 10),
        ("LRANGE", "l", 3, 1),
        ("LRANGE", "l", -1, -2),
        ("LRANGE", "l", INT64_MIN, INT64_MAX),
        ("LRANGE", "l", "x", 1),
        ("LRANGE", "l", 0, TOO_BIG),
        ("LRANGE", "nope", 0, -1),
        ("LRANGE", "nope", "x", -1),
        ("LINDEX", "l", 0),
        ("LINDEX", "l", -1),
        ("LINDEX", "l", 5),
        ("LINDEX", "l", -6),
        ("LINDEX", "l", "x"),
        ("LINDEX", "nope", "x"),
        ("LINDEX", "nope", 0),
        ("LSET", "l", 0, "A"),
        ("LSET", "l", -1, "E"),
        ("LSET", "l", 5, "x"),
        ("LSET", "l", -6, "x"),
        ("LSET", "l", "x", "x"),
        ("LSET", "nope", 0, "x"),
        ("LSET", "nope", "x", "x"),
        ("LRANGE", "l", 0, -1),
    ],
    "ltrim": [
        ("RPUSH", "l", "a", "b", "c", "d", "e"),
        ("LTRIM", "l", 0, -1),
        ("LTRIM", "l", 1, -2),
        ("LRANGE", "l", 0, -1),
        ("LTRIM", "l", -100, 100),
        ("LTRIM", "l", "x", 1),
        ("LTRIM", "nope", "x", 1),
        ("LTRIM", "nope", 0, 1),
        ("EXPIRE", "l", 100),
        ("LTRIM", "l", 1, 1),
        ("TTL", "l"),
        ("LRANGE", "l", 0, -1),
        ("LTRIM", "l", 2, 1),
        ("EXISTS", "l"),
        ("RPUSH", "l", "a", "b"),
        ("TTL", "l"),
        ("LTRIM", "l", 5, 10),
        ("EXISTS", "l"),
    ],
    "lrem and linsert": [
        ("RPUSH", "l", "a", "x", "a", "x", "a", "x", "a"),
        ("LREM", "l", 2, "a"),
        ("LRANGE", "l", 0, -1),
        ("LREM", "l", -1, "a"),
        ("LRANGE", "l", 0, -1),
        ("LREM", "l", 0, "x"),
        ("LREM", "l", 0, "zz"),
        ("LREM", "l", INT64_MIN, "a"),
        ("EXISTS", "l"),
        ("LREM", "nope", 1, "a"),
        ("LREM", "nope", "x", "a"),
        ("RPUSH", "l", "p", "b", "p"),
        ("LINSERT", "l", "before", "p", "x"),
        ("LINSERT", "l", "AFTER", "p", "y"),
        ("LINSERT", "l", "After", "b", "z"),
        ("LRANGE", "l", 0, -1),
        ("LINSERT", "l", "BEFORE", "zz", "w"),
        ("LINSERT", "nope", "BEFORE", "a", "w"),
        ("LINSERT", "l", "MIDDLE", "p", "w"),
        ("LINSERT", "nope", "MIDDLE", "p", "w"),
        ("LINSERT", "l", "BEFORE", "p"),
    ],
    "lpos": [
        ("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"),
        ("LPOS", "l", "a"),
        ("LPOS", "l", "b"),
        ("LPOS", "l", "z"),
        ("LPOS", "l", "a", "RANK", 2),
        ("LPOS", "l", "a", "RANK", -1),
        ("LPOS", "l", "a", "RANK", -3),
        ("LPOS", "l", "a", "RANK", 9),
        ("LPOS", "l", "a", "COUNT", 0),
        ("LPOS", "l", "a", "COUNT", 2),
        ("LPOS", "l", "a", "COUNT", 2, "RANK", -2),
        ("LPOS", "l", "a", "COUNT", 0, "MAXLEN", 3),
        ("LPOS", "l", "a", "RANK", -1, "MAXLEN", 2, "COUNT", 0),
        ("LPOS", "l", "a", "MAXLEN", 0),
        ("LPOS", "l", "z", "COUNT", 1),
        ("LPOS", "l", "a", "rank", 1, "RANK", 3),
        ("LPOS", "l", "a", "count", 1, "COUNT", 0),
        ("LPOS", "l", "a", "RANK", INT64_MIN),
        ("LPOS", "l", "a", "RANK", INT64_MIN, "COUNT", 0),
        ("LPOS", "l", "a", "RANK", -(2**63) + 1, "COUNT", 0),
        ("LPOS", "l", "a", "RANK", INT64_MAX),
        ("LPOS", "l", "a", "RANK", 0),
        ("LPOS", "l", "a", "RANK", "x"),
        ("LPOS", "l", "a", "COUNT", -1),
        ("LPOS", "l", "a", "COUNT", "x"),
        ("LPOS", "l", "a", "COUNT", TOO_BIG),
        ("LPOS", "l", "a", "MAXLEN", -1),
        ("LPOS", "l", "a", "MAXLEN", "x"),
        ("LPOS", "l", "a", "RANK"),
        ("LPOS", "l", "a", "FOO", 1),
        ("LPOS", "l", "a", "COUNT", -1, "RANK", 0),
        ("LPOS", "l", "a", "RANK", 0, "COUNT", -1),
        ("LPOS", "nope", "a"),
        ("LPOS", "nope", "a", "COUNT", 0),
        ("LPOS", "l"),
    ],
    "lmove and rpoplpush": [
        ("RPUSH", "src", "a", "b", "c"),
        ("RPUSH", "dst", "x"),
        ("LMOVE", "src", "dst", "LEFT", "LEFT"),
        ("LMOVE", "src", "dst", "left", "right"),
        ("LRANGE", "dst", 0, -1),
        ("RPOPLPUSH", "src", "dst"),
        ("EXISTS", "src"),
        ("LMOVE", "src", "dst", "LEFT", "LEFT"),
        ("RPOPLPUSH", "src", "dst"),
        ("LMOVE", "dst", "dst", "LEFT", "RIGHT"),
        ("LRANGE", "dst", 0, -1),
        ("LMOVE", "dst", "dst", "RIGHT", "LEFT"),
        ("LMOVE", "dst", "dst", "RIGHT", "RIGHT"),
        ("RPOPLPUSH", "dst", "dst"),
        ("LRANGE", "dst", 0, -1),
        ("LMOVE", "dst", "new", "RIGHT", "LEFT"),
        ("LRANGE", "new", 0, -1),
        ("RPUSH", "one", "a"),
        ("EXPIRE", "one", 100),
        ("LMOVE", "one", "one", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "one", "one"),
        ("TTL", "one"),
        ("LMOVE", "dst", "new", "UP", "LEFT"),
        ("LMOVE", "dst", "new", "LEFT", "DOWN"),
        ("LMOVE", "dst", "new", "LEFT"),
        ("RPOPLPUSH", "dst"),
        ("LMOVE", "one", "gone", "LEFT", "LEFT"),
        ("TTL", "one"),
        ("TTL", "gone"),
    ],
    "lmpop": [
        ("RPUSH", "second", "a", "b", "c", "d"),
        ("LMPOP", 2, "first", "second", "LEFT"),
        ("LMPOP", 2, "first", "second", "right", "count", 2),
        ("LMPOP", 1, "second", "LEFT", "COUNT", 10),
        ("LMPOP", 2, "first", "second", "LEFT"),
        ("EXISTS", "second"),
        ("RPUSH", "l", "a"),
        ("LMPOP", 0, "l", "LEFT"),
        ("LMPOP", -1, "l", "LEFT"),
        ("LMPOP", "x", "l", "LEFT"),
        ("LMPOP", TOO_BIG, "l", "LEFT"),
        ("LMPOP", 2, "l", "LEFT"),
        ("LMPOP", 3, "l", "LEFT"),
        ("LMPOP", INT64_MAX, "l", "LEFT"),
        ("LMPOP", 1, "l", "MIDDLE"),
        ("LMPOP", 1, "l", "LEFT", "COUNT"),
        ("LMPOP", 1, "l", "LEFT", "COUNT", 0),
        ("LMPOP", 1, "l", "LEFT", "COUNT", -1),
        ("LMPOP", 1, "l", "LEFT", "COUNT", "x"),
        ("LMPOP", 1, "l", "LEFT", "COUNT", TOO_BIG),
        ("LMPOP", 1, "l", "LEFT", "COUNT", 1, "COUNT", 1),
        ("LMPOP", 1, "l", "LEFT", "extra"),
        ("LMPOP", 1, "l"),
        ("LMPOP", 1),
        ("LLEN", "l"),
        ("LMPOP", 1, "l", "RIGHT", "COUNT", INT64_MAX),
    ],
    "watch and multi": [
        ("RPUSH", "l", "a"),
        ("WATCH", "l"),
        Other("LMOVE", "l", "l", "LEFT", "LEFT"),
        ("MULTI",),
        ("LLEN", "l"),
        ("EXEC",),
        ("WATCH", "l"),
        Other("LREM", "l", 0, "zz"),
        Other("LPOP", "l", 0),
        Other("LINSERT", "l", "BEFORE", "zz", "x"),
        Other("LPUSHX", "nope", "x"),
        Other("LTRIM", "nope", 0, 1),
        ("MULTI",),
        ("LLEN", "l"),
        ("EXEC",),
        ("WATCH", "l"),
        Other("LTRIM", "l", 0, -1),  # keeps every item, yet a change for WATCH
        ("MULTI",),
        ("LLEN", "l"),
        ("EXEC",),
        ("MULTI",),
        ("RPUSH", "l", "b", "c"),
        ("LPOS", "l", "c"),
        ("LSET", "l", 9, "x"),
        ("LPOP", "l", 2),
        ("LMPOP", 1, "l", "LEFT", "COUNT", 0),
        ("EXEC",),
        ("LRANGE", "l", 0, -1),
    ],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_list_commands_reply_like_redis(redis_server: object, name: str) -> None:
    check(redis_server, SCRIPTS[name])


# ------------------------------------------------------------- exact bytes, both protocols

SHAPES: list[tuple[Arg, ...]] = [
    ("RPUSH", "l", "a", "b", "a"),
    ("LPOP", "nope"),
    ("LPOP", "nope", 0),
    ("LPOP", "nope", 2),
    ("LPOP", "l", 0),
    ("RPOP", "l", 1),
    ("LPOS", "l", "zz"),
    ("LPOS", "l", "zz", "COUNT", 0),
    ("LPOS", "nope", "zz", "COUNT", 2),
    ("LPOS", "l", "a", "COUNT", 0),
    ("LINDEX", "l", 9),
    ("LINDEX", "l", 0),
    ("LMOVE", "nope", "x", "LEFT", "LEFT"),
    ("RPOPLPUSH", "nope", "x"),
    ("LMPOP", 1, "nope", "LEFT"),
    ("LMPOP", 2, "nope", "l", "LEFT", "COUNT", 1),
    ("LRANGE", "nope", 0, -1),
    ("LSET", "l", 0, "v"),
    ("LTRIM", "l", 5, 9),
    ("LPOP", "l", 1),
    ("LPOP", "l"),
]
END = b"$9\r\nend-reply\r\n"


def redis_bytes(server: object, proto: int, script: list[tuple[Arg, ...]]) -> list[bytes]:
    """Each reply's exact bytes from the real server, each command followed by an ECHO
    whose known reply marks where the command's reply ends."""
    host, port = server.host, server.port  # type: ignore[attr-defined]
    replies = []
    with socket.create_connection((host, port), timeout=5) as sock:
        for args in [("FLUSHALL",), ("HELLO", proto), *script]:
            sock.sendall(command_bytes(args) + command_bytes(("ECHO", "end-reply")))
            data = b""
            deadline = time.monotonic() + 5
            while not data.endswith(END) and time.monotonic() < deadline:
                data += sock.recv(65536)
            assert data.endswith(END), data
            replies.append(data[: -len(END)])
    return replies[2:]


def command_bytes(args: tuple[Arg, ...]) -> bytes:
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


@pytest.mark.parametrize("proto", [2, 3])
def test_reply_shapes_are_byte_exact(redis_server: object, proto: int) -> None:
    world = World()
    c = world.client()
    c("HELLO", proto)
    ours = [encode_reply(c(*args), proto == 3) for args in SHAPES]
    theirs = redis_bytes(redis_server, proto, SHAPES)
    diffs = [(a, o, t) for a, o, t in zip(SHAPES, ours, theirs, strict=True) if o != t]
    assert not diffs, "\n".join(f"{a}: ours={o!r} redis={t!r}" for a, o, t in diffs)
