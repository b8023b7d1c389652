"""Segment files: naming, the file header, and scanning a segment's bytes. Pure (no I/O).

A segment is one file of the log, named by the index of its first entry, zero-padded so
names sort in log order: `00000000000000000001.log`. It starts with a 20-byte header

    b"TKVLOG" | u16 version | u64 first_index | u32 crc32c of the preceding 16 bytes

followed by records (storage/record.py) whose indices run contiguously from first_index.

Public API:

    segment_name(first_index) -> str
    parse_segment_name(name) -> int | None
    encode_segment_header(first_index) -> bytes
    SEGMENT_HEADER_SIZE
    scan_segment(data, first_index, max_body) -> SegmentScan
    find_valid_record_after(data, start, after_index, min_term, max_body) -> int | None

scan_segment decodes records up to the first problem and reports how far the data is good;
deciding whether a problem is a torn tail or corruption is recovery's job, which uses
find_valid_record_after to look for intact records beyond the damage.
"""

from __future__ import annotations

import re
import struct
from array import array
from dataclasses import dataclass, field
from typing import Final

import google_crc32c

from tandemkv.storage.errors import DecodeError
from tandemkv.storage.record import (
    RECORD_HEADER,
    RECORD_OVERHEAD,
    RECORD_PREFIX,
    Buffer,
    EntryKind,
    decode_record,
)

SEGMENT_MAGIC: Final = b"TKVLOG"
SEGMENT_VERSION: Final = 1
SEGMENT_SUFFIX: Final = ".log"
_HEADER: Final = struct.Struct("<6sHQ")
SEGMENT_HEADER_SIZE: Final = _HEADER.size + 4  # 20
_NAME: Final = re.compile(r"^(\d{20})\.log$")
_RECORD_PREFIX: Final = struct.Struct("<II")
_TERM_INDEX: Final = struct.Struct("<QQ")
_NON_ZERO: Final = re.compile(b"[^\x00]")
_INDEX_HIGH: Final = RECORD_PREFIX + 8 + 4  # offset of the high 4 bytes of a record's index


def segment_name(first_index: int) -> str:
    return f"{first_index:020d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def encode_segment_header(first_index: int) -> bytes:
    head: bytes = _HEADER.pack(SEGMENT_MAGIC, SEGMENT_VERSION, first_index)
    crc: int = google_crc32c.value(head)
    return head + crc.to_bytes(4, "little")


@dataclass
class SegmentScan:
    """What scanning found: the good records, where good data ends, and the first problem.

    `offsets[i]` / `terms[i]` describe the record of index first_index + i. `good_end` is
    the byte offset just past the last good record (or past the header). `problem` is None
    when the whole buffer was good; otherwise a description, at byte `problem_offset`.
    `sequence_error` marks a record that decoded with a valid checksum but carries the
    wrong index or a falling term: damage a torn write cannot produce.
    """

    first_index: int
    offsets: array[int] = field(default_factory=lambda: array("Q"))
    terms: array[int] = field(default_factory=lambda: array("Q"))
    configs: list[int] = field(default_factory=list)  # indexes of CONFIG entries
    good_end: int = 0
    problem: str | None = None
    problem_offset: int = 0
    sequence_error: bool = False

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.offsets) - 1


def _check_header(data: Buffer, first_index: int) -> str | None:
    if len(data) < SEGMENT_HEADER_SIZE:
        return f"segment header truncated ({len(data)} of {SEGMENT_HEADER_SIZE} bytes)"
    head = bytes(data[: _HEADER.size])
    stored = int.from_bytes(data[_HEADER.size : SEGMENT_HEADER_SIZE], "little")
    if google_crc32c.value(head) != stored:
        return "segment header fails its checksum"
    magic, version, header_first = _HEADER.unpack(head)
    if magic != SEGMENT_MAGIC:
        return "not a tandemkv log segment (bad magic)"
    if version != SEGMENT_VERSION:
        return f"segment format version {version} is not supported (expected {SEGMENT_VERSION})"
    if header_first != first_index:
        return f"header says first index {header_first}, file name says {first_index}"
    return None


def scan_segment(data: Buffer, first_index: int, max_body: int, min_term: int = 0) -> SegmentScan:
    """Decode every record in `data` (a whole segment file) up to the first problem."""
    scan = SegmentScan(first_index)
    header_problem = _check_header(data, first_index)
    if header_problem is not None:
        scan.problem = header_problem
        return scan
    pos = scan.good_end = SEGMENT_HEADER_SIZE
    prev_term = min_term
    while pos < len(data):
        try:
            entry, end = decode_record(data, pos, max_body)
        except DecodeError as exc:
            scan.problem, scan.problem_offset = str(exc), pos
            return scan
        expected = first_index + len(scan.offsets)
        if entry.index != expected or entry.term < prev_term:
            scan.problem, scan.problem_offset = (
                f"record at offset {pos} has index {entry.index} term {entry.term}, "
                f"expected index {expected} with term >= {prev_term}",
                pos,
            )
            scan.sequence_error = True
            return scan
        scan.offsets.append(pos)
        scan.terms.append(entry.term)
        if entry.kind == EntryKind.CONFIG:
            scan.configs.append(entry.index)
        prev_term = entry.term
        pos = scan.good_end = end
    return scan


def find_valid_record_after(
    data: bytes, start: int, after_index: int, min_term: int, max_body: int
) -> int | None:
    """Offset of the first intact record beyond `start` that could belong to this log.

    Candidates must have a plausible length, an index above `after_index` (and no further
    above it than the bytes between `start` and the candidate could hold) and a term >=
    `min_term` before their checksum is computed. Candidate positions come from a C-speed
    search for the high half of the expected index, and runs of zero bytes (what an
    unwritten region of a crashed file usually reads as) are skipped whole, so even
    megabytes of garbage scan quickly.
    """
    lowest = after_index + 1
    highest = after_index + (len(data) - start) // RECORD_OVERHEAD + 1
    if lowest >> 32 != highest >> 32:  # the high half varies: test every position
        return _scan_every_position(data, start, after_index, min_term, max_body)
    bounds = (start, after_index, min_term, max_body)
    pattern = (lowest >> 32).to_bytes(4, "little")
    pos = start + 1
    while True:
        hit = data.find(pattern, pos + _INDEX_HIGH)
        if hit < 0:
            return None
        pos = hit - _INDEX_HIGH
        if data[pos : pos + 4] == b"\x00\x00\x00\x00":
            match = _NON_ZERO.search(data, pos)
            if match is None:
                return None
            pos = max(pos + 1, match.start() - 3)
            continue
        if _candidate(data, pos, *bounds):
            return pos
        pos += 1


def _scan_every_position(
    data: bytes, start: int, after_index: int, min_term: int, max_body: int
) -> int | None:
    for pos in range(start + 1, len(data) - RECORD_OVERHEAD + 1):
        if _candidate(data, pos, start, after_index, min_term, max_body):
            return pos
    return None


def _candidate(
    data: bytes, pos: int, start: int, after_index: int, min_term: int, max_body: int
) -> bool:
    """Could an intact record of this log start at `pos`? (Damage began at `start`.)"""
    if len(data) - pos < RECORD_OVERHEAD:
        return False
    body_len, _crc = _RECORD_PREFIX.unpack_from(data, pos)
    if not RECORD_HEADER <= body_len <= min(max_body, len(data) - pos - RECORD_PREFIX):
        return False
    term, index = _TERM_INDEX.unpack_from(data, pos + RECORD_PREFIX)
    # Entries after_index+1 .. index-1 would have to fit between start and pos.
    if not after_index < index <= after_index + 1 + (pos - start) // RECORD_OVERHEAD:
        return False
    return term >= min_term and _intact(data, pos, max_body)


def _intact(data: Buffer, pos: int, max_body: int) -> bool:
    try:
        decode_record(data, pos, max_body)
    except DecodeError:
        return False
    return True
