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

from collections.abc import Callable, Generator, Iterable
from typing import Any, Final

from tandemkv.protocol.types import (
    OK,
    BigNumber,
    Encoded,
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


def encode_in_slices(value: object, resp3: bool) -> Generator[None, None, object]:
    """`value`, or for a long array, set or map its encoding (Encoded) made about
    ENCODE_SLICE items per step: a sliced command's reply is encoded between other clients'
    turns too. Arrays inside count by their length (EXEC's reply holding many KEYS replies)."""
    kind = type(value)
    if kind is SetReply or kind is dict:
        return (yield from _encode_flat_in_slices(value, resp3))
    if kind is not list:
        return value
    items: list[object] = value  # type: ignore[assignment]
    nested = sum([len(item) for item in items if type(item) is list])
    if len(items) + nested <= ENCODE_SLICE:
        return value
    if not nested:
        return (yield from _encode_items(array_header(len(items)), items, resp3))
    parts = [array_header(len(items))]
    spent = 0
    for item in items:
        size = len(item) if type(item) is list else 0
        if size > ENCODE_SLICE:
            item = yield from encode_in_slices(item, resp3)
        parts.append(encode_reply(item, resp3))
        spent += 1 + size
        if spent >= ENCODE_SLICE:
            yield
            spent = 0
    return Encoded(b"".join(parts))


def _encode_flat_in_slices(value: object, resp3: bool) -> Generator[None, None, object]:
    """A set (SMEMBERS) or map (HGETALL) reply: `~`/`%` in RESP3, a flat array in RESP2."""
    if type(value) is SetReply:
        items = list(value.items)
        header = _aggregate_header(b"~" if resp3 else b"*", len(items))
    else:
        mapping: dict[object, object] = value  # type: ignore[assignment]
        items = [x for pair in mapping.items() for x in pair]
        header = _aggregate_header(b"%", len(mapping)) if resp3 else array_header(len(items))
    if len(items) <= ENCODE_SLICE:
        return value
    return (yield from _encode_items(header, items, resp3))


def _encode_items(header: bytes, items: list[object], resp3: bool) -> Generator[None, None, object]:
    parts = [header]
    for start in range(0, len(items), ENCODE_SLICE):
        if start:
            yield
        chunk = items[start : start + ENCODE_SLICE]
        parts.append(b"".join([encode_reply(item, resp3) for item in chunk]))
    return Encoded(b"".join(parts))


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
