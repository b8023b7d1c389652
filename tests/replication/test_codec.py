"""The replication wire codec: exact round trips, a pinned byte layout, and refusal of bad input.

A node decodes whatever a socket hands it, so anything that is not a whole, well-formed
message must come back as MessageDecodeError, never as another exception or a wrong message.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import fields
from typing import Any, get_args, get_type_hints

import google_crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.replication.codec import (
    CODEC_VERSION,
    MessageDecodeError,
    decode_message,
    encode_message,
)
from tandemkv.replication.messages import (
    AppendRequest,
    ConfState,
    Entry,
    EntryKind,
    Heartbeat,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotChunk,
    SnapshotMeta,
    VoteRequest,
    VoteResponse,
)

MESSAGE_TYPES: tuple[type[Any], ...] = get_args(Message)
U64_MAX = 2**64 - 1


def u8(n: int) -> bytes:
    return n.to_bytes(1, "little")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "little")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


def head(tag: int, *u64s: int) -> bytes:
    return u8(CODEC_VERSION) + u8(tag) + b"".join(u64(n) for n in u64s)


# --- strategies: built from each message's own fields, so a new field gets exercised too ---

u64s = st.integers(0, U64_MAX)
id_tuples = st.lists(u64s, max_size=4).map(tuple)
addresses = st.lists(st.tuples(u64s, st.text(max_size=20)), max_size=3).map(tuple)
conf_states = st.builds(
    ConfState, voters=id_tuples, learners=id_tuples, witnesses=id_tuples, addresses=addresses
)
metas = st.builds(SnapshotMeta, index=u64s, term=u64s, conf=conf_states)
entries = st.builds(
    Entry, term=u64s, index=u64s, data=st.binary(max_size=48), kind=st.sampled_from(EntryKind)
)
BY_TYPE: dict[Any, st.SearchStrategy[Any]] = {
    int: u64s,
    bool: st.booleans(),
    bytes: st.binary(max_size=64),
    SnapshotMeta: metas,
    tuple[Entry, ...]: st.lists(entries, max_size=6).map(tuple),
}


def messages_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    return st.builds(cls, **{f.name: BY_TYPE[hints[f.name]] for f in fields(cls)})


any_message = st.one_of([messages_of(cls) for cls in MESSAGE_TYPES])


def minimal(cls: type[Any]) -> Any:
    zero = {int: 0, bool: False, bytes: b"", SnapshotMeta: SnapshotMeta(), tuple[Entry, ...]: ()}
    hints = get_type_hints(cls)
    return cls(**{f.name: zero[hints[f.name]] for f in fields(cls)})


def assert_canonical_or_refused(raw: bytes) -> None:
    """Bad bytes raise MessageDecodeError; good ones name exactly one message."""
    try:
        msg = decode_message(raw)
    except MessageDecodeError:
        return
    assert encode_message(msg) == raw


# --- round trips ------------------------------------------------------------------------


def test_every_message_type_has_its_own_tag_after_the_version_byte() -> None:
    assert len(MESSAGE_TYPES) == 11
    encodings = [encode_message(minimal(cls)) for cls in MESSAGE_TYPES]
    assert {raw[0] for raw in encodings} == {CODEC_VERSION}
    assert len({raw[1] for raw in encodings}) == len(MESSAGE_TYPES)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=40)
@given(data=st.data())
def test_round_trip_is_exact(cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(messages_of(cls))
    raw = encode_message(msg)
    decoded = decode_message(raw)
    assert decoded == msg
    # == alone accepts 1 for True and 0 for EntryKind.NORMAL; repr shows the types too.
    assert repr(decoded) == repr(msg)
    assert decode_message(memoryview(raw)) == msg


@given(msg=any_message)
def test_a_memoryview_is_read_only_up_to_its_own_end(msg: Any) -> None:
    backing = bytearray(b"\xff" + encode_message(msg) + b"\x00garbage")
    view = memoryview(backing)[1 : len(backing) - 8]
    assert decode_message(view) == msg


def test_extreme_integers_and_empty_parts_survive() -> None:
    conf = ConfState((U64_MAX,), (), (0,), ((U64_MAX, ""), (1, "127.0.0.1:7001")))
    msgs: list[Message] = [
        SnapshotChunk(U64_MAX, 0, U64_MAX, SnapshotMeta(U64_MAX, 0, conf), U64_MAX, b"", True),
        AppendRequest(0, U64_MAX, 2**63, 0, 0, (Entry(2**63, 2**63, b"", EntryKind.NOOP),), 0),
        ReadIndexRequest(1, 2, 3, b""),
    ]
    for msg in msgs:
        assert repr(decode_message(encode_message(msg))) == repr(msg)


# --- the byte layout, pinned: changing it means a new CODEC_VERSION -------------------------


def test_heartbeat_layout() -> None:
    msg = Heartbeat(frm=1, to=2, term=3, commit=4, read_seq=5, sent_tick=6)
    assert encode_message(msg) == head(5, 1, 2, 3, 4, 5, 6)


def test_vote_request_layout_stores_bools_as_single_bytes() -> None:
    msg = VoteRequest(frm=1, to=2, term=9, last_index=8, last_term=7, pre_vote=True)
    assert encode_message(msg) == head(1, 1, 2, 9, 8, 7) + u8(1) + u8(0)


def append_bytes(*entry_parts: bytes, count: int | None = None) -> bytes:
    n = len(entry_parts) if count is None else count
    # frm to term prev_index prev_term commit sent_tick, then the entry count
    return head(3, 1, 2, 5, 10, 4, 9, 77) + u32(n) + b"".join(entry_parts)


def entry_bytes(
    term: int, index: int, kind: int, data: bytes, size: int | None = None, crc: int | None = None
) -> bytes:
    """An entry as its log record: body length, CRC32C of length + body, then the body."""
    body = u64(term) + u64(index) + u8(kind) + data
    length = u32(len(body) if size is None else size)
    checksum = google_crc32c.value(length + body) if crc is None else crc
    return length + u32(checksum) + body


def test_append_request_layout_and_entry_kinds() -> None:
    msg = AppendRequest(
        frm=1,
        to=2,
        term=5,
        prev_index=10,
        prev_term=4,
        commit=9,
        sent_tick=77,
        entries=(Entry(5, 11, b"set k v"), Entry(5, 12, b"", EntryKind.NOOP)),
    )
    raw = append_bytes(entry_bytes(5, 11, 0, b"set k v"), entry_bytes(5, 12, 2, b""))
    assert encode_message(msg) == raw
    decoded = decode_message(raw)
    assert isinstance(decoded, AppendRequest)
    assert [type(e.kind) for e in decoded.entries] == [EntryKind, EntryKind]
    # A backup writes the records it received as they are.
    assert [e.record for e in decoded.entries] == [
        entry_bytes(5, 11, 0, b"set k v"),
        entry_bytes(5, 12, 2, b""),
    ]


def test_an_entry_whose_checksum_does_not_match_is_refused() -> None:
    good = entry_bytes(1, 1, 0, b"value")
    bad = entry_bytes(1, 2, 0, b"value", crc=google_crc32c.value(good) ^ 1)
    with pytest.raises(MessageDecodeError, match="entry 1 fails its checksum"):
        decode_message(append_bytes(good, bad))


def test_an_entry_shorter_than_its_header_is_refused() -> None:
    with pytest.raises(MessageDecodeError, match="entry 0 claims 16 record bytes, below"):
        decode_message(append_bytes(entry_bytes(1, 1, 0, b"", size=16)))


def conf_bytes(*, voters: int | None = None, addresses: int | None = None) -> bytes:
    """ConfState((1, 2), (3,), (), ((1, "h:1"),)), with optional lying counts."""
    return (
        u32(2 if voters is None else voters)
        + u64(1)
        + u64(2)
        + u32(1)
        + u64(3)
        + u32(0)
        + u32(1 if addresses is None else addresses)
        + u64(1)
        + u32(3)
        + b"h:1"
    )


def chunk_bytes(conf: bytes, data: bytes = b"snap", *, done: int = 1) -> bytes:
    # frm to term offset, done, meta index and term, conf, data
    return head(7, 1, 2, 3, 16) + u8(done) + u64(40) + u64(3) + conf + u32(len(data)) + data


def test_snapshot_chunk_layout_carries_the_membership() -> None:
    conf = ConfState((1, 2), (3,), (), ((1, "h:1"),))
    msg = SnapshotChunk(1, 2, 3, SnapshotMeta(40, 3, conf), offset=16, data=b"snap", done=True)
    assert encode_message(msg) == chunk_bytes(conf_bytes())


def test_read_index_layouts() -> None:
    assert encode_message(ReadIndexRequest(1, 2, 3, b"ctx")) == head(10, 1, 2, 3) + u32(3) + b"ctx"
    response = ReadIndexResponse(1, 2, 3, b"ctx", index=42)
    assert encode_message(response) == head(11, 1, 2, 3, 42) + u32(3) + b"ctx"


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda cls: cls.__name__)
@settings(max_examples=8)
@given(data=st.data())
def test_every_strict_prefix_and_any_trailing_byte_is_refused(
    cls: type[Any], data: st.DataObject
) -> None:
    raw = encode_message(data.draw(messages_of(cls)))
    for cut in range(len(raw)):
        with pytest.raises(MessageDecodeError, match="truncated"):
            decode_message(raw[:cut])
    with pytest.raises(MessageDecodeError, match="trailing"):
        decode_message(raw + b"\x00")


@pytest.mark.parametrize("version", [0, CODEC_VERSION + 1, 255])
def test_other_codec_versions_are_refused(version: int) -> None:
    raw = bytearray(encode_message(minimal(Heartbeat)))
    raw[0] = version
    with pytest.raises(MessageDecodeError, match=f"unsupported codec version {version}"):
        decode_message(bytes(raw))


@pytest.mark.parametrize("tag", [0, 12, 255])
def test_unknown_tags_are_refused(tag: int) -> None:
    with pytest.raises(MessageDecodeError, match=f"unknown message tag {tag}"):
        decode_message(head(tag, 1, 2, 3))


def test_unknown_entry_kind_is_refused() -> None:
    raw = append_bytes(entry_bytes(1, 1, 0, b"a"), entry_bytes(1, 2, 3, b"b"))
    with pytest.raises(MessageDecodeError, match="entry 1 has unknown kind 3"):
        decode_message(raw)


def test_a_bool_byte_other_than_0_or_1_is_refused() -> None:
    assert decode_message(head(2, 1, 2, 3) + u8(1) + u8(0)) == VoteResponse(1, 2, 3, True)
    with pytest.raises(MessageDecodeError, match="granted must be 0 or 1, got 2"):
        decode_message(head(2, 1, 2, 3) + u8(2) + u8(0))
    with pytest.raises(MessageDecodeError, match="done must be 0 or 1"):
        decode_message(chunk_bytes(conf_bytes(), done=255))


def test_an_address_that_is_not_utf8_is_refused() -> None:
    raw = chunk_bytes(conf_bytes()).replace(b"h:1", b"h:\xff")
    with pytest.raises(MessageDecodeError, match="UTF-8"):
        decode_message(raw)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (append_bytes(count=2**32 - 1), "claims 4294967295 entries, only 0 bytes left"),
        (append_bytes(entry_bytes(1, 1, 0, b"abc", size=2**32 - 1)), "claims 4294967295 record"),
        (head(10, 1, 2, 3) + u32(2**32 - 1) + b"ctx", "ctx needs 4294967295 bytes"),
        (chunk_bytes(conf_bytes(voters=2**32 - 1)), "voters needs 34359738360 bytes"),
        (chunk_bytes(conf_bytes(addresses=2**32 - 1)), "claims 4294967295 addresses"),
        (chunk_bytes(conf_bytes()[:-7] + u32(2**32 - 1) + b"h:1"), "address needs 4294967295"),
    ],
    ids=["entry-count", "entry-data", "ctx", "voters", "addresses", "address-text"],
)
def test_a_huge_claimed_length_is_refused_without_allocating_it(raw: bytes, complaint: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(MessageDecodeError, match=f"truncated.*{complaint}"):
            decode_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


@settings(max_examples=300)
@given(raw=st.binary(max_size=120))
def test_random_bytes_decode_canonically_or_are_refused(raw: bytes) -> None:
    assert_canonical_or_refused(raw)


@settings(max_examples=300)
@given(tag=st.integers(0, 12), body=st.binary(max_size=120))
def test_random_bodies_behind_a_valid_header_decode_canonically_or_are_refused(
    tag: int, body: bytes
) -> None:
    assert_canonical_or_refused(u8(CODEC_VERSION) + u8(tag) + body)


@settings(max_examples=300)
@given(msg=any_message, data=st.data())
def test_a_corrupted_byte_decodes_canonically_or_is_refused(msg: Any, data: st.DataObject) -> None:
    raw = bytearray(encode_message(msg))
    raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    assert_canonical_or_refused(bytes(raw))


# --- encoding errors --------------------------------------------------------------------


@pytest.mark.parametrize("term", [-1, 2**64])
def test_encoding_an_integer_outside_u64_is_a_value_error(term: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_message(Heartbeat(1, 2, term, 0))
    with pytest.raises(ValueError, match="out of range"):
        encode_message(AppendRequest(1, 2, 1, 0, 0, (Entry(term, 1),), 0))


def test_encoding_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a replication message"):
        encode_message(Entry(1, 1))  # type: ignore[arg-type]
