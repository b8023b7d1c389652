"""Reading a key as one type: the value, None if absent, WRONGTYPE if it holds another.

Handlers read collections through these and never change what they get back: the keyspace
changes a collection only by applying the mutation a handler returns, and a reply must be
built from copies (a list, a tuple), never the container itself.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tandemkv.commands.errors import WrongType
from tandemkv.storage.stream import Stream
from tandemkv.storage.zset import SortedSet

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine


def read_hash(e: Engine, key: bytes) -> dict[bytes, bytes] | None:
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is dict:
        return value
    raise WrongType()


def read_list(e: Engine, key: bytes) -> deque[bytes] | None:
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is deque:
        return value
    raise WrongType()


def read_set(e: Engine, key: bytes) -> set[bytes] | None:
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is set:
        return value
    raise WrongType()


def read_zset(e: Engine, key: bytes) -> SortedSet | None:
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is SortedSet:
        return value
    raise WrongType()


def read_stream(e: Engine, key: bytes) -> Stream | None:
    value = e.keyspace.get(key, e.now_ms)
    if value is None or type(value) is Stream:
        return value
    raise WrongType()
