"""The keyspace: lazy and active expiry, the expiry heap, backups' hidden keys, WATCH flags,
mutations applied against a dict model, and the items()/load() round trip."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.storage.keyspace import Keyspace
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

NOW = 1_000_000


@dataclass
class Flag:
    dirty: bool = False
    watched_expired: set[bytes] = field(default_factory=set)


def keyspace_with(*entries: tuple[bytes, bytes, int | None], owns_expiry: bool = True) -> Keyspace:
    ks = Keyspace(owns_expiry=owns_expiry)
    for key, value, deadline in entries:
        ks.load(key, value, deadline)
    return ks


def heap_size(ks: Keyspace) -> int:
    """White-box: the expiry heap's length (stale entries included)."""
    return len(ks._heap)


# ------------------------------------------------------------------ reads and lazy expiry


def test_get_before_and_at_the_deadline() -> None:
    ks = keyspace_with((b"k", b"v", NOW + 10))
    assert ks.get(b"k", NOW + 9) == b"v"
    assert ks.expired == []
    assert ks.get(b"k", NOW + 10) is None  # the deadline itself is already too late
    assert ks.expired == [b"k"]
    assert len(ks) == 0 and ks.expire_at(b"k") is None and ks.expiring_count() == 0


def test_lazy_expiry_on_contains() -> None:
    ks = keyspace_with((b"k", b"v", NOW))
    assert not ks.contains(b"k", NOW)
    assert ks.expired == [b"k"] and b"k" not in ks.keys_view()


def test_keys_without_deadline_never_expire() -> None:
    ks = keyspace_with((b"k", b"v", None))
    assert ks.get(b"k", 2**62) == b"v"
    assert ks.expire_cycle(2**62) == 0
    assert ks.next_deadline() is None


def test_live_keys_hides_expired_keys_without_removing_them() -> None:
    ks = keyspace_with((b"a", b"1", NOW), (b"b", b"2", NOW + 1), (b"c", b"3", None))
    assert sorted(ks.live_keys(NOW)) == [b"b", b"c"]
    assert sorted(ks.keys_view()) == [b"a", b"b", b"c"]
    assert len(ks) == 3 and ks.expired == []


def test_expire_at() -> None:
    ks = keyspace_with((b"a", b"1", NOW + 5), (b"b", b"2", None))
    assert ks.expire_at(b"a") == NOW + 5
    assert ks.expire_at(b"b") is None
    assert ks.expire_at(b"nope") is None


# ------------------------------------------------------------------ active expiry


def test_expire_cycle_removes_only_due_keys() -> None:
    ks = keyspace_with(
        (b"a", b"1", NOW - 1), (b"b", b"2", NOW), (b"c", b"3", NOW + 1), (b"d", b"4", None)
    )
    assert ks.next_deadline() == NOW - 1
    assert ks.expire_cycle(NOW) == 2
    assert sorted(ks.expired) == [b"a", b"b"]
    assert sorted(ks.keys_view()) == [b"c", b"d"]
    assert ks.next_deadline() == NOW + 1


def test_expire_cycle_respects_the_budget_and_drains_over_calls() -> None:
    ks = keyspace_with(*[(b"k%d" % i, b"v", NOW - i) for i in range(50)])
    assert ks.expire_cycle(NOW, budget=20) == 20
    assert ks.expire_cycle(NOW, budget=20) == 20
    assert ks.expire_cycle(NOW, budget=20) == 10
    assert ks.expire_cycle(NOW, budget=20) == 0
    assert len(ks) == 0 and len(ks.expired) == 50


def test_expire_cycle_removes_the_earliest_deadlines_first() -> None:
    ks = keyspace_with(*[(b"k%d" % i, b"v", NOW - 100 + i) for i in range(10)])
    ks.expire_cycle(NOW, budget=3)
    assert ks.expired == [b"k0", b"k1", b"k2"]


def test_a_million_expired_keys_cost_one_budget_per_cycle() -> None:
    ks = Keyspace()
    for i in range(1_000_000):
        ks.load(b"%d" % i, b"v", 1 + i)
    assert ks.expire_cycle(NOW * 10, budget=200) == 200
    assert len(ks) == 1_000_000 - 200
    assert len(ks.expired) == 200
    assert ks.expire_cycle(NOW * 10, budget=200) == 200
    assert len(ks) == 1_000_000 - 400


def test_stale_heap_entries_do_not_expire_a_key_early() -> None:
    ks = keyspace_with((b"k", b"v", NOW))
    ks.apply(SetExpiry(b"k", NOW + 100))  # the old (NOW, k) heap entry is now stale
    assert ks.expire_cycle(NOW) == 0
    assert ks.get(b"k", NOW) == b"v"
    assert ks.expire_cycle(NOW + 100) == 1


def test_stale_heap_entries_of_deleted_or_persisted_keys_are_skipped() -> None:
    ks = keyspace_with((b"a", b"1", NOW), (b"b", b"2", NOW), (b"c", b"3", NOW))
    ks.apply(Delete((b"a",)))
    ks.apply(SetExpiry(b"b", None))
    ks.apply(SetValue(b"c", b"new"))  # a plain SET clears the deadline
    assert ks.expire_cycle(NOW) == 0
    assert ks.expired == []
    assert sorted(ks.keys_view()) == [b"b", b"c"]


def test_a_cycle_over_stale_entries_does_bounded_work() -> None:
    ks = Keyspace()
    for i in range(2000):
        ks.load(b"%d" % i, b"v", NOW)
        ks.apply(SetExpiry(b"%d" % i, None))
    before = heap_size(ks)
    assert ks.expire_cycle(NOW, budget=10) == 0
    assert before - heap_size(ks) <= 40  # at most 4 heap pops per unit of budget


def test_heap_stays_bounded_when_one_expiry_is_rewritten_many_times() -> None:
    ks = keyspace_with((b"k", b"v", NOW))
    for i in range(100_000):
        ks.apply(SetExpiry(b"k", NOW + i))
    assert heap_size(ks) <= 2 * ks.expiring_count() + 1025
    assert ks.expire_at(b"k") == NOW + 99_999
    assert ks.expire_cycle(NOW + 99_998) == 0
    assert ks.expire_cycle(NOW + 99_999) == 1


def test_heap_stays_bounded_when_many_expiries_are_rewritten() -> None:
    ks = Keyspace()
    for i in range(3000):
        ks.load(b"%d" % i, b"v", NOW + i)
    for round_ in range(10):
        for i in range(3000):
            ks.apply(SetExpiry(b"%d" % i, NOW + 10_000 * (round_ + 1) + i))
    assert heap_size(ks) <= 2 * ks.expiring_count() + 1025
    assert ks.expire_cycle(NOW + 100_000 + 2999, budget=10_000) == 3000


def test_flushall_empties_the_expiry_index() -> None:
    ks = keyspace_with((b"a", b"1", NOW), (b"b", b"2", None))
    ks.apply(FlushAll())
    assert len(ks) == 0 and ks.expiring_count() == 0 and ks.next_deadline() is None
    assert ks.expire_cycle(NOW) == 0


# ------------------------------------------------------------------ backups


def test_backup_hides_expired_keys_but_keeps_them() -> None:
    ks = keyspace_with((b"k", b"v", NOW), (b"live", b"x", None), owns_expiry=False)
    assert ks.get(b"k", NOW) is None
    assert not ks.contains(b"k", NOW)
    assert ks.live_keys(NOW) == [b"live"]
    assert ks.expire_cycle(NOW) == 0
    assert ks.expired == []
    assert len(ks) == 2
    assert sorted(ks.items()) == [(b"k", b"v", NOW), (b"live", b"x", None)]


def test_backup_removes_the_key_when_the_primary_says_so() -> None:
    ks = keyspace_with((b"k", b"v", NOW), owns_expiry=False)
    ks.apply(Delete((b"k",)))
    assert len(ks) == 0 and ks.expiring_count() == 0


def test_backup_does_not_dirty_watchers_on_hidden_expiry() -> None:
    ks = keyspace_with((b"k", b"v", NOW), owns_expiry=False)
    flag = Flag()
    ks.watch(b"k", flag)
    assert ks.get(b"k", NOW) is None
    assert not flag.dirty


# ------------------------------------------------------------------ WATCH flags

MODIFICATIONS: list[tuple[str, list[Mutation]]] = [
    ("set", [SetValue(b"k", b"new")]),
    ("set same value", [SetValue(b"k", b"v")]),
    ("set keepttl", [SetValue(b"k", b"new", keep_ttl=True)]),
    ("set with expiry", [SetValue(b"k", b"v", NOW + 5)]),
    ("append", [Append(b"k", b"x")]),
    ("append nothing", [Append(b"k", b"")]),
    ("setrange", [SetRange(b"k", 0, b"x")]),
    ("delete", [Delete((b"other", b"k"))]),
    ("expire", [SetExpiry(b"k", NOW + 5)]),
    ("persist", [SetExpiry(b"k", None)]),
    ("rename from", [Rename(b"k", b"elsewhere")]),
    ("rename onto", [Rename(b"other", b"k")]),
    ("flushall", [FlushAll()]),
    ("batch", [Batch((SetValue(b"x", b"1"), Delete((b"k",))))]),
]


@pytest.mark.parametrize(("name", "mutations"), MODIFICATIONS, ids=[m[0] for m in MODIFICATIONS])
def test_every_modification_dirties_a_watcher(name: str, mutations: list[Mutation]) -> None:
    ks = keyspace_with((b"k", b"v", None), (b"other", b"o", None))
    flag, bystander = Flag(), Flag()
    ks.watch(b"k", flag)
    ks.watch(b"unrelated", bystander)
    for mutation in mutations:
        ks.apply(mutation)
    assert flag.dirty
    assert not bystander.dirty


def test_creating_a_watched_key_dirties_it() -> None:
    for mutation in (
        SetValue(b"k", b"v"),
        Append(b"k", b"v"),
        SetRange(b"k", 2, b"v"),
        Rename(b"other", b"k"),
    ):
        ks = keyspace_with((b"other", b"o", None))
        flag = Flag()
        ks.watch(b"k", flag)
        ks.apply(mutation)
        assert flag.dirty, mutation


@pytest.mark.parametrize(
    "mutation",
    [
        Delete((b"k",)),
        SetExpiry(b"k", NOW + 5),
        SetExpiry(b"k", None),
        Rename(b"k", b"x"),
        FlushAll(),
        SetValue(b"other", b"1"),
    ],
)
def test_no_op_mutations_of_an_absent_key_leave_the_watcher_clean(mutation: Mutation) -> None:
    ks = keyspace_with((b"other", b"o", None))
    flag = Flag()
    ks.watch(b"k", flag)
    ks.apply(mutation)
    assert not flag.dirty


@pytest.mark.parametrize("how", ["lazy", "active"])
def test_expiry_dirties_a_watcher(how: str) -> None:
    ks = keyspace_with((b"k", b"v", NOW))
    flag = Flag()
    ks.watch(b"k", flag)
    if how == "lazy":
        ks.get(b"k", NOW)
    else:
        ks.expire_cycle(NOW)
    assert flag.dirty


def test_every_watcher_of_a_key_is_dirtied_and_unwatch_stops_it() -> None:
    ks = keyspace_with((b"k", b"v", None))
    first, second, gone = Flag(), Flag(), Flag()
    for flag in (first, second, gone):
        ks.watch(b"k", flag)
    ks.unwatch(b"k", gone)
    ks.unwatch(b"never-watched", gone)
    ks.apply(SetValue(b"k", b"w"))
    assert first.dirty and second.dirty and not gone.dirty


# ------------------------------------------------------------------ apply semantics


def test_setvalue_and_keepttl() -> None:
    ks = keyspace_with((b"k", b"v", NOW + 10))
    ks.apply(SetValue(b"k", b"w", keep_ttl=True))
    assert list(ks.items()) == [(b"k", b"w", NOW + 10)]
    ks.apply(SetValue(b"k", b"x"))
    assert list(ks.items()) == [(b"k", b"x", None)]
    ks.apply(SetValue(b"k", b"y", NOW + 20))
    assert list(ks.items()) == [(b"k", b"y", NOW + 20)]


def test_append_and_setrange_keep_the_deadline_and_pad() -> None:
    ks = keyspace_with((b"k", b"ab", NOW + 10))
    ks.apply(Append(b"k", b"cd"))
    ks.apply(SetRange(b"k", 6, b"z"))
    ks.apply(SetRange(b"k", 1, b"XY"))
    assert list(ks.items()) == [(b"k", b"aXYd\x00\x00z", NOW + 10)]
    ks.apply(Append(b"new", b""))
    ks.apply(SetRange(b"pad", 2, b"q"))
    assert ks.get(b"new", NOW) == b"" and ks.get(b"pad", NOW) == b"\x00\x00q"


def test_rename_moves_the_deadline_and_replaces_the_destination() -> None:
    ks = keyspace_with((b"a", b"1", NOW + 10), (b"b", b"2", NOW + 99), (b"c", b"3", None))
    ks.apply(Rename(b"a", b"b"))
    ks.apply(Rename(b"c", b"d"))
    ks.apply(Rename(b"nope", b"d"))
    assert sorted(ks.items()) == [(b"b", b"1", NOW + 10), (b"d", b"3", None)]
    assert ks.expire_cycle(NOW + 10) == 1
    assert ks.expire_cycle(NOW + 99) == 0


def test_setexpiry_on_an_absent_key_does_nothing() -> None:
    ks = Keyspace()
    ks.apply(SetExpiry(b"k", NOW))
    assert len(ks) == 0 and ks.expiring_count() == 0


# ------------------------------------------------------------------ model and round trip

KEYS = st.sampled_from([b"a", b"b", b"c"])
VALS = st.binary(max_size=4)
DEADLINES = st.one_of(st.none(), st.integers(NOW - 5, NOW + 5))
mutations: st.SearchStrategy[Mutation] = st.deferred(
    lambda: st.one_of(
        st.builds(SetValue, KEYS, VALS, DEADLINES, st.booleans()),
        st.builds(Append, KEYS, VALS),
        st.builds(SetRange, KEYS, st.integers(0, 6), VALS),
        st.builds(Delete, st.lists(KEYS, max_size=3).map(tuple)),
        st.builds(SetExpiry, KEYS, DEADLINES),
        st.builds(Rename, KEYS, KEYS),
        st.just(FlushAll()),
        st.builds(Batch, st.lists(mutations, max_size=3).map(tuple)),
    )
)


def model_apply(model: dict[bytes, tuple[bytes, int | None]], m: Mutation) -> None:
    """What each mutation means, written as plainly as possible."""
    if isinstance(m, SetValue):
        old = model.get(m.key)
        deadline = (old[1] if old else None) if m.keep_ttl else m.expire_at_ms
        model[m.key] = (m.value, deadline)
    elif isinstance(m, Append):
        value, deadline = model.get(m.key, (b"", None))
        model[m.key] = (value + m.suffix, deadline)
    elif isinstance(m, SetRange):
        value, deadline = model.get(m.key, (b"", None))
        value = value.ljust(m.offset, b"\x00")
        model[m.key] = (value[: m.offset] + m.data + value[m.offset + len(m.data) :], deadline)
    elif isinstance(m, Delete):
        for key in m.keys:
            model.pop(key, None)
    elif isinstance(m, SetExpiry):
        if m.key in model:
            model[m.key] = (model[m.key][0], m.expire_at_ms)
    elif isinstance(m, Rename):
        if m.src in model:
            model[m.dst] = model.pop(m.src)
    elif isinstance(m, FlushAll):
        model.clear()
    else:
        for item in m.items:
            model_apply(model, item)


@settings(max_examples=300, deadline=None)
@given(st.lists(mutations, max_size=25))
def test_apply_matches_a_dict_model(script: list[Mutation]) -> None:
    ks = Keyspace()
    model: dict[bytes, tuple[bytes, int | None]] = {}
    for mutation in script:
        ks.apply(mutation)
        model_apply(model, mutation)
    assert sorted(ks.items()) == sorted((k, v, d) for k, (v, d) in model.items())
    assert ks.expiring_count() == sum(d is not None for _, d in model.values())
    due = sorted(k for k, (_, d) in model.items() if d is not None and d <= NOW)
    assert ks.expire_cycle(NOW, budget=100) == len(due)
    assert sorted(ks.expired) == due


@settings(max_examples=150, deadline=None)
@given(st.lists(mutations, max_size=25), st.integers(NOW - 6, NOW + 6))
def test_items_load_round_trip(script: list[Mutation], now: int) -> None:
    original = Keyspace()
    for mutation in script:
        original.apply(mutation)
    copy = Keyspace()
    for key, value, deadline in original.items():
        copy.load(key, value, deadline)
    assert sorted(copy.items()) == sorted(original.items())
    assert copy.expiring_count() == original.expiring_count()
    assert sorted(copy.live_keys(now)) == sorted(original.live_keys(now))
    assert copy.expire_cycle(now, 1000) == original.expire_cycle(now, 1000)
    assert sorted(copy.expired) == sorted(original.expired)
    assert sorted(copy.items()) == sorted(original.items())
