"""Segment format and the search for intact records behind damage (torn tail vs corruption)."""

from __future__ import annotations

import random

import pytest
from storage_helpers import entries, entry

from tandemkv.storage.record import LogEntry, encode_record
from tandemkv.storage.segment import (
    SEGMENT_HEADER_SIZE,
    encode_segment_header,
    find_valid_record_after,
    parse_segment_name,
    scan_segment,
    segment_name,
)

CAP = 1 << 20


def segment(lo: int, hi: int) -> bytes:
    return encode_segment_header(lo) + b"".join(encode_record(e) for e in entries(lo, hi))


def test_names_sort_in_log_order_and_parse_back() -> None:
    names = [segment_name(i) for i in (1, 9, 10, 2**63)]
    assert names == sorted(names)
    assert [parse_segment_name(n) for n in names] == [1, 9, 10, 2**63]
    for other in ("LOCK", "snapshot", "1.log", "00000000000000000001.log.damaged"):
        assert parse_segment_name(other) is None


def test_scan_indexes_every_record() -> None:
    data = segment(5, 9)
    scan = scan_segment(data, 5, CAP)
    assert scan.problem is None
    assert (scan.first_index, scan.last_index, scan.good_end) == (5, 8, len(data))
    assert list(scan.terms) == [1, 1, 1, 1]
    assert scan.offsets[0] == SEGMENT_HEADER_SIZE


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda d: d[:10], "header truncated"),
        (lambda d: b"X" + d[1:], "checksum"),
        (lambda d: d[:-3], "truncated"),
        (lambda d: d + encode_record(entry(99)), "expected index 9"),
    ],
)
def test_scan_stops_at_the_first_problem(damage: object, problem: str) -> None:
    data = damage(segment(5, 9))  # type: ignore[operator]
    scan = scan_segment(data, 5, CAP)
    assert scan.problem is not None and problem in scan.problem


def test_header_must_match_the_file_name() -> None:
    scan = scan_segment(segment(5, 6), 6, CAP)
    assert scan.problem is not None and "file name says 6" in scan.problem


def test_terms_may_not_fall() -> None:
    data = encode_segment_header(1) + encode_record(entry(1, 3)) + encode_record(entry(2, 2))
    scan = scan_segment(data, 1, CAP)
    assert scan.sequence_error and scan.last_index == 1


@pytest.mark.parametrize("after", [5, 2**32 - 3, 2**40])
@pytest.mark.parametrize("filler", ["random", "zeros", "mixed"])
def test_an_intact_record_behind_damage_is_found(after: int, filler: str) -> None:
    rng = random.Random(after)
    noise = {
        "random": rng.randbytes(1000),
        "zeros": bytes(1000),
        "mixed": rng.randbytes(300) + bytes(400) + rng.randbytes(300),
    }[filler]
    record = encode_record(LogEntry(3, after + 7, 0, b"hello"))
    data = noise + record + rng.randbytes(50)
    assert find_valid_record_after(data, 0, after, 2, CAP) == len(noise)
    # Not of this log: its term is below the last good term, or its index is not beyond it.
    assert find_valid_record_after(data, 0, after, 4, CAP) is None
    assert find_valid_record_after(data, 0, after + 7, 2, CAP) is None


def test_an_index_too_far_ahead_for_the_gap_is_not_this_log() -> None:
    # Entries 6..11 cannot fit in the 100 bytes between the damage and this record.
    data = random.Random(0).randbytes(100) + encode_record(LogEntry(3, 12, 0, b"x"))
    assert find_valid_record_after(data, 0, 5, 1, CAP) is None


def test_megabytes_of_garbage_or_zeros_hold_no_record() -> None:
    rng = random.Random(1)
    assert find_valid_record_after(rng.randbytes(4 << 20), 0, 5, 1, CAP) is None
    assert find_valid_record_after(bytes(16 << 20), 0, 5, 1, CAP) is None


def test_a_damaged_record_is_not_found_but_the_next_one_is() -> None:
    data = bytearray(segment(1, 5))
    second = SEGMENT_HEADER_SIZE + len(encode_record(entry(1)))
    data[second + 10] ^= 0xFF
    found = find_valid_record_after(bytes(data), second, 1, 1, CAP)
    assert found == second + len(encode_record(entry(2)))
