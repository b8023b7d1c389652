"""SortedSet: the sorted-set value, checked against plain sorting and filtering."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.storage.zset import LexBound, ScoreBound, SortedSet

SCORES = st.sampled_from([-math.inf, -1.5, -0.0, 0.0, 1.0, 2.0, 2.5, math.inf])
MEMBERS = st.binary(max_size=3)


def build(pairs: list[tuple[float, bytes]]) -> SortedSet:
    zset = SortedSet()
    for score, member in pairs:
        zset.add(member, score)
    return zset


def test_add_replaces_a_score_and_discard_removes() -> None:
    zset = build([(1.0, b"a"), (2.0, b"b"), (0.5, b"a")])
    assert list(zset) == [(0.5, b"a"), (2.0, b"b")]
    assert zset.scores == {b"a": 0.5, b"b": 2.0}
    assert zset.discard(b"a") is True
    assert zset.discard(b"a") is False
    assert len(zset) == 1


def test_equal_scores_order_by_member_bytes() -> None:
    zset = build([(1.0, b"b"), (1.0, b"a"), (1.0, b""), (1.0, b"\xff"), (0.0, b"z")])
    assert [m for _, m in zset] == [b"z", b"", b"a", b"b", b"\xff"]
    assert zset.rank(b"a") == 2
    assert zset.rank(b"nope") is None
    assert zset.at(0) == (0.0, b"z")


def test_copy_is_independent() -> None:
    zset = build([(1.0, b"a")])
    clone = zset.copy()
    clone.add(b"b", 2.0)
    assert len(zset) == 1 and len(clone) == 2
    assert zset != clone
    assert zset == build([(1.0, b"a")])


@pytest.mark.parametrize(
    ("low", "high", "members"),
    [
        ((-math.inf, False), (math.inf, False), [b"lo", b"a", b"b", b"hi"]),
        ((math.inf, True), (math.inf, False), []),
        ((math.inf, False), (math.inf, False), [b"hi"]),
        ((-math.inf, True), (math.inf, True), [b"a", b"b"]),
        ((-math.inf, False), (-math.inf, True), []),
        ((1.0, True), (2.0, False), [b"b"]),
        ((2.0, False), (1.0, False), []),
    ],
)
def test_score_bounds(low: ScoreBound, high: ScoreBound, members: list[bytes]) -> None:
    zset = build([(-math.inf, b"lo"), (1.0, b"a"), (2.0, b"b"), (math.inf, b"hi")])
    first, end = zset.score_bounds(low, high)
    assert [m for _, m in zset.pairs(first, end)] == members


def _inside(score: float, low: ScoreBound, high: ScoreBound) -> bool:
    above = score > low[0] if low[1] else score >= low[0]
    below = score < high[0] if high[1] else score <= high[0]
    return above and below


@given(
    st.lists(st.tuples(SCORES, MEMBERS)),
    st.tuples(SCORES, st.booleans()),
    st.tuples(SCORES, st.booleans()),
)
def test_score_bounds_match_filtering(
    pairs: list[tuple[float, bytes]], low: ScoreBound, high: ScoreBound
) -> None:
    zset = build(pairs)
    first, end = zset.score_bounds(low, high)
    expected = [p for p in zset if _inside(p[0], low, high)]
    assert list(zset.pairs(first, end)) == expected
    assert list(zset.pairs(first, end, reverse=True)) == expected[::-1]


def _lex_inside(member: bytes, low: LexBound, high: LexBound) -> bool:
    def above(bound: LexBound) -> bool:
        value, exclusive, infinite = bound
        if infinite:
            return infinite < 0
        assert value is not None
        return member > value if exclusive else member >= value

    def below(bound: LexBound) -> bool:
        value, exclusive, infinite = bound
        if infinite:
            return infinite > 0
        assert value is not None
        return member < value if exclusive else member <= value

    return above(low) and below(high)


LEX_BOUNDS = st.one_of(
    st.just((None, False, -1)),
    st.just((None, False, 1)),
    st.tuples(MEMBERS, st.booleans(), st.just(0)),
)


@given(st.lists(MEMBERS), LEX_BOUNDS, LEX_BOUNDS)
def test_lex_bounds_match_filtering_when_scores_are_equal(
    members: list[bytes], low: LexBound, high: LexBound
) -> None:
    zset = build([(0.0, m) for m in members])
    first, end = zset.lex_bounds(low, high)
    expected = [m for _, m in zset if _lex_inside(m, low, high)]
    assert [m for _, m in zset.pairs(first, end)] == expected


@given(st.lists(st.tuples(SCORES, MEMBERS)), st.integers(0, 10))
def test_ranks_and_by_rank(pairs: list[tuple[float, bytes]], start: int) -> None:
    zset = build(pairs)
    ordered = sorted((s, m) for m, s in zset.scores.items())
    assert list(zset) == ordered
    for rank, (_, member) in enumerate(ordered):
        assert zset.rank(member) == rank
    stop = min(start + 3, len(zset) - 1)
    assert zset.by_rank(start, stop) == ordered[start : stop + 1]


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 1.5, -2.0, 7.0]), st.binary(max_size=3)), max_size=300
    ),
    st.lists(st.binary(max_size=3), max_size=300),
    st.integers(0, 200),
)
def test_bulk_adds_and_removals_keep_the_order_a_one_by_one_set_keeps(
    pairs: list[tuple[float, bytes]], removed: list[bytes], start: int
) -> None:
    """add_many/discard_many rebuild the order in one sort for big batches: the result
    must be the set that adding and discarding one member at a time gives."""
    bulk, single = SortedSet(), SortedSet()
    for i in range(start):
        bulk.add(b"s%d" % i, float(i % 5))
        single.add(b"s%d" % i, float(i % 5))
    bulk.add_many(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
    for score, member in pairs:
        single.add(member, score)
    assert list(bulk) == list(single) and bulk.scores == single.scores
    gone = bulk.discard_many(tuple(removed))
    expected = [member for member in dict.fromkeys(removed) if single.discard(member)]
    assert sorted(gone) == sorted(expected)
    assert list(bulk) == list(single) and bulk.scores == single.scores
