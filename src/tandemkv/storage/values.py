"""The value types a key may hold, and how collections are cut into snapshot records.

    string  bytes
    hash    dict[bytes, bytes]            field -> value
    list    collections.deque[bytes]      head first
    set     set[bytes]
    zset    SortedSet (storage/zset.py)

The Python type tells them apart (`type(value) is dict`), so reading one costs no tag.

A snapshot stores a collection as a first record holding up to CHUNK_ITEMS of its
elements, then continuation records with the next ones, so neither writing nor loading a
collection of a million elements builds one giant buffer. A record's payload:

    hash   (field value)*      list  item*      set  member*      zset  (score member)*

byte strings varint-length-prefixed, scores as 8-byte little-endian doubles.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterator
from enum import IntEnum
from itertools import islice
from typing import Any

from tandemkv.storage.wire import Reader, put_bytes
from tandemkv.storage.zset import SortedSet

Value = bytes | dict[bytes, bytes] | deque[bytes] | set[bytes] | SortedSet

CHUNK_ITEMS = 1024
_SCORE = struct.Struct("<d")


class ValueType(IntEnum):
    """A value's type as stored in snapshots (never renumber: files on disk hold these)."""

    STRING = 0
    HASH = 1
    LIST = 2
    SET = 3
    ZSET = 4


_TYPE_OF: dict[type, ValueType] = {
    bytes: ValueType.STRING,
    dict: ValueType.HASH,
    deque: ValueType.LIST,
    set: ValueType.SET,
    SortedSet: ValueType.ZSET,
}
_NAMES = {
    ValueType.STRING: b"string",
    ValueType.HASH: b"hash",
    ValueType.LIST: b"list",
    ValueType.SET: b"set",
    ValueType.ZSET: b"zset",
}


def value_type(value: Value) -> ValueType:
    return _TYPE_OF[type(value)]


def type_name(value: Value | None) -> bytes:
    """TYPE's answer: b"string", b"hash"... or b"none"."""
    if value is None:
        return b"none"
    return _NAMES[_TYPE_OF[type(value)]]


def empty(kind: ValueType) -> Value:
    if kind is ValueType.HASH:
        return {}
    if kind is ValueType.LIST:
        return deque()
    if kind is ValueType.SET:
        return set()
    if kind is ValueType.ZSET:
        return SortedSet()
    raise ValueError(f"{kind.name} is not a collection")


def copy_value(value: Value) -> Value:
    """An independent copy (COPY): collections are mutable, strings are not."""
    if isinstance(value, bytes):
        return value
    return value.copy()  # shallow is enough: the elements are bytes (and floats)


def element_count(value: Value) -> int:
    """How many elements (1 for a string): what deleting or copying it costs."""
    return 1 if type(value) is bytes else len(value)


# ------------------------------------------------------------- snapshot chunks


def encode_chunks(value: Value) -> Iterator[bytes]:
    """A collection's elements as snapshot payloads of at most CHUNK_ITEMS each (at least
    one, empty for an empty collection, which the keyspace never holds anyway)."""
    put: Callable[[bytearray, Any], None]
    if type(value) is dict:
        elements: Iterator[Any] = iter(value.items())
        put = _put_pair
    elif isinstance(value, SortedSet):
        elements, put = iter(value), _put_scored
    else:
        elements, put = iter(value), put_bytes
    for _ in range(max(1, -(-len(value) // CHUNK_ITEMS))):
        out = bytearray()
        for element in islice(elements, CHUNK_ITEMS):
            put(out, element)
        yield bytes(out)


def _put_pair(out: bytearray, pair: tuple[bytes, bytes]) -> None:
    put_bytes(out, pair[0])
    put_bytes(out, pair[1])


def _put_scored(out: bytearray, pair: tuple[float, bytes]) -> None:
    out += _SCORE.pack(pair[0])
    put_bytes(out, pair[1])


def load_chunk(container: Value, payload: bytes) -> None:
    """Add a snapshot payload's elements to `container` (made by `empty`). Raises
    MutationDecodeError (through Reader) if the payload is malformed."""
    reader = Reader(payload)
    if type(container) is dict:
        while not reader.at_end():
            field = reader.bytes_field()
            container[field] = reader.bytes_field()
    elif type(container) is deque:
        while not reader.at_end():
            container.append(reader.bytes_field())
    elif type(container) is set:
        while not reader.at_end():
            container.add(reader.bytes_field())
    elif isinstance(container, SortedSet):
        while not reader.at_end():
            (score,) = _SCORE.unpack(reader.take(8))
            container.add(reader.bytes_field(), score)
    else:
        raise TypeError(f"not a collection: {type(container).__name__}")
