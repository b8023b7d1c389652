"""Reply values to RESP bytes, for RESP2 and RESP3 clients.

The value vocabulary is described in `tandemkv.protocol.types`. Encoding dispatches on the
exact type through a dict (subclasses such as an IntEnum are resolved once through their
MRO, so bool is never taken for int), and the replies a server sends most (+OK, small
integers, bulk headers, null) come from tables built at import time.

A plain `str` is accepted as a convenience and sent as a UTF-8 bulk string; a status reply
must be a `SimpleString`. Error and status texts have CR and LF replaced by spaces, as
Redis does for errors, so a reply can never break the framing. Text is encoded as UTF-8
with surrogateescape, so raw bytes decoded that way (e.g. a byte echoed in a protocol
error) go out unchanged; any other lone surrogate is sent backslash-escaped.

Doubles are formatted as Redis 7.0 does (`%.17g`; `inf`, `-inf`, `nan`): a bulk string in
RESP2, a `,` double in RESP3. Redis 7.2 switched to the shortest round-trip form.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, Final

from tandemkv.protocol.types import (
    OK,
    BigNumber,
    Encoded,
    EncodedParts,
    ErrorReply,
    NullArrayType,
    Push,
    SetReply,
    SimpleString,
    Verbatim,
)

Encoder = Callable[[Any], bytes]

CRLF: Final = b"\r\n"
_TABLE_SIZE: Final = 1024
_BULK_HEADERS: Final = tuple(b"$%d\r\n" % n for n in range(_TABLE_SIZE))
_INTEGERS: Final = tuple(b":%d\r\n" % n for n in range(-1, _TABLE_SIZE - 1))
_AGGREGATE_HEADERS: Final = {
    prefix: tuple(prefix + b"%d\r\n" % n for n in range(_TABLE_SIZE))
    for prefix in (b"*", b"%", b"~", b">")
}
_OK: Final = b"+OK\r\n"
_SIMPLE_CACHE_LIMIT: Final = 512
_simple_cache: Final[dict[str, bytes]] = {"OK": _OK}


def encode_reply(value: object, resp3: bool) -> bytes:
    """One reply value as RESP bytes. Raises TypeError for a value outside the vocabulary."""
    # The commonest replies first: +OK, a bulk string (GET), a small integer (INCR, DEL).
    if value is OK:
        return _OK
    if type(value) is bytes:
        return _bulk(value)
    if type(value) is int and -1 <= value < _TABLE_SIZE - 1:
        return _INTEGERS[value + 1]
    table = _RESP3 if resp3 else _RESP2
    encode = table.get(type(value))
    if encode is None:
        encode = _resolve(table, type(value))
    return encode(value)


def encode_replies(values: Iterable[object], resp3: bool) -> bytes:
    """The replies of a pipeline batch, concatenated."""
    return b"".join([encode_reply(value, resp3) for value in values])


# Items of a long array encoded per step of encode_in_slices: a few milliseconds.
ENCODE_SLICE: Final = 20_000
# ...and bytes per step, whatever the items' count: 20,000 members of 64 KiB are 1.3 GB,
# a second or more of copying in one step. 4 MiB is copied in about a millisecond, the
# same order as ENCODE_SLICE small items, and is also the size of the parts a long reply
# is written in: a gigabyte takes 256 steps, each a turn of the loop, and the parts list
# costs nothing next to them. (One item is never split: a step can pass the budget by one
# bulk string, or by one short nested array, see _INLINE_MAX.)
ENCODE_BYTES: Final = 4 * 1024 * 1024
# A nested array (EXEC's reply holding KEYS or SRANDMEMBER replies) with more items than
# this is encoded item by item within the steps; a shorter one (an XRANGE entry, a
# WITHVALUES pair) is encoded whole as one item, counted with its length: a generator per
# tiny array would cost more than its encoding, and sizing each first 40% more.
_INLINE_MAX: Final = 16
# The values encode_in_slices may slice: arrays, sets and maps.
SLICED_TYPES: Final = (list, dict, SetReply)


def encode_in_slices(value: object, resp3: bool) -> Generator[None, None, object]:
    """`value`, or for a long array, set or map its encoding (EncodedParts) made about
    ENCODE_SLICE items or ENCODE_BYTES bytes per step: a sliced command's reply is encoded
    between other clients' turns too. Arrays inside count by their length (EXEC's reply
    holding many KEYS replies)."""
    if type(value) not in SLICED_TYPES:
        return value
    if _item_count(value) <= ENCODE_SLICE and reply_size(value) <= ENCODE_BYTES:
        return value
    out = _Output()
    header, items = _aggregate(value, resp3)
    yield from _encode_items(out, header, items, resp3)
    return EncodedParts(out.finish())


def reply_size(value: object) -> int:
    """About how many bytes `value` takes once encoded: the length of its strings, 8 for
    anything else, headers not counted. What a hard output limit is checked against before
    a reply is built (server/connection.py, server/sliced.py)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return _items_size(value)  # type: ignore[arg-type]
    if kind is dict:
        mapping: dict[object, object] = value  # type: ignore[assignment]
        return _items_size(mapping.keys()) + _items_size(mapping.values())
    if kind is SetReply or kind is Push:
        return _items_size(value.items)  # type: ignore[attr-defined]
    if kind is bytes or kind is str:
        return len(value)  # type: ignore[arg-type]
    if kind is Encoded:
        return len(value.data)  # type: ignore[attr-defined]
    return 8


def _items_size(items: Iterable[object]) -> int:
    # Bulk strings (MGET, SRANDMEMBER) need no call: a million items in about 40 ms pure.
    return sum([len(item) if type(item) is bytes else reply_size(item) for item in items])


def _item_count(value: object) -> int:
    """The items of an array, set or map, those of arrays inside included."""
    if type(value) is SetReply:
        return len(value.items)
    if type(value) is dict:
        return 2 * len(value)
    items: list[object] = value  # type: ignore[assignment]
    return len(items) + sum([len(item) for item in items if type(item) is list])


def _aggregate(value: object, resp3: bool) -> tuple[bytes, Sequence[object]]:
    """The header and the items of an array, a set (`~` in RESP3, an array in RESP2) or a
    map (`%` in RESP3, a flat array in RESP2)."""
    if type(value) is SetReply:
        items: Sequence[object] = value.items
        return _aggregate_header(b"~" if resp3 else b"*", len(items)), items
    if type(value) is dict:
        mapping: dict[object, object] = value
        flat = [x for pair in mapping.items() for x in pair]
        header = _aggregate_header(b"%", len(mapping)) if resp3 else array_header(len(flat))
        return header, flat
    items = value  # type: ignore[assignment]
    return array_header(len(items)), items


class _Output:
    """The parts of a reply being encoded, and what the current step has added so far."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.chunk: list[bytes] = []  # encoded items not yet joined into a part
        self.spent = 0  # bytes of the current step
        self.count = 0  # items of the current step

    def cut(self) -> None:
        """End the step: its items become one part."""
        chunk = self.chunk
        if chunk:
            self.parts.append(chunk[0] if len(chunk) == 1 else b"".join(chunk))
            self.chunk = []
        self.spent = self.count = 0

    def finish(self) -> tuple[bytes, ...]:
        self.cut()
        return tuple(self.parts)


def _encode_items(
    out: _Output, header: bytes, items: Sequence[object], resp3: bool
) -> Generator[None, None, None]:
    out.chunk.append(header)
    out.spent += len(header)
    for item in items:
        kind = type(item)
        if kind in SLICED_TYPES and _length(item) > _INLINE_MAX:
            inner_header, inner_items = _aggregate(item, resp3)
            yield from _encode_items(out, inner_header, inner_items, resp3)
            continue
        data = encode_reply(item, resp3)
        out.chunk.append(data)
        out.spent += len(data)
        out.count += 1 + len(item) if kind is list else 1  # type: ignore[arg-type]
        if out.count >= ENCODE_SLICE or out.spent >= ENCODE_BYTES:
            out.cut()
            yield


def _length(value: object) -> int:
    if type(value) is SetReply:
        return len(value.items)
    return len(value)  # type: ignore[arg-type]


def array_header(count: int) -> bytes:
    """The header of an array of `count` items (the same in RESP2 and RESP3)."""
    return _aggregate_header(b"*", count)


def _resolve(table: dict[type, Encoder], cls: type) -> Encoder:
    for base in cls.__mro__[1:]:
        encode = table.get(base)
        if encode is not None:
            table[cls] = encode
            return encode
    raise TypeError(f"cannot encode a {cls.__qualname__} as a RESP reply")


# ---------------------------------------------------------------------- scalars, both versions


def _bulk(value: bytes) -> bytes:
    size = len(value)
    if size < _TABLE_SIZE:
        return _BULK_HEADERS[size] + value + CRLF
    return b"".join((b"$%d\r\n" % size, value, CRLF))


def _bulk_buffer(value: bytearray | memoryview) -> bytes:
    return _bulk(bytes(value))


def _bulk_text(value: str) -> bytes:
    return _bulk(_utf8(value))


def _integer(value: int) -> bytes:
    if -1 <= value < _TABLE_SIZE - 1:
        return _INTEGERS[value + 1]
    return b":%d\r\n" % value


def _simple(value: str) -> bytes:
    encoded = _simple_cache.get(value)
    if encoded is None:
        encoded = b"+" + _line_text(value) + CRLF
        if len(_simple_cache) < _SIMPLE_CACHE_LIMIT:
            _simple_cache[str(value)] = encoded
    return encoded


def _error(value: ErrorReply) -> bytes:
    return b"-" + _line_text(value.message) + CRLF


def _line_text(text: str) -> bytes:
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return _utf8(text)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate that no byte decoded to: still send a reply rather than fail.
        return text.encode("utf-8", "backslashreplace")


def _double_text(value: float) -> bytes:
    return b"%.17g" % value


# ---------------------------------------------------------------------- RESP2


def _encode2(value: object) -> bytes:
    if type(value) is bytes:
        return _bulk(value)
    encode = _RESP2.get(type(value))
    if encode is None:
        encode = _resolve(_RESP2, type(value))
    return encode(value)


def _array2(items: list[object] | tuple[object, ...]) -> bytes:
    return _aggregate_header(b"*", len(items)) + b"".join([_encode2(item) for item in items])


def _map2(value: dict[object, object]) -> bytes:
    parts = [_aggregate_header(b"*", 2 * len(value))]
    for key, item in value.items():
        parts.append(_encode2(key))
        parts.append(_encode2(item))
    return b"".join(parts)


_RESP2: Final[dict[type, Encoder]] = {
    bytes: _bulk,
    bytearray: _bulk_buffer,
    memoryview: _bulk_buffer,
    str: _bulk_text,
    int: _integer,
    bool: lambda value: _INTEGERS[2] if value else _INTEGERS[1],
    type(None): lambda _: b"$-1\r\n",
    NullArrayType: lambda _: b"*-1\r\n",
    list: _array2,
    tuple: _array2,
    dict: _map2,
    float: lambda value: _bulk(_double_text(value)),
    SimpleString: _simple,
    ErrorReply: _error,
    SetReply: lambda value: _array2(value.items),
    Push: lambda value: _array2(value.items),
    Verbatim: lambda value: _bulk(value.text),
    BigNumber: lambda value: _bulk(b"%d" % value.value),
    Encoded: lambda value: value.data,
    EncodedParts: lambda value: b"".join(value.parts),
}


# ---------------------------------------------------------------------- RESP3


def _encode3(value: object) -> bytes:
    if type(value) is bytes:
        return _bulk(value)
    encode = _RESP3.get(type(value))
    if encode is None:
        encode = _resolve(_RESP3, type(value))
    return encode(value)


def _aggregate3(prefix: bytes, items: list[object] | tuple[object, ...]) -> bytes:
    return _aggregate_header(prefix, len(items)) + b"".join([_encode3(item) for item in items])


def _map3(value: dict[object, object]) -> bytes:
    parts = [_aggregate_header(b"%", len(value))]
    for key, item in value.items():
        parts.append(_encode3(key))
        parts.append(_encode3(item))
    return b"".join(parts)


def _verbatim3(value: Verbatim) -> bytes:
    # Redis uses the first three characters of the format, padded with spaces.
    fmt = _utf8(value.fmt)[:3].ljust(3)
    return b"=%d\r\n%b:%b\r\n" % (len(value.text) + 4, fmt, value.text)


_RESP3: Final[dict[type, Encoder]] = {
    **_RESP2,
    bool: lambda value: b"#t\r\n" if value else b"#f\r\n",
    type(None): lambda _: b"_\r\n",
    NullArrayType: lambda _: b"_\r\n",
    list: lambda value: _aggregate3(b"*", value),
    tuple: lambda value: _aggregate3(b"*", value),
    dict: _map3,
    float: lambda value: b"," + _double_text(value) + CRLF,
    SetReply: lambda value: _aggregate3(b"~", value.items),
    Push: lambda value: _aggregate3(b">", value.items),
    Verbatim: _verbatim3,
    BigNumber: lambda value: b"(%d\r\n" % value.value,
}


def _aggregate_header(prefix: bytes, count: int) -> bytes:
    if count < _TABLE_SIZE:
        return _AGGREGATE_HEADERS[prefix][count]
    return prefix + b"%d\r\n" % count
