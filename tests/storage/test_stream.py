"""The stream value in the storage layer: its mutations through the codec and the keyspace,
and its snapshot chunks (metadata included, an empty stream too)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.errors import MutationDecodeError
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import (
    Copy,
    Delete,
    Mutation,
    StreamAdd,
    StreamDelete,
    StreamSetId,
    StreamTrim,
)
from tandemkv.storage.store import keyspace_items, load_items
from tandemkv.storage.stream import MAX_ID, Stream, next_id, previous_id
from tandemkv.storage.values import CHUNK_ITEMS, ValueType, copy_value, load_chunk, type_name

U64 = 2**64 - 1


def apply_all(mutations: list[Mutation]) -> Keyspace:
    keyspace = Keyspace()
    for m in mutations:
        keyspace.apply(decode_mutation(encode_mutation(m)))
    return keyspace


def stream_at(keyspace: Keyspace, key: bytes = b"s") -> Stream:
    value = keyspace.get(key, 0)
    assert type(value) is Stream
    return value


def snapshot_copy(keyspace: Keyspace) -> Keyspace:
    restored = Keyspace()
    load_items(restored, keyspace_items(keyspace))
    return restored


def test_layouts_are_pinned() -> None:
    # Logs on disk hold these bytes: a change here needs a new codec version.
    assert (
        encode_mutation(StreamAdd(b"s", 5, 1, (b"f", b"v")))
        == b"\x01\x16\x01s\x05\x01\x01\x01f\x01v"
    )
    assert encode_mutation(StreamDelete(b"s", ((1, 2),))) == b"\x01\x17\x01s\x01\x01\x02"
    assert encode_mutation(StreamTrim(b"s", 3, 0)) == b"\x01\x18\x01s\x03\x00"
    assert (
        encode_mutation(StreamSetId(b"s", (9, 1), 4, (2, 0)))
        == b"\x01\x19\x01s\x09\x01\x04\x02\x00"
    )


def test_an_entry_without_fields_cannot_be_logged_or_read() -> None:
    with pytest.raises(ValueError, match="pair"):
        encode_mutation(StreamAdd(b"s", 1, 1, ()))
    with pytest.raises(ValueError, match="pair"):
        encode_mutation(StreamAdd(b"s", 1, 1, (b"f",)))
    with pytest.raises(MutationDecodeError, match="no fields"):
        decode_mutation(b"\x01\x16\x01s\x05\x01\x00")
    with pytest.raises(MutationDecodeError, match="trailing"):
        decode_mutation(b"\x01\x18\x01s\x03\x00\x00")


def test_add_delete_trim_and_metadata() -> None:
    keyspace = apply_all(
        [
            StreamAdd(b"s", 1, 0, (b"a", b"1")),
            StreamAdd(b"s", 2, 0, (b"a", b"2")),
            StreamAdd(b"s", 3, 5, (b"a", b"3")),
            StreamDelete(b"s", ((2, 0), (7, 7))),
        ]
    )
    stream = stream_at(keyspace)
    assert list(stream.entries) == [(1, 0), (3, 5)]
    assert stream.metadata() == ((3, 5), 3, (2, 0))
    keyspace.apply(StreamTrim(b"s", 3, 5))
    assert len(stream) == 0
    assert stream.first_id == (0, 0)
    # Emptied, the stream stays, with its history: trimming leaves max-deleted alone.
    assert type_name(keyspace.get(b"s", 0)) == b"stream"
    assert stream.metadata() == ((3, 5), 3, (2, 0))
    keyspace.apply(StreamSetId(b"s", (9, 9), 10, (4, 4)))
    assert stream.metadata() == ((9, 9), 10, (4, 4))


def test_range_reads() -> None:
    stream = Stream()
    for ms in range(1, 6):
        stream.add((ms, 0), (b"f", b"%d" % ms))
    assert [sid for sid, _ in stream.range((2, 0), (4, 0))] == [(2, 0), (3, 0), (4, 0)]
    assert [sid for sid, _ in stream.range((0, 0), MAX_ID, 2, reverse=True)] == [(5, 0), (4, 0)]
    assert stream.range((4, 0), (2, 0)) == []
    assert stream.count_below((3, 0)) == 2


def test_id_neighbours_at_the_edges() -> None:
    assert next_id((1, U64)) == (2, 0)
    assert next_id((U64, U64)) is None
    assert previous_id((2, 0)) == (1, U64)
    assert previous_id((0, 0)) is None


def test_copy_is_independent_and_delete_or_copy_work_on_streams() -> None:
    keyspace = apply_all([StreamAdd(b"s", 1, 0, (b"a", b"1")), Copy(b"s", b"d")])
    copied = stream_at(keyspace, b"d")
    keyspace.apply(StreamAdd(b"s", 2, 0, (b"a", b"2")))
    assert len(copied) == 1 and len(stream_at(keyspace)) == 2
    assert copy_value(copied) == copied
    keyspace.apply(Delete((b"s",)))
    assert keyspace.get(b"s", 0) is None


def test_snapshot_keeps_entries_metadata_and_empty_streams() -> None:
    adds: list[Mutation] = [
        StreamAdd(b"big", i, i % 3, (b"f", b"v" * (i % 7))) for i in range(2 * CHUNK_ITEMS + 5)
    ]
    keyspace = apply_all(
        [
            *adds,
            StreamDelete(b"big", ((4, 1),)),
            StreamAdd(b"e", 5, 5, (b"a", b"1")),
            StreamTrim(b"e", 5, 5),
        ]
    )
    items = list(keyspace_items(keyspace))
    assert sum(1 for item in items if item.key == b"big") == 3
    assert all(item.value_type == ValueType.STREAM for item in items)
    restored = snapshot_copy(keyspace)
    assert sorted(restored.items()) == sorted(keyspace.items())
    assert stream_at(restored, b"e").metadata() == ((5, 5), 1, (0, 0))
    assert stream_at(restored, b"big").max_deleted_id == (4, 1)


def test_a_malformed_chunk_is_refused() -> None:
    with pytest.raises(MutationDecodeError, match="format"):
        load_chunk(Stream(), b"\x07")
    with pytest.raises(MutationDecodeError, match="past the last id"):
        load_chunk(Stream(), b"\x00\x01\x00\x01\x00\x00" + b"\x05\x00\x01\x01f\x01v")


@settings(max_examples=60)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(1, 3), st.binary(max_size=3)),
            st.tuples(st.just("del"), st.integers(0, 40), st.integers(0, 2)),
            st.tuples(st.just("trim"), st.integers(0, 40), st.integers(0, 2)),
        ),
        max_size=40,
    )
)
def test_the_keyspace_applies_stream_mutations_as_a_model_does(ops: list[tuple]) -> None:
    model: dict[tuple[int, int], tuple[bytes, ...]] = {}
    last = (0, 0)
    mutations: list[Mutation] = []
    for op, a, b in [("add", 1, b""), *ops]:
        if op == "add":
            last = (last[0] + a, 0)
            mutations.append(StreamAdd(b"s", *last, (b"f", b)))
            model[last] = (b"f", b)
        elif op == "del":
            mutations.append(StreamDelete(b"s", ((a, b),)))
            model.pop((a, b), None)
        else:
            mutations.append(StreamTrim(b"s", a, b))
            model = {sid: f for sid, f in model.items() if sid > (a, b)}
    keyspace = apply_all(mutations)
    assert dict(stream_at(keyspace).entries) == model
    assert sorted(snapshot_copy(keyspace).items()) == sorted(keyspace.items())
