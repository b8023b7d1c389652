"""The linearizability checker on hand-made histories, and on generated ones whose
verdict is known by construction."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.testing.history import History, Operation, Status
from tandemkv.testing.linearizability import Verdict, check


class H:
    """Terse history building: each call gives (call, return) times explicitly."""

    def __init__(self) -> None:
        self.h = History()

    def put(
        self, key: str, value: str, call: float, ret: float | None, status: Status = Status.OK
    ) -> Operation:
        op = self.h.invoke(0, "put", key, call, value)
        self._finish(op, None, ret, status)
        return op

    def get(self, key: str, output: str | None, call: float, ret: float) -> Operation:
        op = self.h.invoke(0, "get", key, call)
        self._finish(op, output, ret, Status.OK)
        return op

    def cas(
        self,
        key: str,
        expected: str,
        value: str,
        output: bool | None,
        call: float,
        ret: float | None,
        status: Status = Status.OK,
    ) -> Operation:
        op = self.h.invoke(0, "cas", key, call, value, expected)
        self._finish(op, output, ret, status)
        return op

    def _finish(
        self, op: Operation, output: str | bool | None, ret: float | None, status: Status
    ) -> None:
        if status is Status.OK:
            assert ret is not None
            History.ok(op, output, ret)
        elif status is Status.FAIL:
            assert ret is not None
            History.fail(op, ret)
        else:
            History.info(op)

    def verdict(self) -> Verdict:
        return check(self.h.ops).verdict


def test_sequential_write_then_read_is_linearizable() -> None:
    h = H()
    h.put("x", "1", 0, 1)
    h.get("x", "1", 2, 3)
    assert h.verdict() is Verdict.OK


def test_a_stale_read_is_caught() -> None:
    h = H()
    h.put("x", "1", 0, 1)
    h.put("x", "2", 2, 3)
    h.get("x", "1", 4, 5)
    result = check(h.h.ops)
    assert result.verdict is Verdict.ILLEGAL and result.key == "x"
    assert "get" in result.explain()


def test_a_lost_write_is_caught() -> None:
    h = H()
    h.put("x", "1", 0, 1)
    h.get("x", None, 2, 3)
    assert h.verdict() is Verdict.ILLEGAL


def test_a_read_of_a_value_never_written_is_caught() -> None:
    h = H()
    h.put("x", "1", 0, 1)
    h.get("x", "ghost", 2, 3)
    assert h.verdict() is Verdict.ILLEGAL


def test_reads_concurrent_with_a_write_may_see_either_value_but_not_go_back() -> None:
    ok = H()
    ok.put("x", "1", 0, 10)
    ok.get("x", None, 1, 2)
    ok.get("x", "1", 3, 4)
    assert ok.verdict() is Verdict.OK
    bad = H()
    bad.put("x", "1", 0, 10)
    bad.get("x", "1", 1, 2)
    bad.get("x", None, 3, 4)
    assert bad.verdict() is Verdict.ILLEGAL


def test_a_write_with_unknown_outcome_may_take_effect_late_or_never() -> None:
    late = H()
    late.put("x", "1", 0, None, Status.INFO)
    late.get("x", None, 5, 6)
    late.get("x", "1", 7, 8)
    assert late.verdict() is Verdict.OK
    never = H()
    never.put("x", "1", 0, None, Status.INFO)
    never.get("x", None, 5, 6)
    assert never.verdict() is Verdict.OK
    flip_flop = H()
    flip_flop.put("x", "1", 0, None, Status.INFO)
    flip_flop.get("x", "1", 5, 6)
    flip_flop.get("x", None, 7, 8)
    assert flip_flop.verdict() is Verdict.ILLEGAL


def test_a_failed_write_did_not_happen() -> None:
    h = H()
    h.put("x", "1", 0, 1, Status.FAIL)
    h.get("x", "1", 2, 3)
    assert h.verdict() is Verdict.ILLEGAL


def test_compare_and_set_results_must_match_the_register() -> None:
    ok = H()
    ok.put("x", "a", 0, 1)
    ok.cas("x", "a", "b", True, 2, 3)
    ok.cas("x", "a", "c", False, 4, 5)
    ok.get("x", "b", 6, 7)
    assert ok.verdict() is Verdict.OK
    wrong_success = H()
    wrong_success.put("x", "a", 0, 1)
    wrong_success.cas("x", "a", "b", True, 2, 3)
    wrong_success.cas("x", "a", "c", True, 4, 5)
    assert wrong_success.verdict() is Verdict.ILLEGAL
    wrong_failure = H()
    wrong_failure.put("x", "a", 0, 1)
    wrong_failure.cas("x", "a", "b", False, 2, 3)
    assert wrong_failure.verdict() is Verdict.ILLEGAL


def test_a_cas_with_unknown_outcome_may_or_may_not_have_applied() -> None:
    h = H()
    h.put("x", "a", 0, 1)
    h.cas("x", "a", "b", None, 2, None, Status.INFO)
    h.get("x", "a", 3, 4)
    h.get("x", "b", 5, 6)
    assert h.verdict() is Verdict.OK


def test_keys_are_checked_independently_and_the_bad_one_is_named() -> None:
    h = H()
    h.put("a", "1", 0, 1)
    h.get("a", "1", 2, 3)
    h.put("b", "1", 0, 1)
    h.get("b", "2", 2, 3)
    result = check(h.h.ops)
    assert result.verdict is Verdict.ILLEGAL and result.key == "b"


def test_the_budget_turns_an_expensive_search_into_unknown() -> None:
    h = H()
    for n in range(14):
        h.put("x", str(n), 0, 100)
    h.get("x", "missing", 101, 102)
    assert check(h.h.ops, max_steps=500).verdict is Verdict.UNKNOWN
    assert check(h.h.ops).verdict is Verdict.ILLEGAL


def test_final_reads_expose_a_lost_write_nobody_read_during_the_run() -> None:
    h = H()
    h.put("x", "1", 0, 1)
    h.put("x", "2", 2, None, Status.INFO)
    h.h.record_final_reads({"x": "1"}, 10)
    assert h.verdict() is Verdict.OK  # the unknown write may never have happened
    lost = H()
    lost.put("x", "1", 0, 1)
    lost.put("x", "2", 2, 3)  # acknowledged
    assert lost.verdict() is Verdict.OK
    lost.h.record_final_reads({"x": "1"}, 10)
    assert lost.verdict() is Verdict.ILLEGAL


def test_histories_round_trip_through_plain_records() -> None:
    h = H()
    h.put("x", "1", 0, 1)
    h.cas("x", "1", "2", None, 2, None, Status.INFO)
    again = History.from_records(h.h.to_records())
    assert [op.describe() for op in again.ops] == [op.describe() for op in h.h.ops]


def _random_history(seed: int, ops: int) -> tuple[list[Operation], list[Operation]]:
    """A history made from a sequential run with each op's interval stretched around its
    linearization point; the second list is the same with one get made to lie."""
    rng = random.Random(seed)
    history = History()
    state: dict[str, str | None] = {}
    for n in range(ops):
        key = rng.choice("ab")
        point = n * 10
        call, ret = point - rng.randint(0, 25), point + rng.randint(0, 25)
        kind = rng.choice(("get", "put", "cas"))
        if kind == "get":
            op = history.invoke(n % 3, "get", key, call)
            History.ok(op, state.get(key), ret)
        elif kind == "put":
            op = history.invoke(n % 3, "put", key, call, f"v{n}")
            state[key] = f"v{n}"
            if rng.random() < 0.2:
                History.info(op)
            else:
                History.ok(op, None, ret)
        else:
            expected = state.get(key) if rng.random() < 0.5 else "nope"
            op = history.invoke(n % 3, "cas", key, call, f"v{n}", expected)
            hit = state.get(key) == expected
            if hit:
                state[key] = f"v{n}"
            History.ok(op, hit, ret)
    gets = [op for op in history.ops if op.kind == "get"]
    bad = [Operation(**{s: getattr(op, s) for s in Operation.__slots__}) for op in history.ops]
    if gets:
        bad[gets[len(gets) // 2].id].output = "never-written"
    return history.ops, bad


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), ops=st.integers(1, 40))
def test_generated_linearizable_histories_pass_and_a_lying_read_fails(seed: int, ops: int) -> None:
    good, bad = _random_history(seed, ops)
    assert check(good).verdict is Verdict.OK
    if any(op.kind == "get" for op in good):
        assert check(bad).verdict is Verdict.ILLEGAL


@pytest.mark.parametrize("n", [200])
def test_a_long_concurrent_history_is_checked_quickly(n: int) -> None:
    good, _ = _random_history(12345, n)
    assert check(good, max_seconds=5).verdict is Verdict.OK
