"""Shared helpers for storage tests: hypothesis strategies and small log-entry builders."""

from __future__ import annotations

from hypothesis import strategies as st

from tandemkv.storage.mutation import (
    Append,
    Batch,
    Copy,
    Delete,
    FlushAll,
    HashDelete,
    HashSet,
    ListInsert,
    ListPop,
    ListPush,
    ListRemove,
    ListSet,
    ListTrim,
    Mutation,
    Rename,
    SetAdd,
    SetExpiry,
    SetRange,
    SetRemove,
    SetValue,
    StreamAdd,
    StreamDelete,
    StreamSetId,
    StreamTrim,
    ZSetAdd,
    ZSetRemove,
)
from tandemkv.storage.record import RECORD_OVERHEAD, LogEntry
from tandemkv.storage.segment import SEGMENT_HEADER_SIZE

keys = st.binary(max_size=24)
values = st.binary(max_size=200)
expiries = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)

set_values = st.builds(SetValue, keys, values, expiries, st.booleans())
appends = st.builds(Append, keys, values)
set_ranges = st.builds(SetRange, keys, st.integers(0, 2**64 - 1), values)
deletes = st.builds(Delete, st.lists(keys, max_size=5).map(tuple))
set_expiries = st.builds(SetExpiry, keys, expiries)
renames = st.builds(Rename, keys, keys)
flush_alls = st.just(FlushAll())

elements = st.lists(st.binary(max_size=12), max_size=6).map(tuple)
scores = st.floats(allow_nan=False)
counts = st.integers(0, 2**64 - 1)
hash_sets = st.builds(
    HashSet, keys, st.lists(st.tuples(keys, values), max_size=4).map(lambda ps: sum(ps, ()))
)
hash_deletes = st.builds(HashDelete, keys, elements)
list_pushes = st.builds(ListPush, keys, elements, st.booleans())
list_pops = st.builds(ListPop, keys, counts, st.booleans())
list_sets = st.builds(ListSet, keys, counts, values)
list_inserts = st.builds(ListInsert, keys, counts, values)
list_removes = st.builds(ListRemove, keys, st.integers(-(2**63), 2**63 - 1), values)
list_trims = st.builds(ListTrim, keys, counts, counts)
set_adds = st.builds(SetAdd, keys, elements)
set_removes = st.builds(SetRemove, keys, elements)
zset_adds = st.lists(st.tuples(scores, keys), max_size=4).map(
    lambda pairs: ZSetAdd(b"z", tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
)
zset_removes = st.builds(ZSetRemove, keys, elements)
copies = st.builds(Copy, keys, keys)
stream_ids = st.tuples(counts, counts)
stream_adds = st.builds(
    StreamAdd,
    keys,
    counts,
    counts,
    st.lists(st.tuples(keys, values), min_size=1, max_size=3).map(lambda ps: sum(ps, ())),
)
stream_deletes = st.builds(StreamDelete, keys, st.lists(stream_ids, max_size=4).map(tuple))
stream_trims = st.builds(StreamTrim, keys, counts, counts)
stream_set_ids = st.builds(StreamSetId, keys, stream_ids, counts, stream_ids)
COLLECTION_STRATEGIES = {
    "HashSet": hash_sets,
    "HashDelete": hash_deletes,
    "ListPush": list_pushes,
    "ListPop": list_pops,
    "ListSet": list_sets,
    "ListInsert": list_inserts,
    "ListRemove": list_removes,
    "ListTrim": list_trims,
    "SetAdd": set_adds,
    "SetRemove": set_removes,
    "ZSetAdd": zset_adds,
    "ZSetRemove": zset_removes,
    "Copy": copies,
    "StreamAdd": stream_adds,
    "StreamDelete": stream_deletes,
    "StreamTrim": stream_trims,
    "StreamSetId": stream_set_ids,
}

leaf_mutations = (
    set_values
    | appends
    | set_ranges
    | deletes
    | set_expiries
    | renames
    | flush_alls
    | st.one_of(*COLLECTION_STRATEGIES.values())
)
mutations: st.SearchStrategy[Mutation] = st.recursive(
    leaf_mutations,
    lambda inner: st.builds(Batch, st.lists(inner, max_size=4).map(tuple)),
    max_leaves=12,
)


def log_entries(
    max_data: int = 100,
) -> st.SearchStrategy[LogEntry]:
    return st.builds(
        LogEntry,
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**64 - 1),
        st.integers(0, 255),
        st.binary(max_size=max_data),
    )


DATA = 10  # bytes of data per test entry
SEGMENT = SEGMENT_HEADER_SIZE + 4 * (RECORD_OVERHEAD + DATA)  # four test entries per segment


def entry(index: int, term: int = 1) -> LogEntry:
    return LogEntry(term, index, 0, f"e{index:09d}".encode())


def entries(lo: int, hi: int, term: int = 1) -> list[LogEntry]:
    return [entry(i, term) for i in range(lo, hi)]
