"""The client side of RESP: encoding commands and decoding RESP2/RESP3 replies.

    decoder = ReplyDecoder()
    decoder.feed(data)
    while (reply := decoder.next_reply()) is not NEED_MORE:
        ...

Replies decode into the same vocabulary the server's encoder takes (see protocol.types), so
for RESP3 `decode(encode_reply(x, resp3=True)) == x` for lists, dicts, scalars and the reply
classes. A few RESP types have no twin of their own: `*-1` (RESP2) decodes to NullArray and
`_` to None; `!` blob errors decode to ErrorReply like `-` errors; attributes (`|`) are
read and dropped. Map keys that are lists (or maps) become tuples so they can be dict keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from tandemkv.protocol.errors import ReplyProtocolError
from tandemkv.protocol.types import (
    BigNumber,
    ErrorReply,
    NullArray,
    Push,
    SetReply,
    SimpleString,
    Verbatim,
)

CRLF = b"\r\n"


def encode_command(args: Sequence[bytes | str | int]) -> bytes:
    """A command as a RESP multibulk; str is sent as UTF-8 and int as its decimal digits."""
    parts = [b"*%d\r\n" % len(args)]
    # Items are checked below, with a clear error (compiled, a typed loop variable would be
    # checked first, with mypyc's).
    for arg in cast("Sequence[object]", args):
        data = _argument_bytes(arg)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(CRLF)
    return b"".join(parts)


def _argument_bytes(arg: object) -> bytes:
    if type(arg) is bytes:
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8", "surrogateescape")
    if isinstance(arg, int) and not isinstance(arg, bool):
        return b"%d" % arg
    if isinstance(arg, bytes | bytearray | memoryview):
        return bytes(arg)
    raise TypeError(f"a command argument must be bytes, str or int, not {type(arg).__qualname__}")


class _NeedMore:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_MORE"


NEED_MORE: Final = _NeedMore()
"""Returned by ReplyDecoder.next_reply when the buffer holds no complete reply yet."""


class _Aggregate:
    """An array, map, set, push or attribute whose elements are still being read."""

    __slots__ = ("items", "kind", "wanted")

    def __init__(self, kind: int, wanted: int) -> None:
        self.kind = kind
        self.wanted = wanted
        self.items: list[object] = []


_ATTRIBUTE = ord("|")
_SKIPPED = object()  # what a finished attribute contributes to its parent: nothing
_LINE_TYPES = frozenset(b"+-:_,#(")
_BLOB_TYPES = frozenset(b"$!=")
_AGGREGATE_TYPES = frozenset(b"*%~>|")
_COMPACT_AFTER = 64 * 1024


class ReplyDecoder:
    """Incremental RESP2/RESP3 reply decoder (sans-IO)."""

    __slots__ = ("_buf", "_error", "_pos", "_scanned", "_stack")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        # How far the line at _pos has been searched for its CRLF.
        self._scanned = 0
        self._stack: list[_Aggregate] = []
        self._error: ReplyProtocolError | None = None

    def feed(self, data: bytes) -> None:
        buf, pos = self._buf, self._pos
        if pos >= _COMPACT_AFTER and pos * 2 >= len(buf):
            del buf[:pos]
            self._scanned = max(0, self._scanned - pos)
            self._pos = 0
        buf += data

    def next_reply(self) -> object:
        """The next complete reply, or NEED_MORE. Raises ReplyProtocolError on bad bytes."""
        if self._error is not None:
            raise self._error
        try:
            while True:
                value = self._read_item()
                if value is NEED_MORE:
                    return NEED_MORE
                value = self._attach(value)
                if value is not _SKIPPED:
                    return value
        except ReplyProtocolError as error:
            self._error = error
            raise

    def _attach(self, value: object) -> object:
        """Add a finished value to the aggregates being read.

        Returns the reply if that finished it, else _SKIPPED.
        """
        stack = self._stack
        while value is not _SKIPPED:
            if not stack:
                return value
            top = stack[-1]
            top.items.append(value)
            if len(top.items) < top.wanted:
                return _SKIPPED
            stack.pop()
            value = _build(top)
        return _SKIPPED

    def _read_item(self) -> object:
        """Read one item: a finished scalar, _SKIPPED for an aggregate header, or NEED_MORE."""
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            return NEED_MORE
        kind = buf[pos]
        nl = buf.find(CRLF, max(pos + 1, self._scanned - 1))
        if nl < 0:
            self._scanned = len(buf)
            return NEED_MORE
        line = bytes(buf[pos + 1 : nl])
        if kind in _LINE_TYPES:
            self._consume(nl + 2)
            return _line_value(kind, line)
        if kind in _BLOB_TYPES:
            return self._read_blob(kind, line, nl + 2)
        if kind in _AGGREGATE_TYPES:
            self._consume(nl + 2)
            return self._start_aggregate(kind, line)
        raise ReplyProtocolError(f"unknown reply type byte {bytes([kind])!r}")

    def _read_blob(self, kind: int, line: bytes, start: int) -> object:
        length = _parse_int(line)
        if length == -1 and kind == ord("$"):
            self._consume(start)
            return None
        if length < 0:
            raise ReplyProtocolError(f"invalid length {length}")
        stop = start + length
        if stop + 2 > len(self._buf):
            return NEED_MORE  # the header is read again next time: it is short
        data = bytes(self._buf[start:stop])
        if self._buf[stop : stop + 2] != CRLF:
            raise ReplyProtocolError("blob not followed by CRLF")
        self._consume(stop + 2)
        return _blob_value(kind, data)

    def _start_aggregate(self, kind: int, line: bytes) -> object:
        count = _parse_int(line)
        if count == -1 and kind == ord("*"):
            return NullArray
        if count < 0:
            raise ReplyProtocolError(f"invalid aggregate length {count}")
        wanted = 2 * count if kind in b"%|" else count
        frame = _Aggregate(kind, wanted)
        if wanted == 0:
            return _build(frame)
        self._stack.append(frame)
        return _SKIPPED

    def _consume(self, pos: int) -> None:
        self._pos = pos
        self._scanned = 0


def _line_value(kind: int, line: bytes) -> object:
    if kind == ord("+"):
        return SimpleString(line.decode("utf-8", "surrogateescape"))
    if kind == ord("-"):
        return ErrorReply(line.decode("utf-8", "surrogateescape"))
    if kind == ord(":"):
        return _parse_int(line)
    if kind == ord("_"):
        if line:
            raise ReplyProtocolError("null with a payload")
        return None
    if kind == ord(","):
        try:
            return float(line)
        except ValueError:
            raise ReplyProtocolError(f"invalid double {line!r}") from None
    if kind == ord("#"):
        if line == b"t":
            return True
        if line == b"f":
            return False
        raise ReplyProtocolError(f"invalid boolean {line!r}")
    return BigNumber(_parse_int(line))


def _blob_value(kind: int, data: bytes) -> object:
    if kind == ord("$"):
        return data
    if kind == ord("!"):
        return ErrorReply(data.decode("utf-8", "surrogateescape"))
    if len(data) < 4 or data[3] != ord(":"):
        raise ReplyProtocolError("verbatim string without a format")
    return Verbatim(data[:3].decode("utf-8", "surrogateescape"), data[4:])


def _build(frame: _Aggregate) -> object:
    kind, items = frame.kind, frame.items
    if kind == ord("*"):
        return items
    if kind == ord("%"):
        return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}
    if kind == ord("~"):
        return SetReply(tuple(items))
    if kind == ord(">"):
        return Push(tuple(items))
    return _SKIPPED  # an attribute: metadata about the next reply, which we drop


def _hashable(key: object) -> object:
    if isinstance(key, list):
        return tuple(_hashable(item) for item in key)
    if isinstance(key, dict):
        return tuple((_hashable(k), _hashable(v)) for k, v in key.items())
    return key


def _parse_int(line: bytes) -> int:
    digits = line[1:] if line[:1] in (b"-", b"+") else line
    if not digits.isdigit():
        raise ReplyProtocolError(f"invalid integer {line!r}")
    try:
        return int(line)
    except ValueError:  # beyond Python's int-from-string digit limit
        raise ReplyProtocolError(f"integer too long ({len(line)} bytes)") from None
