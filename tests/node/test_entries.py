"""Cutting a turn's writes into log entries: the count promised at propose time is the
count taken at flush, entries stay small, and the payloads decode to the writes in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.node.entries import ENTRY_BYTES, ENTRY_MUTATIONS, EntryCutter
from tandemkv.storage.codec import decode_mutation
from tandemkv.storage.mutation import Batch, Delete, HashSet, Mutation, SetValue, payload_bytes


def flatten(payloads: list[bytes]) -> list[Mutation]:
    out: list[Mutation] = []
    for payload in payloads:
        mutation = decode_mutation(payload)
        out.extend(mutation.items if isinstance(mutation, Batch) else [mutation])
    return out


def test_small_writes_share_an_entry_up_to_the_count() -> None:
    cutter = EntryCutter()
    writes: list[Mutation] = [SetValue(b"k%d" % i, b"v") for i in range(ENTRY_MUTATIONS + 1)]
    assert cutter.add(writes[:10]) == 1
    assert cutter.add(writes[10:]) == 2
    payloads = cutter.take()
    assert len(payloads) == 2
    assert flatten(payloads) == writes
    assert not cutter and cutter.take() == []


def test_large_writes_get_entries_of_their_own() -> None:
    """Two 300 MB SETs in one turn used to share one 600 MB record, which recovery refuses
    to read back (its cap is 528 MB)."""
    cutter = EntryCutter()
    big = b"x" * (ENTRY_BYTES + 1)
    assert cutter.add([SetValue(b"a", b"1")]) == 1
    assert cutter.add([SetValue(b"big1", big)]) == 2
    assert cutter.add([SetValue(b"big2", big), SetValue(b"b", b"2")]) == 4
    payloads = cutter.take()
    assert [len(p) > ENTRY_BYTES for p in payloads] == [False, True, True, False]
    assert [m.key for m in flatten(payloads)] == [b"a", b"big1", b"big2", b"b"]  # type: ignore[union-attr]


def test_a_pipeline_of_large_collection_writes_is_cut_by_its_bytes() -> None:
    """A collection write's second field is a tuple: sizing a batch by its len() counted
    items, so 8 pipelined HSETs of 0.4 MB each went into one 3.2 MB entry."""
    cutter = EntryCutter()
    value = b"x" * (ENTRY_BYTES * 2 // 5)
    hsets: list[Mutation] = [HashSet(b"h%d" % i, (b"f", value)) for i in range(8)]
    assert cutter.add(hsets) == 4
    payloads = cutter.take()
    assert all(len(p) < ENTRY_BYTES for p in payloads)
    assert flatten(payloads) == hsets


def test_a_lone_write_is_encoded_as_itself() -> None:
    cutter = EntryCutter()
    cutter.add([Delete((b"a", b"b"))])
    assert [decode_mutation(p) for p in cutter.take()] == [Delete((b"a", b"b"))]


sizes = st.integers(min_value=0, max_value=ENTRY_BYTES // 3)
writes = st.lists(
    st.lists(sizes.map(lambda n: SetValue(b"k", bytes(n))), min_size=1, max_size=8),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(batches=writes)
def test_the_count_promised_is_the_count_taken(batches: list[list[Mutation]]) -> None:
    cutter = EntryCutter()
    promised = 0
    for batch in batches:
        promised = cutter.add(batch)
    payloads = cutter.take()
    assert len(payloads) == promised
    assert flatten(payloads) == [m for batch in batches for m in batch]
    for payload in payloads:
        mutation = decode_mutation(payload)
        parts = mutation.items if isinstance(mutation, Batch) else (mutation,)
        assert len(parts) == 1 or sum(map(payload_bytes, parts)) <= ENTRY_BYTES
