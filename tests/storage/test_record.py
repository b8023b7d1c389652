"""Record framing: round trips, truncation, every single-bit flip, hostile lengths."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_helpers import log_entries

from tandemkv.storage.errors import (
    DecodeError,
    RecordChecksumMismatch,
    RecordLengthInvalid,
    RecordLengthOverCap,
    RecordTruncated,
)
from tandemkv.storage.record import (
    RECORD_OVERHEAD,
    EntryKind,
    LogEntry,
    decode_record,
    encode_record,
)

SAMPLE = [
    LogEntry(1, 1, EntryKind.NOOP, b""),
    LogEntry(1, 2, EntryKind.NORMAL, b"\x01\x01\x00\x01k\x01v"),
    LogEntry(2, 3, EntryKind.CONFIG, bytes(range(40))),
]


def decode_all(buf: bytes) -> tuple[list[LogEntry], DecodeError | None]:
    """Decode records until the buffer ends or one fails; return them and the error."""
    out: list[LogEntry] = []
    pos = 0
    while pos < len(buf):
        try:
            entry, pos = decode_record(buf, pos)
        except DecodeError as exc:
            return out, exc
        out.append(entry)
    return out, None


@given(st.lists(log_entries(), max_size=5))
def test_records_round_trip_back_to_back(entries: list[LogEntry]) -> None:
    buf = b"".join(encode_record(e) for e in entries)
    assert decode_all(buf) == (entries, None)


def test_layout_is_pinned() -> None:
    encoded = encode_record(LogEntry(1, 2, 0, b"abc"))
    assert encoded[:4] == (17 + 3).to_bytes(4, "little")
    assert encoded[8:] == struct.pack("<QQB", 1, 2, 0) + b"abc"
    assert len(encoded) == RECORD_OVERHEAD + 3
    assert encoded.hex() == "140000005fcc38e00100000000000000020000000000000000616263"


def test_decode_reports_the_next_offset_and_works_on_views() -> None:
    buf = b"".join(encode_record(e) for e in SAMPLE)
    first, pos = decode_record(memoryview(buf))
    assert first == SAMPLE[0] and pos == RECORD_OVERHEAD
    assert decode_record(bytearray(buf), pos)[0] == SAMPLE[1]


def test_every_truncation_point_is_truncated_never_misread() -> None:
    buf = b"".join(encode_record(e) for e in SAMPLE)
    boundaries = {0}
    pos = 0
    for entry in SAMPLE:
        pos += len(encode_record(entry))
        boundaries.add(pos)
    for cut in range(len(buf) + 1):
        decoded, error = decode_all(buf[:cut])
        assert decoded == SAMPLE[: len(decoded)]
        if cut in boundaries:
            assert error is None
        else:
            assert isinstance(error, RecordTruncated), cut


def test_every_single_bit_flip_is_detected_never_misread() -> None:
    buf = b"".join(encode_record(e) for e in SAMPLE)
    record_starts = [0]
    for entry in SAMPLE[:-1]:
        record_starts.append(record_starts[-1] + len(encode_record(entry)))
    for bit in range(len(buf) * 8):
        damaged = bytearray(buf)
        damaged[bit // 8] ^= 1 << (bit % 8)
        decoded, error = decode_all(bytes(damaged))
        hit = sum(1 for start in record_starts if start <= bit // 8) - 1
        # Everything before the damaged record is intact; the damaged one is an error.
        assert decoded == SAMPLE[:hit], bit
        assert isinstance(
            error,
            RecordChecksumMismatch | RecordLengthInvalid | RecordLengthOverCap | RecordTruncated,
        ), bit
        assert error.offset == record_starts[hit]


def test_lengths_below_the_header_size_are_invalid() -> None:
    for body_len in (0, 1, 16):
        buf = struct.pack("<II", body_len, 0) + bytes(40)
        with pytest.raises(RecordLengthInvalid):
            decode_record(buf)


def test_oversized_length_is_rejected_before_anything_is_allocated() -> None:
    hostile = struct.pack("<II", 0xFFFF_FFFF, 0) + bytes(17)
    tracemalloc.start()
    try:
        with pytest.raises(RecordLengthOverCap, match="over the cap"):
            decode_record(hostile)
        with pytest.raises(RecordLengthOverCap):
            decode_record(struct.pack("<II", 1001, 0) + bytes(2000), max_body=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_length_under_the_cap_but_past_the_buffer_is_truncated() -> None:
    buf = struct.pack("<II", 500 * 1024 * 1024, 0) + bytes(17)
    with pytest.raises(RecordTruncated):
        decode_record(buf)


def test_encode_refuses_out_of_range_fields() -> None:
    for bad in (LogEntry(-1, 1, 0, b""), LogEntry(1, 2**64, 0, b""), LogEntry(1, 1, 256, b"")):
        with pytest.raises(ValueError):
            encode_record(bad)


def test_the_largest_entry_a_client_can_make_is_readable_and_replicable() -> None:
    """One entry holds at most one request's or one transaction's writes, both capped by
    client-query-buffer-limit: recovery and peer frames must accept that much."""
    from tandemkv.commands.settings import MAX_QUERY_BUFFER
    from tandemkv.protocol.peer_frames import MAX_FRAME_BYTES
    from tandemkv.storage.record import DEFAULT_MAX_BODY, RECORD_OVERHEAD

    assert DEFAULT_MAX_BODY >= MAX_QUERY_BUFFER + 1024 * 1024
    assert MAX_FRAME_BYTES >= DEFAULT_MAX_BODY + RECORD_OVERHEAD + 1024 * 1024
