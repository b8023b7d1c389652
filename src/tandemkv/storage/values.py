"""The value types a key may hold, and how collections are cut into snapshot records.

    string  bytes
    hash    dict[bytes, bytes]            field -> value
    list    collections.deque[bytes]      head first
    set     set[bytes]
    zset    SortedSet (storage/zset.py)
    stream  Stream (storage/stream.py)

The Python type tells them apart (`type(value) is dict`), so reading one costs no tag.

A snapshot stores a collection as a first record holding up to CHUNK_ITEMS of its
elements, then continuation records with the next ones, so neither writing nor loading a
collection of a million elements builds one giant buffer. A record's payload:

    hash   (field value)*      list  item*      set  member*      zset  (score member)*
    stream format(0) last-ms last-seq entries-added max-deleted-ms max-deleted-seq
           (ms seq count (field value)*)*

byte strings varint-length-prefixed, scores as 8-byte little-endian doubles, ids and
counts as unsigned varints. Every stream chunk repeats the stream's metadata (a few bytes
per CHUNK_ITEMS entries), so a chunk reads the same whether it is the first or not and an
empty stream, which Redis keeps, is one chunk of metadata alone. The format byte is 0;
consumer groups will take another value.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterator
from enum import IntEnum
from itertools import islice
from typing import Any

from tandemkv.storage.stream import Stream
from tandemkv.storage.wire import Reader, put_bytes, put_uvarint
from tandemkv.storage.zset import SortedSet

Value = bytes | dict[bytes, bytes] | deque[bytes] | set[bytes] | SortedSet | Stream

CHUNK_ITEMS = 1024
_SCORE = struct.Struct("<d")


class ValueType(IntEnum):
    """A value's type as stored in snapshots (never renumber: files on disk hold these)."""

    STRING = 0
    HASH = 1
    LIST = 2
    SET = 3
    ZSET = 4
    STREAM = 5
    # Not a value: an ACL user in a snapshot (key its name, value its rules, see
    # storage/store.py). Users are replicated state that lives beside the keys.
    ACL_USER = 64


_TYPE_OF: dict[type, ValueType] = {
    bytes: ValueType.STRING,
    dict: ValueType.HASH,
    deque: ValueType.LIST,
    set: ValueType.SET,
    SortedSet: ValueType.ZSET,
    Stream: ValueType.STREAM,
}
_NAMES = {
    ValueType.STRING: b"string",
    ValueType.HASH: b"hash",
    ValueType.LIST: b"list",
    ValueType.SET: b"set",
    ValueType.ZSET: b"zset",
    ValueType.STREAM: b"stream",
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
    if kind is ValueType.STREAM:
        return Stream()
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
    if isinstance(value, Stream):
        yield from _stream_chunks(value)
        return
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


_STREAM_FORMAT = 0


def _stream_chunks(stream: Stream) -> Iterator[bytes]:
    header = bytearray((_STREAM_FORMAT,))
    for number in (*stream.last_id, stream.entries_added, *stream.max_deleted_id):
        put_uvarint(header, number)
    entries = iter(stream.entries.items())
    for _ in range(max(1, -(-len(stream) // CHUNK_ITEMS))):
        out = bytearray(header)
        for (ms, seq), fields in islice(entries, CHUNK_ITEMS):
            put_uvarint(out, ms)
            put_uvarint(out, seq)
            put_uvarint(out, len(fields) // 2)
            for field in fields:
                put_bytes(out, field)
        yield bytes(out)


def _load_stream_chunk(stream: Stream, reader: Reader) -> None:
    if reader.u8() != _STREAM_FORMAT:
        reader.pos -= 1
        raise reader.fail("unknown stream chunk format")
    last = (reader.uvarint(), reader.uvarint())
    added = reader.uvarint()
    stream.set_metadata(last, added, (reader.uvarint(), reader.uvarint()))
    entries = stream.entries
    while not reader.at_end():
        sid = (reader.uvarint(), reader.uvarint())
        pairs = reader.uvarint()
        if pairs == 0 or sid > last:
            raise reader.fail("a stream entry with no fields or past the last id")
        entries[sid] = tuple(reader.bytes_field() for _ in range(2 * pairs))


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
    elif type(container) is Stream:
        _load_stream_chunk(container, reader)
    else:
        raise TypeError(f"not a collection: {type(container).__name__}")
