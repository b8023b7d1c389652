"""Collection values in the storage layer: the keyspace applies each collection mutation as a
plain model would, and the result survives the log codec and a snapshot round trip."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import COLLECTION_STRATEGIES

from tandemkv.storage import values as values_module
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.errors import CorruptSnapshotError, MutationDecodeError
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import (
    Copy,
    Delete,
    HashDelete,
    HashSet,
    ListInsert,
    ListPop,
    ListPush,
    ListRemove,
    ListSet,
    ListTrim,
    Mutation,
    SetAdd,
    SetExpiry,
    SetRemove,
    SetValue,
    ZSetAdd,
    ZSetRemove,
)
from tandemkv.storage.simfs import SimFileSystem
from tandemkv.storage.snapshot import SnapshotItem, SnapshotMeta, load_snapshot, write_snapshot
from tandemkv.storage.store import keyspace_items, load_items
from tandemkv.storage.values import ValueType, type_name
from tandemkv.storage.zset import SortedSet

NOW = 1_000_000


@pytest.mark.parametrize("name", list(COLLECTION_STRATEGIES))
@given(data=st.data())
def test_every_collection_mutation_round_trips(name: str, data: st.DataObject) -> None:
    mutation = data.draw(COLLECTION_STRATEGIES[name])
    assert decode_mutation(encode_mutation(mutation)) == mutation


def test_collection_layouts_are_pinned() -> None:
    # Logs on disk hold these bytes: a change here needs a new codec version.
    assert encode_mutation(HashSet(b"h", (b"f", b"v"))) == b"\x01\x09\x01h\x01\x01f\x01v"
    assert encode_mutation(ListPush(b"l", (b"a",), True)) == b"\x01\x0b\x01\x01l\x01\x01a"
    assert encode_mutation(ListRemove(b"l", -2, b"x")) == b"\x01\x0f\x01l\x03\x01x"
    assert (
        encode_mutation(ZSetAdd(b"z", (1.5,), (b"m",)))
        == b"\x01\x13\x01z\x01\x00\x00\x00\x00\x00\x00\xf8\x3f\x01m"
    )


def test_a_nan_score_or_an_odd_hash_pair_cannot_be_logged() -> None:
    nan = b"\x01\x13\x01z\x01" + b"\x00\x00\x00\x00\x00\x00\xf8\x7f" + b"\x01m"
    with pytest.raises(MutationDecodeError, match="NaN"):
        decode_mutation(nan)
    with pytest.raises(ValueError, match="pairs"):
        encode_mutation(HashSet(b"h", (b"f",)))


# ------------------------------------------------------------------------ a model


def model_apply(model: dict[bytes, Any], m: Mutation) -> None:
    """What each mutation means, written as plainly as possible."""
    if isinstance(m, HashSet):
        fields = model.setdefault(m.key, {})
        for i in range(0, len(m.pairs), 2):
            fields[m.pairs[i]] = m.pairs[i + 1]
    elif isinstance(m, HashDelete):
        for f in m.fields:
            model.get(m.key, {}).pop(f, None)
    elif isinstance(m, ListPush):
        items = model.setdefault(m.key, [])
        for item in m.items:
            items.insert(0 if m.left else len(items), item)
    elif isinstance(m, ListPop):
        items = model.get(m.key, [])
        if m.left:
            del items[: m.amount]
        else:
            del items[max(0, len(items) - m.amount) :]
    elif isinstance(m, ListSet):
        model[m.key][m.position] = m.value
    elif isinstance(m, ListInsert):
        model[m.key].insert(m.position, m.value)
    elif isinstance(m, ListRemove):
        model_lrem(model[m.key], m.amount, m.value)
    elif isinstance(m, ListTrim):
        model[m.key][:] = model[m.key][m.start : m.stop + 1]
    elif isinstance(m, SetAdd):
        model.setdefault(m.key, set()).update(m.members)
    elif isinstance(m, SetRemove):
        model.get(m.key, set()).difference_update(m.members)
    elif isinstance(m, ZSetAdd):
        model.setdefault(m.key, {}).update(zip(m.members, m.scores, strict=True))
    elif isinstance(m, ZSetRemove):
        for member in m.members:
            model.get(m.key, {}).pop(member, None)
    elif isinstance(m, Delete):
        for key in m.keys:
            model.pop(key, None)
    for key in [k for k, v in model.items() if not v]:
        del model[key]


def model_lrem(items: list[bytes], amount: int, value: bytes) -> None:
    order = list(range(len(items))) if amount >= 0 else list(range(len(items)))[::-1]
    hits = [i for i in order if items[i] == value][: abs(amount) or None]
    for i in sorted(hits, reverse=True):
        del items[i]


def as_model(keyspace: Keyspace) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for key, value, _ in keyspace.items():
        if isinstance(value, deque):
            out[key] = list(value)
        elif isinstance(value, SortedSet):
            out[key] = dict(value.scores)
            assert [m for _, m in value] == sorted(value.scores, key=lambda m: (value.scores[m], m))
        else:
            out[key] = value.copy() if not isinstance(value, bytes) else value
    return out


KEYS = {ValueType.HASH: b"h", ValueType.LIST: b"l", ValueType.SET: b"s", ValueType.ZSET: b"z"}
small = st.sampled_from([b"a", b"b", b"c", b""])


@st.composite
def collection_writes(draw: st.DrawFn, length: int) -> Mutation:
    """A valid write on the current list length (positions in range), on one of four keys."""
    kind = draw(st.sampled_from(list(KEYS)))
    key = KEYS[kind]
    many = st.lists(small, min_size=1, max_size=4).map(tuple)
    if kind is ValueType.HASH:
        pairs = draw(st.lists(st.tuples(small, small), min_size=1, max_size=3))
        return draw(st.sampled_from([HashSet(key, sum(pairs, ())), HashDelete(key, draw(many))]))
    if kind is ValueType.SET:
        return draw(st.sampled_from([SetAdd(key, draw(many)), SetRemove(key, draw(many))]))
    if kind is ValueType.ZSET:
        members = draw(many)
        scores = tuple(draw(st.sampled_from([0.0, 1.5, -2.0, float("inf")])) for _ in members)
        return draw(st.sampled_from([ZSetAdd(key, scores, members), ZSetRemove(key, members)]))
    options: list[Mutation] = [ListPush(key, draw(many), draw(st.booleans()))]
    if length:
        at = draw(st.integers(0, length - 1))
        stop = draw(st.integers(at, length - 1))
        options += [
            ListPop(key, draw(st.integers(1, length + 1)), draw(st.booleans())),
            ListSet(key, at, draw(small)),
            ListInsert(key, draw(st.integers(0, length)), draw(small)),
            ListRemove(key, draw(st.integers(-3, 3)), draw(small)),
            ListTrim(key, at, stop),
        ]
    return draw(st.sampled_from(options))


@settings(max_examples=150)
@given(st.data())
def test_the_keyspace_applies_collections_like_the_model_through_log_and_snapshot(
    data: st.DataObject,
) -> None:
    keyspace, model, logged = Keyspace(), {}, []
    for _ in range(data.draw(st.integers(1, 25))):
        length = len(model.get(b"l", []))
        mutation = data.draw(collection_writes(length))
        keyspace.apply(mutation)
        model_apply(model, mutation)
        logged.append(encode_mutation(mutation))
        assert as_model(keyspace) == model
    replayed = Keyspace()
    for raw in logged:
        replayed.apply(decode_mutation(raw))
    assert as_model(replayed) == model
    assert as_model(snapshot_round_trip(keyspace)) == model


def snapshot_round_trip(keyspace: Keyspace) -> Keyspace:
    fs = SimFileSystem(random.Random(0))
    write_snapshot(fs, SnapshotMeta(1, 1, len(keyspace)), keyspace_items(keyspace))
    snap = load_snapshot(fs)
    assert snap is not None
    restored = Keyspace()
    load_items(restored, snap.items())
    return restored


# --------------------------------------------------------------- big collections


def test_a_big_collection_is_saved_in_chunks_and_loads_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(values_module, "CHUNK_ITEMS", 7)
    keyspace = Keyspace()
    members = tuple(b"%d" % i for i in range(50))
    keyspace.apply(ListPush(b"l", members, False))
    keyspace.apply(ZSetAdd(b"z", tuple(float(i % 5) for i in range(50)), members))
    keyspace.apply(HashSet(b"h", sum(((m, m * 2) for m in members), ())))
    keyspace.apply(SetAdd(b"s", members))
    keyspace.apply(SetValue(b"str", b"v"))
    keyspace.apply(SetExpiry(b"z", NOW + 5))
    items = list(keyspace_items(keyspace))
    assert sum(1 for item in items if not item.continued) == 5
    assert sum(1 for item in items if item.key == b"l") == 8  # 50 items in chunks of 7
    assert all(item.expire_at_ms == NOW + 5 for item in items if item.key == b"z")
    restored = snapshot_round_trip(keyspace)
    assert as_model(restored) == as_model(keyspace)
    assert restored.expire_at(b"z") == NOW + 5
    assert list(restored.get(b"l", 0) or ()) == list(members)  # order kept across chunks


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([SnapshotItem(b"l", b"\x01a", None, ValueType.LIST, True)], "continues a collection"),
        (
            [
                SnapshotItem(b"l", b"\x01a", None, ValueType.LIST),
                SnapshotItem(b"m", b"\x01b", None, ValueType.LIST, True),
            ],
            "different key",
        ),
        (
            [
                SnapshotItem(b"l", b"\x01a", None, ValueType.LIST),
                SnapshotItem(b"l", b"\x01b", None, ValueType.SET, True),
            ],
            "different key or type",
        ),
    ],
)
def test_a_continued_item_must_follow_its_collection(
    items: list[SnapshotItem], message: str
) -> None:
    fs = SimFileSystem(random.Random(0))
    write_snapshot(fs, SnapshotMeta(1, 1, sum(1 for i in items if not i.continued)), items)
    snap = load_snapshot(fs)
    assert snap is not None
    with pytest.raises(CorruptSnapshotError, match=message):
        list(snap.items())


def test_a_string_cannot_continue() -> None:
    fs = SimFileSystem(random.Random(0))
    with pytest.raises(ValueError, match="cannot continue"):
        write_snapshot(fs, SnapshotMeta(1, 1, 0), [SnapshotItem(b"k", b"v", None, 0, True)])


# --------------------------------------------------------------------- semantics


def test_an_emptied_collection_is_removed_with_its_expiry() -> None:
    keyspace = Keyspace()
    keyspace.apply(SetAdd(b"s", (b"a",)))
    keyspace.apply(SetExpiry(b"s", NOW + 100))
    keyspace.apply(SetRemove(b"s", (b"a",)))
    assert keyspace.get(b"s", NOW) is None
    assert keyspace.expiring_count() == 0
    keyspace.apply(SetAdd(b"s", (b"b",)))  # a new set: no deadline inherited
    assert keyspace.expire_at(b"s") is None


def test_copy_is_independent_of_its_source_and_keeps_the_expiry() -> None:
    keyspace = Keyspace()
    keyspace.apply(HashSet(b"h", (b"f", b"1")))
    keyspace.apply(SetExpiry(b"h", NOW + 100))
    keyspace.apply(Copy(b"h", b"h2"))
    keyspace.apply(HashSet(b"h", (b"f", b"2")))
    assert keyspace.get(b"h2", NOW) == {b"f": b"1"}
    assert keyspace.expire_at(b"h2") == NOW + 100


class Flag:
    def __init__(self) -> None:
        self.dirty = False
        self.watched_expired: set[bytes] = set()


@pytest.mark.parametrize(
    "mutation",
    [
        HashSet(b"k", (b"f", b"v")),
        HashDelete(b"k", (b"f",)),
        ListPush(b"k", (b"x",), True),
        SetAdd(b"k", (b"m",)),
        ZSetAdd(b"k", (1.0,), (b"m",)),
    ],
    ids=repr,
)
def test_collection_writes_dirty_a_watch(mutation: Mutation) -> None:
    keyspace = Keyspace()
    if isinstance(mutation, HashDelete):
        keyspace.apply(HashSet(b"k", (b"f", b"v")))
    flag = Flag()
    keyspace.watch(b"k", flag)
    keyspace.apply(mutation)
    assert flag.dirty


def test_type_names_are_redis_names() -> None:
    keyspace = Keyspace()
    keyspace.apply(HashSet(b"h", (b"f", b"v")))
    keyspace.apply(ListPush(b"l", (b"x",), True))
    keyspace.apply(SetAdd(b"s", (b"m",)))
    keyspace.apply(ZSetAdd(b"z", (1.0,), (b"m",)))
    keyspace.apply(SetValue(b"k", b"v"))
    names = {key: type_name(keyspace.get(key, NOW)) for key in (b"h", b"l", b"s", b"z", b"k")}
    assert names == {b"h": b"hash", b"l": b"list", b"s": b"set", b"z": b"zset", b"k": b"string"}
    assert type_name(None) == b"none"
