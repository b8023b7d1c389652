"""Pure byte-level primitives shared by the mutation codec and the snapshot format.

Unsigned integers are LEB128 varints (7 bits per byte, low group first, at most 10 bytes for
a 64-bit value); signed integers are zigzag-mapped first so small negatives stay short.
Byte strings are a varint length followed by the bytes.

`put_*` functions append to a bytearray. `Reader` walks a buffer and raises
`MutationDecodeError` (a DecodeError) on anything malformed; it never allocates more than
the bytes actually present, whatever a length field claims.
"""

from __future__ import annotations

from tandemkv.storage.errors import MutationDecodeError

MAX_VARINT_BYTES = 10
U64_MAX = (1 << 64) - 1


def put_uvarint(out: bytearray, value: int) -> None:
    """Append `value` (0 <= value < 2**64) as a varint."""
    if value < 0 or value > U64_MAX:
        raise ValueError(f"varint out of range: {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def zigzag(value: int) -> int:
    """Map a signed 64-bit int to unsigned so that small magnitudes stay small."""
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"signed varint out of range: {value}")
    return (value << 1) if value >= 0 else ((-value) << 1) - 1


def unzigzag(value: int) -> int:
    return (value >> 1) if not value & 1 else -((value + 1) >> 1)


def put_svarint(out: bytearray, value: int) -> None:
    put_uvarint(out, zigzag(value))


def put_bytes(out: bytearray, data: bytes) -> None:
    put_uvarint(out, len(data))
    out += data


class Reader:
    """A cursor over a buffer; every read checks bounds before touching the bytes."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def fail(self, message: str) -> MutationDecodeError:
        return MutationDecodeError(f"{message} at offset {self.pos}", self.pos)

    def u8(self) -> int:
        if self.pos >= self.end:
            raise self.fail("unexpected end of data")
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def uvarint(self) -> int:
        result = 0
        for i in range(MAX_VARINT_BYTES):
            byte = self.u8()
            result |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if result > U64_MAX or (i > 0 and byte == 0):
                    # Overlong or out-of-range encodings would give two byte strings for
                    # one value; reject them so decoding is a bijection.
                    raise self.fail("non-canonical varint")
                return result
        raise self.fail("varint longer than 10 bytes")

    def svarint(self) -> int:
        return unzigzag(self.uvarint())

    def take(self, size: int) -> bytes:
        if size > self.end - self.pos:
            raise self.fail(f"length {size} runs past the end of the data")
        data = bytes(self.buf[self.pos : self.pos + size])
        self.pos += size
        return data

    def bytes_field(self) -> bytes:
        return self.take(self.uvarint())
