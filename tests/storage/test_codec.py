"""The mutation codec: exact round trips, a pinned byte layout, strict rejection of bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_helpers import (
    appends,
    deletes,
    flush_alls,
    mutations,
    renames,
    set_expiries,
    set_ranges,
    set_values,
)

from tandemkv.storage.codec import (
    CODEC_VERSION,
    MAX_BATCH_DEPTH,
    _encode_into,
    decode_mutation,
    encode_batch,
    encode_mutation,
)
from tandemkv.storage.errors import MutationDecodeError
from tandemkv.storage.mutation import (
    Append,
    Batch,
    Delete,
    FlushAll,
    Mutation,
    Rename,
    SetExpiry,
    SetRange,
    SetValue,
)

SAMPLES: list[Mutation] = [
    SetValue(b"k", b"v"),
    SetValue(b"key", b"value", 1_700_000_000_000),
    SetValue(b"key", b"", None, keep_ttl=True),
    Append(b"log", b"line\n"),
    SetRange(b"s", 300, b"xyz"),
    Delete((b"a", b"bb", b"")),
    Delete(()),
    SetExpiry(b"k", 5),
    SetExpiry(b"k", None),
    SetExpiry(b"k", -1),
    Rename(b"old", b"new"),
    FlushAll(),
    Batch((SetValue(b"a", b"1"), Batch((Delete((b"b",)),)), FlushAll())),
    Batch(()),
]


@pytest.mark.parametrize(
    "strategy",
    [set_values, appends, set_ranges, deletes, set_expiries, renames, flush_alls],
    ids=["SetValue", "Append", "SetRange", "Delete", "SetExpiry", "Rename", "FlushAll"],
)
@given(data=st.data())
def test_every_mutation_type_round_trips(
    strategy: st.SearchStrategy[Mutation], data: st.DataObject
) -> None:
    mutation = data.draw(strategy)
    assert decode_mutation(encode_mutation(mutation)) == mutation


@given(mutations)
def test_nested_batches_round_trip_and_encoding_is_canonical(mutation: Mutation) -> None:
    encoded = encode_mutation(mutation)
    decoded = decode_mutation(encoded)
    assert decoded == mutation
    assert encode_mutation(decoded) == encoded


def test_byte_layout_is_pinned() -> None:
    # Changing these bytes breaks every existing log: bump CODEC_VERSION instead.
    assert encode_mutation(SetValue(b"k", b"v")) == bytes([1, 1, 0, 1]) + b"k" + bytes([1]) + b"v"
    assert encode_mutation(SetValue(b"k", b"v", 1, True)) == bytes(
        [1, 1, 3, 1, ord("k"), 1, ord("v"), 2]
    )
    assert encode_mutation(SetRange(b"s", 300, b"")) == bytes([1, 3, 1, ord("s"), 0xAC, 0x02, 0])
    assert encode_mutation(Delete((b"a", b"b"))) == bytes([1, 4, 2, 1, ord("a"), 1, ord("b")])
    assert encode_mutation(SetExpiry(b"k", -1)) == bytes([1, 5, 1, 1, ord("k"), 1])
    assert encode_mutation(FlushAll()) == bytes([1, 7])
    assert encode_mutation(Batch((FlushAll(),))) == bytes([1, 8, 1, 7])


@pytest.mark.parametrize("mutation", SAMPLES, ids=repr)
def test_every_truncation_is_rejected(mutation: Mutation) -> None:
    encoded = encode_mutation(mutation)
    for cut in range(len(encoded)):
        with pytest.raises(MutationDecodeError):
            decode_mutation(encoded[:cut])


@pytest.mark.parametrize("mutation", SAMPLES, ids=repr)
def test_trailing_bytes_are_rejected(mutation: Mutation) -> None:
    with pytest.raises(MutationDecodeError, match="trailing"):
        decode_mutation(encode_mutation(mutation) + b"\x00")


@given(st.binary(max_size=64))
def test_garbage_only_ever_raises_the_codec_error(garbage: bytes) -> None:
    try:
        mutation = decode_mutation(garbage)
    except MutationDecodeError:
        return
    assert encode_mutation(mutation) == garbage  # anything accepted is a canonical encoding


def test_unknown_version_names_the_problem() -> None:
    data = bytearray(encode_mutation(FlushAll()))
    data[0] = CODEC_VERSION + 1
    with pytest.raises(MutationDecodeError, match="version 2"):
        decode_mutation(bytes(data))


def test_unknown_tag_and_flag_bits_are_rejected() -> None:
    with pytest.raises(MutationDecodeError, match="unknown mutation tag 99"):
        decode_mutation(bytes([CODEC_VERSION, 99]))
    with pytest.raises(MutationDecodeError, match="flag"):
        decode_mutation(bytes([CODEC_VERSION, 1, 0x04, 0, 0]))


def test_non_canonical_and_overlong_varints_are_rejected() -> None:
    # SetRange offset 0 written as two bytes (0x80 0x00) instead of one.
    with pytest.raises(MutationDecodeError, match="non-canonical"):
        decode_mutation(bytes([CODEC_VERSION, 3, 0, 0x80, 0x00, 0]))
    with pytest.raises(MutationDecodeError, match="longer than 10"):
        decode_mutation(bytes([CODEC_VERSION, 3, 0]) + b"\xff" * 11)
    with pytest.raises(MutationDecodeError, match="non-canonical"):
        decode_mutation(bytes([CODEC_VERSION, 3, 0]) + b"\xff" * 9 + b"\x7f" + b"\x00")


def test_length_field_larger_than_data_does_not_allocate() -> None:
    huge = b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f"  # a 2**63-1 byte key
    with pytest.raises(MutationDecodeError, match="runs past the end"):
        decode_mutation(bytes([CODEC_VERSION, 2]) + huge)


def test_huge_counts_fail_on_missing_data() -> None:
    with pytest.raises(MutationDecodeError):
        decode_mutation(bytes([CODEC_VERSION, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]))


def test_nesting_depth_is_capped_both_ways() -> None:
    deep: Mutation = FlushAll()
    for _ in range(MAX_BATCH_DEPTH):
        deep = Batch((deep,))
    assert decode_mutation(encode_mutation(deep)) == deep
    with pytest.raises(ValueError, match="nested deeper"):
        encode_mutation(Batch((deep,)))
    hostile = bytes([CODEC_VERSION]) + bytes([8, 1]) * (MAX_BATCH_DEPTH + 1) + bytes([7])
    with pytest.raises(MutationDecodeError, match="nested deeper"):
        decode_mutation(hostile)


def test_negative_offsets_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        encode_mutation(SetRange(b"k", -1, b""))


@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda k, v: bytes([1, 1, 0, len(k)]) + k + bytes([len(v)]) + v,
            st.binary(max_size=130),
            st.binary(max_size=130),
        ),
    )
)
def test_the_plain_set_shortcut_agrees_with_the_general_decoder(data: bytes) -> None:
    """bytes take a shortcut for plain SETs; a memoryview always takes the strict path."""
    assert decoded_or_error(data) == decoded_or_error(memoryview(data))


def decoded_or_error(data: bytes | memoryview) -> object:
    try:
        return decode_mutation(data)
    except MutationDecodeError:
        return MutationDecodeError


plain_set_items = st.builds(
    lambda k, v: bytes([1, 0, len(k)]) + k + bytes([len(v)]) + v,
    st.binary(max_size=130),
    st.binary(max_size=130),
)


@given(
    count=st.integers(0, 5),
    items=st.lists(plain_set_items | st.binary(max_size=12), max_size=5),
    cut=st.integers(0, 8),
)
def test_the_batch_shortcut_for_plain_sets_agrees_with_the_general_decoder(
    count: int, items: list[bytes], cut: int
) -> None:
    """An MSET's batch of SETs decodes without a Reader call per field when it arrives as
    bytes; well-formed, lying about its count, cut short or mixed with garbage, it must
    decode (or fail) exactly as the strict path does on a memoryview."""
    body = bytes([1, 8, count]) + b"".join(items)
    for data in (body, body[: max(0, len(body) - cut)]):
        assert decoded_or_error(data) == decoded_or_error(memoryview(data))


@given(
    key=st.binary(max_size=130),
    value=st.binary(max_size=130),
    expire_at_ms=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    keep_ttl=st.booleans(),
)
def test_the_plain_set_encoding_shortcut_writes_the_general_encoding(
    key: bytes, value: bytes, expire_at_ms: int | None, keep_ttl: bool
) -> None:
    """Short keys and values without expiry take a shortcut; its bytes must be exactly the
    general encoder's: what an older node or a log replay reads."""
    mutation = SetValue(key, value, expire_at_ms, keep_ttl)
    general = bytearray([CODEC_VERSION])
    _encode_into(general, mutation, depth=0)
    assert encode_mutation(mutation) == bytes(general)
    assert decode_mutation(encode_mutation(mutation)) == mutation


@given(st.lists(st.one_of(mutations, set_values), max_size=20))
def test_a_turn_batch_encodes_exactly_as_the_general_encoder(items: list[Mutation]) -> None:
    """A node logs a loop turn's writes with encode_batch; replay and backups read it with
    the general decoder, so its bytes must be the general encoding of the same Batch."""
    assert encode_batch(items) == encode_mutation(Batch(tuple(items)))
    assert decode_mutation(encode_batch(items)) == Batch(tuple(items))
