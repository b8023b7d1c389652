"""Reply values: what command handlers return and the encoder turns into RESP bytes.

Handlers answer with plain Python values wherever one maps to a single RESP type, so the
hot path allocates nothing special:

    bytes          bulk string              ($ in RESP2 and RESP3)
    int            integer                  (:)
    None           null bulk                ($-1 in RESP2, _ in RESP3)
    list / tuple   array                    (*)
    dict           map                      (flattened array in RESP2, % in RESP3)
    bool           boolean                  (:0/:1 in RESP2, #t/#f in RESP3)
    float          double                   (bulk string in RESP2, , in RESP3)

The small classes below cover the remaining RESP types.
"""

from __future__ import annotations

from dataclasses import dataclass


class SimpleString(str):
    """A status reply such as +OK: a str that must not contain CR or LF."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error reply. `message` starts with its prefix, e.g. "ERR unknown command ..."."""

    message: str


class NullArrayType:
    """The null array: *-1 in RESP2 (e.g. an aborted EXEC), _ in RESP3."""

    __slots__ = ()
    _instance: NullArrayType | None = None

    def __new__(cls) -> NullArrayType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NullArray"


NullArray = NullArrayType()


@dataclass(frozen=True, slots=True)
class SetReply:
    """An unordered collection: ~ in RESP3, a plain array in RESP2."""

    items: tuple[object, ...]

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Verbatim:
    """Verbatim text (= in RESP3, e.g. INFO and CLIENT LIST); a bulk string in RESP2.

    `fmt` is the three-letter format, "txt" or "mkd".
    """

    fmt: str
    text: bytes


@dataclass(frozen=True, slots=True)
class Encoded:
    """A reply already encoded for the client's protocol version: written as is. The shell
    encodes a very long reply in slices (server/sliced.py) and hands over the result."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EncodedParts:
    """A very long reply already encoded, as parts to write in order (server/sliced.py).
    Not joined: for a reply of a gigabyte, the join would be a second gigabyte. Encoding
    one (encode_reply) joins them, for a caller that wants the bytes."""

    parts: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BigNumber:
    """An integer beyond 64 bits: ( in RESP3, a bulk string in RESP2."""

    value: int


@dataclass(frozen=True, slots=True)
class Push:
    """Out-of-band data (> in RESP3); an array in RESP2."""

    items: tuple[object, ...]


OK = SimpleString("OK")
PONG = SimpleString("PONG")
QUEUED = SimpleString("QUEUED")
