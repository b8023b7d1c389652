"""The fuzzed server's keyspace from outside: fill it with many keys and with big and
small collections before a run, keep the collections there during it, and measure how
much data the server holds after one."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from fuzz.connection import PipelineClient
from fuzz.monitor import Target
from helpers.resp import ConnectionClosed, RawClient, RespError, encode_command

PAIRS_PER_MSET = 1000
MSETS_PER_WRITE = 10
STRLENS_PER_WRITE = 5000


def load_keys(target: Target, count: int, prefix: bytes = b"load:") -> None:
    """Keys PREFIX0..PREFIX{count-1}, each holding a short value of its own."""
    with PipelineClient(target.host, target.port, timeout=60) as conn:
        commands = []
        for start in range(0, count, PAIRS_PER_MSET):
            args: list[bytes] = [b"MSET"]
            for i in range(start, min(start + PAIRS_PER_MSET, count)):
                args += [prefix + b"%d" % i, b"value-%d" % i]
            commands.append(encode_command(*args))
        for first in range(0, len(commands), MSETS_PER_WRITE):
            chunk = commands[first : first + MSETS_PER_WRITE]
            conn.send(b"".join(chunk))
            for reply in conn.read_replies(len(chunk)):
                if isinstance(reply, RespError) or reply != "OK":
                    raise AssertionError(f"loading keys: MSET answered {reply!r}")
        dbsize = conn.call("DBSIZE")
        if not isinstance(dbsize, int) or dbsize < count:
            raise AssertionError(f"loaded {count} keys, DBSIZE says {dbsize!r}")


# What an element of a collection costs beyond its bytes, in the server's RSS: a Python
# object or two per element (docs/data-types.md: 1.4-4.5x Redis's RSS per element).
ELEMENT_OVERHEAD = 128


def held_bytes(target: Target) -> int:
    """The bytes of every key and string value the server holds (SCAN, then STRLEN), and
    of every collection's elements (read whole), plus ELEMENT_OVERHEAD an element."""
    with PipelineClient(target.host, target.port, timeout=120) as conn:
        keys: list[bytes] = []
        cursor = b"0"
        while True:
            cursor, page = conn.call("SCAN", cursor, "COUNT", "10000")
            keys += page
            if cursor == b"0":
                break
        total = sum(len(key) for key in keys)
        for first in range(0, len(keys), STRLENS_PER_WRITE):
            chunk = keys[first : first + STRLENS_PER_WRITE]
            conn.send(b"".join(encode_command("STRLEN", key) for key in chunk))
            replies = conn.read_replies(len(chunk))
            total += sum(n for n in replies if isinstance(n, int))
            for key, reply in zip(chunk, replies, strict=True):
                if isinstance(reply, RespError):  # WRONGTYPE: a collection
                    elements, size = collection_bytes(conn, key)
                    total += size + elements * ELEMENT_OVERHEAD
        return total


# ---------------------------------------------------------------- collections


@dataclass(frozen=True)
class Collection:
    """A hash, list, set, sorted set or stream a loader fills before the run."""

    key: bytes
    type: str  # as TYPE answers: hash, list, set, zset, stream
    size: int


ELEMENTS_PER_COMMAND = 1000
COMMANDS_PER_WRITE = 10
STREAM_ENTRIES_PER_WRITE = 1000
# Members are v0, v1, ...: the fuzzer's commonest strings are v0..v999 (values.py), so
# HGET, SISMEMBER, ZSCORE, LREM, LINSERT and LPOS drawn at random find them. A list holds
# v0..v999 over and over (LREM big:list 0 v7 removes a hundred), a sorted set's scores
# repeat every thousand (ties, for the lexicographic ranges), a stream's ids are 1-0,
# 2-0, ... (the fuzzer's small integers name entries).
BIG_COLLECTIONS = (
    Collection(b"big:hash", "hash", 100_000),
    Collection(b"big:list", "list", 100_000),
    Collection(b"big:set", "set", 100_000),
    Collection(b"big:zset", "zset", 100_000),
    Collection(b"big:stream", "stream", 10_000),
)
SMALL_COLLECTIONS = (
    Collection(b"small:hash", "hash", 20),
    Collection(b"small:list", "list", 20),
    Collection(b"small:set", "set", 20),
    Collection(b"small:zset", "zset", 20),
    Collection(b"small:stream", "stream", 20),
)
COLLECTIONS = BIG_COLLECTIONS + SMALL_COLLECTIONS
_LENGTH = {"hash": "HLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "stream": "XLEN"}
_READ_ALL: dict[str, tuple[str, ...]] = {
    "hash": ("HGETALL",),
    "list": ("LRANGE", "0", "-1"),
    "set": ("SMEMBERS",),
    "zset": ("ZRANGE", "0", "-1", "WITHSCORES"),
    "stream": ("XRANGE", "-", "+"),
}


def filling(collection: Collection) -> list[bytes]:
    """The encoded commands that fill `collection` (assumed absent)."""
    key, size = collection.key, collection.size
    if collection.type == "stream":
        return [
            encode_command("XADD", key, b"%d-0" % (i + 1), "field", b"v%d" % i) for i in range(size)
        ]
    commands = []
    for start in range(0, size, ELEMENTS_PER_COMMAND):
        numbers = range(start, min(start + ELEMENTS_PER_COMMAND, size))
        args: list[bytes]
        if collection.type == "hash":
            args = [b"HSET", key, *(x for i in numbers for x in (b"v%d" % i, b"%d" % i))]
        elif collection.type == "list":
            args = [b"RPUSH", key, *(b"v%d" % (i % 1000) for i in numbers)]
        elif collection.type == "set":
            args = [b"SADD", key, *(b"v%d" % i for i in numbers)]
        else:
            args = [b"ZADD", key, *(x for i in numbers for x in (b"%d" % (i % 1000), b"v%d" % i))]
        commands.append(encode_command(*args))
    return commands


def load_collections(
    target: Target, collections: Sequence[Collection] = COLLECTIONS, strict: bool = True
) -> None:
    """Fill each collection, pipelined; `strict`: every reply must be a success."""
    with PipelineClient(target.host, target.port, timeout=60) as conn:
        fill(conn, collections, strict)


def fill(conn: RawClient, collections: Sequence[Collection], strict: bool) -> None:
    for collection in collections:
        commands = filling(collection)
        step = STREAM_ENTRIES_PER_WRITE if collection.type == "stream" else COMMANDS_PER_WRITE
        for first in range(0, len(commands), step):
            chunk = commands[first : first + step]
            conn.send(b"".join(chunk))
            replies = conn.read_replies(len(chunk))
            wrong = [reply for reply in replies if isinstance(reply, RespError)]
            if strict and wrong:
                raise AssertionError(f"loading {collection.key!r}: answered {wrong[0]!r}")


class CollectionKeeper:
    """Puts back, every `period` seconds, the collections the fuzzing destroyed.

    The fuzzer deletes, renames, overwrites, trims, pops and expires the keys it draws, so a
    100k-field hash would not stay big for long; the keeper checks each collection's type
    and length and refills one that is gone, of another type, or under half its size. Its
    own connection; whatever the fuzzing does to a key in the meantime is fine (errors
    are ignored). It stops quietly if the server goes: the run reports that."""

    def __init__(self, target: Target, collections: Sequence[Collection], period: float) -> None:
        self.target, self.collections, self.period = target, list(collections), period
        self.refills = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collection-keeper", daemon=True)

    def __enter__(self) -> CollectionKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        try:
            with PipelineClient(self.target.host, self.target.port, timeout=60) as conn:
                while not self._stop.wait(self.period):
                    gone = self.destroyed(conn)
                    for collection in gone:
                        conn.call("DEL", collection.key)
                    fill(conn, gone, strict=False)
                    self.refills += len(gone)
        except (OSError, ConnectionClosed, AssertionError, ValueError) as error:
            self.error = f"{type(error).__name__}: {error}"

    def destroyed(self, conn: RawClient) -> list[Collection]:
        conn.send(
            b"".join(
                encode_command("TYPE", c.key) + encode_command(_LENGTH[c.type], c.key)
                for c in self.collections
            )
        )
        replies = conn.read_replies(2 * len(self.collections))
        return [
            c
            for c, kind, length in zip(self.collections, replies[::2], replies[1::2], strict=True)
            if kind != c.type or not isinstance(length, int) or length < c.size // 2
        ]


def collection_bytes(conn: RawClient, key: bytes) -> tuple[int, int]:
    """A non-string key's elements and their bytes (0, 0 for a string or a missing key)."""
    kind = conn.call("TYPE", key)
    if kind not in _READ_ALL:
        return 0, 0
    name, *rest = _READ_ALL[kind]
    reply = conn.call(name, key, *rest)
    return _elements(reply)


def _elements(reply: object) -> tuple[int, int]:
    if isinstance(reply, bytes):
        return 1, len(reply)
    if isinstance(reply, list):
        counts = [_elements(item) for item in reply]
        return sum(n for n, _ in counts), sum(b for _, b in counts)
    if isinstance(reply, dict):
        return _elements([x for pair in reply.items() for x in pair])
    return 0, 0
