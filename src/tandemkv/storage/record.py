"""Framing of log entries as records: (term, index, kind, data) + length + CRC32C. Pure.

Public API:

    LogEntry(term: int, index: int, kind: int, data: bytes)        dataclass
    EntryKind.NORMAL / CONFIG / NOOP                                0 / 1 / 2
    encode_record(entry) -> bytes
    encode_record_fields(term, index, kind, data) -> bytes
    unpack_record_head(buf, offset) -> (body_len, crc, term, index, kind)  (no CRC check)
    record_crc(body_len, term, index, kind, data) -> int   (what the CRC field must hold)
    decode_record(buf, offset=0, max_body=DEFAULT_MAX_BODY) -> (LogEntry, next_offset)
    peek_record_header(buf, offset) -> (body_len, term, index) | None  (no CRC check)
    RECORD_PREFIX, RECORD_HEADER, RECORD_OVERHEAD, DEFAULT_MAX_BODY

Layout (little-endian):

    u32 body_len   bytes after this 8-byte prefix (17 + len(data))
    u32 crc32c     over body_len's 4 bytes and the body, so a damaged length is caught too
    body:  u64 term | u64 index | u8 kind | data

Decoding checks, in order, before slicing anything out of the buffer: the prefix is present
(else RecordTruncated), body_len >= 17 (else RecordLengthInvalid), body_len <= max_body
(else RecordLengthOverCap - a wild length is never trusted with an allocation), the body is
present (else RecordTruncated), the CRC matches (else RecordChecksumMismatch). The errors
carry the record's start offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Protocol

import google_crc32c

from tandemkv.storage.errors import (
    RecordChecksumMismatch,
    RecordLengthInvalid,
    RecordLengthOverCap,
    RecordTruncated,
)


class EntryKind(IntEnum):
    """What a log entry's payload is; the record layer itself accepts any 0..255."""

    NORMAL = 0  # a codec-encoded Mutation
    CONFIG = 1  # a cluster configuration change (opaque to storage)
    NOOP = 2  # the empty entry a new leader appends


_PREFIX: Final = struct.Struct("<II")
_HEADER: Final = struct.Struct("<QQB")
# The CRC covers body_len and the body, which are not contiguous in the record; packing
# body_len with the header gives its first part in one call.
_LENGTH_AND_HEADER: Final = struct.Struct("<IQQB")
_WHOLE_HEAD: Final = struct.Struct("<IIQQB")  # prefix and header together
RECORD_PREFIX: Final = _PREFIX.size  # 8
RECORD_HEADER: Final = _HEADER.size  # 17
RECORD_OVERHEAD: Final = RECORD_PREFIX + RECORD_HEADER  # 25
# The largest entry the write side makes, plus framing: one entry holds one request's
# writes or one transaction's, and both are capped by client-query-buffer-limit (at most
# 1 GiB, counting 48 bytes an argument, more than a mutation's encoding adds), or a turn's
# small writes (node/entries.py). Recovery refuses longer lengths as damage.
DEFAULT_MAX_BODY: Final = (1024 + 16) * 1024 * 1024


Buffer = bytes | bytearray | memoryview


class RecordFields(Protocol):
    """What a record is made of: a LogEntry, or the replication core's own entry type."""

    @property
    def term(self) -> int: ...
    @property
    def index(self) -> int: ...
    @property
    def kind(self) -> int: ...
    @property
    def data(self) -> bytes: ...


# Not frozen: a frozen dataclass costs three times as much to build, and one is built for
# every entry read back from disk. Treat it as immutable all the same.
@dataclass(slots=True, unsafe_hash=True)
class LogEntry:
    """One replicated log entry; `data` is an encoded Mutation when kind is NORMAL."""

    term: int
    index: int
    kind: int
    data: bytes


def encode_record(entry: LogEntry) -> bytes:
    return encode_record_fields(entry.term, entry.index, entry.kind, entry.data)


def encode_record_fields(term: int, index: int, kind: int, data: bytes) -> bytes:
    """The record of one entry; ValueError if a field is out of range."""
    body_len = RECORD_HEADER + len(data)
    try:
        crc = record_crc(body_len, term, index, kind, data)
        return _WHOLE_HEAD.pack(body_len, crc, term, index, kind) + data
    except struct.error:
        if body_len > 0xFFFFFFFF:
            raise ValueError(f"log entry too large: {len(data)} bytes") from None
        raise ValueError(
            f"term/index/kind out of range: term={term} index={index} kind={kind}"
        ) from None


def unpack_record_head(buf: Buffer, offset: int) -> tuple[int, int, int, int, int]:
    """(body_len, crc, term, index, kind) of the record at `offset`; nothing is verified.

    The caller makes sure RECORD_OVERHEAD bytes are present.
    """
    return _WHOLE_HEAD.unpack_from(buf, offset)


def record_crc(body_len: int, term: int, index: int, kind: int, data: bytes) -> int:
    """The CRC a record with these fields must carry (compare with its stored one)."""
    head = _LENGTH_AND_HEADER.pack(body_len, term, index, kind)
    crc: int = google_crc32c.extend(google_crc32c.value(head), data)
    return crc


def peek_record_header(buf: Buffer, offset: int) -> tuple[int, int, int] | None:
    """(body_len, term, index) if a whole header fits at `offset`; nothing is verified."""
    if len(buf) - offset < RECORD_OVERHEAD:
        return None
    body_len, _crc = _PREFIX.unpack_from(buf, offset)
    term, index, _kind = _HEADER.unpack_from(buf, offset + RECORD_PREFIX)
    return body_len, term, index


def decode_record(
    buf: Buffer, offset: int = 0, max_body: int = DEFAULT_MAX_BODY
) -> tuple[LogEntry, int]:
    """Decode the record starting at `offset`; return it and the offset just past it."""
    available = len(buf) - offset
    if available < RECORD_PREFIX:
        raise RecordTruncated(
            f"record at offset {offset} truncated: {available} of {RECORD_PREFIX} prefix bytes",
            offset,
        )
    body_len, stored_crc = _PREFIX.unpack_from(buf, offset)
    if body_len < RECORD_HEADER:
        raise RecordLengthInvalid(
            f"record at offset {offset} has length {body_len}, below the minimum {RECORD_HEADER}",
            offset,
        )
    if body_len > max_body:
        raise RecordLengthOverCap(
            f"record at offset {offset} claims length {body_len}, over the cap {max_body}",
            offset,
        )
    end = offset + RECORD_PREFIX + body_len
    if end > len(buf):
        raise RecordTruncated(
            f"record at offset {offset} truncated: needs {end - offset} bytes, {available} present",
            offset,
        )
    # google_crc32c takes only `bytes`; slicing copies once whatever the buffer type.
    body = bytes(buf[offset + RECORD_PREFIX : end])
    crc = google_crc32c.extend(google_crc32c.value(bytes(buf[offset : offset + 4])), body)
    if crc != stored_crc:
        raise RecordChecksumMismatch(
            f"record at offset {offset} fails its checksum "
            f"(stored {stored_crc:#010x}, computed {crc:#010x})",
            offset,
        )
    term, index, kind = _HEADER.unpack_from(body)
    return LogEntry(term, index, kind, body[RECORD_HEADER:]), end
