"""The checker's key-value model (INCR, SET IFEQ, DELIFEQ, single-key MULTI/EXEC).

Hand-made histories first, one legal and one not per rule; then histories recorded from
tandemkv's own engine run as a correct, sequential store, which the model must accept,
and which a model with one deliberate bug must reject (so the model is not so loose that
it accepts anything)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.commands.engine import Engine
from tandemkv.commands.session import Session
from tandemkv.protocol.types import ErrorReply
from tandemkv.testing.history import AnyOutput, History, Operation, Output, Status, SubOp
from tandemkv.testing.kv_model import INT64_MAX, NOT_INTEGER, OVERFLOW, run_txn
from tandemkv.testing.linearizability import Model, State, Verdict, check, step

INFO = Status.INFO


class H:
    """Terse history building: ``h.op(kind, call, ret, output, ...)`` on key x; ret None
    means the outcome is unknown."""

    def __init__(self) -> None:
        self.h = History()

    def op(
        self,
        kind: str,
        call: float,
        ret: float | None,
        output: AnyOutput = None,
        value: str | None = None,
        expected: str | None = None,
        steps: Sequence[SubOp] = (),
    ) -> Operation:
        made = self.h.invoke(0, kind, "x", call, value, expected, steps=steps)
        if ret is None:
            History.info(made)
        else:
            History.ok(made, output, ret)
        return made

    def verdict(self, model: Model = step) -> Verdict:
        return check(self.h.ops, model=model).verdict


# ------------------------------------------------------------------------------ INCR


def test_increments_count_from_an_absent_key() -> None:
    h = H()
    h.op("incr", 0, 1, "1")
    h.op("incr", 2, 3, "2")
    h.op("get", 4, 5, "2")
    assert h.verdict() is Verdict.OK


def test_two_concurrent_increments_cannot_both_answer_one() -> None:
    h = H()
    h.op("incr", 0, 5, "1")
    h.op("incr", 1, 6, "1")
    assert h.verdict() is Verdict.ILLEGAL
    either_order = H()
    either_order.op("incr", 0, 5, "2")
    either_order.op("incr", 1, 6, "1")
    assert either_order.verdict() is Verdict.OK


def test_an_increment_must_start_from_the_value_just_written() -> None:
    h = H()
    h.op("put", 0, 1, value="3")
    h.op("incr", 2, 3, "5")
    assert h.verdict() is Verdict.ILLEGAL
    right = H()
    right.op("put", 0, 1, value="3")
    right.op("incr", 2, 3, "4")
    assert right.verdict() is Verdict.OK


def test_an_increment_of_a_word_errs_and_leaves_it() -> None:
    h = H()
    h.op("put", 0, 1, value="three")
    h.op("incr", 2, 3, NOT_INTEGER)
    h.op("get", 4, 5, "three")
    assert h.verdict() is Verdict.OK
    claimed_a_number = H()
    claimed_a_number.op("put", 0, 1, value="three")
    claimed_a_number.op("incr", 2, 3, "1")
    assert claimed_a_number.verdict() is Verdict.ILLEGAL
    erred_on_a_number = H()
    erred_on_a_number.op("put", 0, 1, value="3")
    erred_on_a_number.op("incr", 2, 3, NOT_INTEGER)
    assert erred_on_a_number.verdict() is Verdict.ILLEGAL


@pytest.mark.parametrize("text", ["01", "-0", "+1", " 1", "1 ", "1.0", "", "9223372036854775808"])
def test_what_redis_does_not_count_as_an_integer(text: str) -> None:
    h = H()
    h.op("put", 0, 1, value=text)
    h.op("incr", 2, 3, NOT_INTEGER)
    h.op("get", 4, 5, text)
    assert h.verdict() is Verdict.OK


def test_an_increment_at_the_top_of_the_range_overflows() -> None:
    h = H()
    h.op("put", 0, 1, value=str(INT64_MAX - 1))
    h.op("incr", 2, 3, str(INT64_MAX))
    h.op("incr", 4, 5, OVERFLOW)
    h.op("get", 6, 7, str(INT64_MAX))
    assert h.verdict() is Verdict.OK
    from_the_bottom = H()
    from_the_bottom.op("put", 0, 1, value=str(-INT64_MAX - 1))
    from_the_bottom.op("incr", 2, 3, str(-INT64_MAX))
    assert from_the_bottom.verdict() is Verdict.OK


def test_an_increment_with_unknown_outcome_may_explain_one_or_zero() -> None:
    for seen in ("1", None):
        h = H()
        h.op("incr", 0, None)
        h.op("get", 5, 6, seen)
        assert h.verdict() is Verdict.OK, seen
    twice = H()
    twice.op("incr", 0, None)
    twice.op("get", 5, 6, "2")  # takes effect once at most
    assert twice.verdict() is Verdict.ILLEGAL
    before_its_call = H()
    before_its_call.op("get", 0, 1, "1")
    before_its_call.op("incr", 2, None)
    assert before_its_call.verdict() is Verdict.ILLEGAL


# -------------------------------------------------------------------- SET IFEQ / DELIFEQ


def test_set_ifeq_sets_only_on_an_equal_value_and_never_on_an_absent_key() -> None:
    h = H()
    h.op("set_ifeq", 0, 1, False, value="a", expected="b")  # absent: not set
    h.op("put", 2, 3, value="b")
    h.op("set_ifeq", 4, 5, True, value="a", expected="b")
    h.op("set_ifeq", 6, 7, False, value="c", expected="b")
    h.op("get", 8, 9, "a")
    assert h.verdict() is Verdict.OK
    on_absent = H()
    on_absent.op("set_ifeq", 0, 1, True, value="a", expected="b")
    assert on_absent.verdict() is Verdict.ILLEGAL


def test_set_ifeq_with_unknown_outcome_may_or_may_not_have_set() -> None:
    for seen in ("a", "b"):
        h = H()
        h.op("put", 0, 1, value="b")
        h.op("set_ifeq", 2, None, value="a", expected="b")
        h.op("get", 5, 6, seen)
        assert h.verdict() is Verdict.OK


def test_a_deleted_value_is_not_read_again() -> None:
    h = H()
    h.op("put", 0, 1, value="a")
    h.op("delifeq", 2, 3, True, expected="a")
    h.op("get", 4, 5, "a")
    assert h.verdict() is Verdict.ILLEGAL
    gone = H()
    gone.op("put", 0, 1, value="a")
    gone.op("delifeq", 2, 3, True, expected="a")
    gone.op("get", 4, 5, None)
    assert gone.verdict() is Verdict.OK


def test_delifeq_of_another_value_or_an_absent_key_deletes_nothing() -> None:
    h = H()
    h.op("delifeq", 0, 1, False, expected="a")
    h.op("put", 2, 3, value="b")
    h.op("delifeq", 4, 5, False, expected="a")
    h.op("get", 6, 7, "b")
    assert h.verdict() is Verdict.OK
    claimed = H()
    claimed.op("put", 0, 1, value="b")
    claimed.op("delifeq", 2, 3, True, expected="a")
    assert claimed.verdict() is Verdict.ILLEGAL


def test_comparing_kinds_need_a_value_to_compare_with() -> None:
    with pytest.raises(ValueError, match="expected"):
        History().invoke(0, "delifeq", "x", 0, "a")
    with pytest.raises(ValueError, match="expected"):
        SubOp("set_ifeq", "a")


# -------------------------------------------------------------------------------- txn

INCR_GET = (SubOp("incr"), SubOp("get"))


def test_a_transaction_reads_its_own_increment() -> None:
    h = H()
    h.op("txn", 0, 1, ["1", "1"], steps=INCR_GET)
    assert h.verdict() is Verdict.OK
    blind = H()
    blind.op("txn", 0, 1, ["1", None], steps=INCR_GET)
    assert blind.verdict() is Verdict.ILLEGAL


def test_nothing_comes_between_a_transactions_steps() -> None:
    h = H()
    h.op("txn", 0, 10, ["1", "1"], steps=INCR_GET)
    h.op("incr", 1, 9, "2")
    assert h.verdict() is Verdict.OK
    interleaved = H()
    interleaved.op("txn", 0, 10, ["1", "2"], steps=INCR_GET)
    interleaved.op("incr", 1, 9, "2")
    assert interleaved.verdict() is Verdict.ILLEGAL


def test_a_failing_step_does_not_stop_the_others() -> None:
    steps = (SubOp("put", "w"), SubOp("incr"), SubOp("put", "7"), SubOp("incr"))
    h = H()
    h.op("txn", 0, 1, [None, NOT_INTEGER, None, "8"], steps=steps)
    h.op("get", 2, 3, "8")
    assert h.verdict() is Verdict.OK


def test_a_transaction_with_unknown_outcome_applies_whole_or_not_at_all() -> None:
    steps = (SubOp("put", "a"), SubOp("put", "b"))
    for seen, verdict in (("b", Verdict.OK), (None, Verdict.OK), ("a", Verdict.ILLEGAL)):
        h = H()
        h.op("txn", 0, None, steps=steps)
        h.op("get", 5, 6, seen)
        assert h.verdict() is verdict, seen


def test_a_transaction_of_reads_with_unknown_outcome_is_left_out() -> None:
    h = H()
    h.op("txn", 0, None, steps=(SubOp("get"), SubOp("get")))
    h.op("txn", 1, None, steps=(SubOp("get"), SubOp("incr")))
    h.op("get", 5, 6, "1")
    searched: list[Operation] = []

    def watching(state: State, op: Operation) -> tuple[bool, State]:
        searched.append(op)
        return step(state, op)

    assert check(h.h.ops, model=watching).ok
    assert {op.id for op in searched} == {1, 2}  # not the read-only one


def test_a_transaction_output_must_list_each_step() -> None:
    h = H()
    h.op("txn", 0, 1, ["1"], steps=INCR_GET)
    with pytest.raises(ValueError, match="steps' outputs"):
        check(h.h.ops)
    with pytest.raises(ValueError, match="steps"):
        History().invoke(0, "txn", "x", 0)


def test_transactions_round_trip_through_json_and_read_plainly() -> None:
    h = H()
    h.op("txn", 0, 1, ["1", "1"], steps=INCR_GET)
    h.op("delifeq", 2, None, expected="1")
    again = History.from_records(json.loads(json.dumps(h.h.to_records())))
    assert [op.describe() for op in again.ops] == [op.describe() for op in h.h.ops]
    assert again.ops[0].steps == INCR_GET
    assert "txn(x [incr, get]) = ['1', '1']" in again.ops[0].describe()
    assert "delifeq(x 1)" in again.ops[1].describe()
    assert check(again.ops).ok


# ------------------------------------------------ histories from a correct store (the engine)

VALUES = ("0", "41", "-1", "x", str(INT64_MAX - 1))


class EngineStore:
    """tandemkv's engine as a correct sequential store, driven by the model's kinds."""

    def __init__(self) -> None:
        self.engine = Engine(random.Random(0))
        self.session = Session(id=1, authenticated=True)

    def run(self, key: str, sub: SubOp) -> Output:
        return _output(sub.kind, self._execute(_command(key, sub)))

    def run_txn(self, key: str, steps: Sequence[SubOp]) -> list[Output]:
        self._execute(["MULTI"])
        for sub in steps:
            self._execute(_command(key, sub))
        replies = self._execute(["EXEC"])
        assert isinstance(replies, list)
        return [_output(sub.kind, reply) for sub, reply in zip(steps, replies, strict=True)]

    def value(self, key: str) -> str | None:
        value = _output("get", self._execute(["GET", key]))
        assert not isinstance(value, bool)
        return value

    def _execute(self, words: list[str]) -> object:
        return self.engine.execute(self.session, [w.encode() for w in words])


def _command(key: str, sub: SubOp) -> list[str]:
    commands = {
        "get": lambda: ["GET", key],
        "put": lambda: ["SET", key, str(sub.value)],
        "del": lambda: ["DEL", key],
        "set_ifeq": lambda: ["SET", key, str(sub.value), "IFEQ", str(sub.expected)],
        "delifeq": lambda: ["DELIFEQ", key, str(sub.expected)],
        "incr": lambda: ["INCR", key],
    }
    return commands[sub.kind]()


def _output(kind: str, reply: object) -> Output:
    """The history's output for a reply, as a client recording the history writes it."""
    if isinstance(reply, ErrorReply):
        return reply.message
    if kind == "get":
        assert reply is None or isinstance(reply, bytes)
        return None if reply is None else reply.decode()
    if kind == "set_ifeq":
        return reply is not None
    if kind == "delifeq":
        return reply == 1
    if kind == "incr":
        return str(reply)
    return None  # put / del: not checked


def _random_sub(rng: random.Random, store: EngineStore, key: str, n: int) -> SubOp:
    kind = rng.choice(("get", "put", "incr", "incr", "set_ifeq", "delifeq", "del"))
    current = store.value(key)
    # Half the comparisons are against the current value, so both outcomes happen.
    expected = current if current is not None and rng.random() < 0.5 else rng.choice(VALUES)
    if kind in ("set_ifeq", "delifeq"):
        return SubOp(kind, f"v{n}" if kind == "set_ifeq" else None, expected)
    if kind == "put":
        return SubOp(kind, rng.choice((*VALUES, f"v{n}")))
    return SubOp(kind)


def engine_history(seed: int, count: int) -> list[Operation]:
    """Operations run one at a time on the engine, each interval stretched around its
    turn; some outcomes are unknown (run or not), some failed (not run)."""
    rng = random.Random(seed)
    store, history = EngineStore(), History()
    for n in range(count):
        key = rng.choice("ab")
        call = n * 10 - rng.randint(0, 25)
        ret = n * 10 + rng.randint(0, 25)
        fate = rng.random()
        runs = fate >= 0.10  # a failed one never reaches the store, half the unknown ones
        if rng.random() < 0.2:
            steps = [_random_sub(rng, store, key, n) for _ in range(rng.randint(1, 3))]
            op = history.invoke(n % 3, "txn", key, call, steps=steps)
            output: AnyOutput = store.run_txn(key, steps) if runs else None
        else:
            sub = _random_sub(rng, store, key, n)
            op = history.invoke(n % 3, sub.kind, key, call, sub.value, sub.expected)
            output = store.run(key, sub) if runs else None
        if fate < 0.05:
            History.fail(op, ret)
        elif fate < 0.15:
            History.info(op)
        else:
            History.ok(op, output, ret)
    return history.ops


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), count=st.integers(1, 60))
def test_histories_from_a_correct_store_are_linearizable(seed: int, count: int) -> None:
    ops = engine_history(seed, count)
    assert check(ops).verdict is Verdict.OK, check(ops).explain()
    increments = [op for op in ops if op.kind == "incr" and op.status is Status.OK]
    if increments:
        increments[len(increments) // 2].output = "-999"  # no state leads there
        assert check(ops).verdict is Verdict.ILLEGAL


def test_a_long_history_from_a_correct_store_is_checked_quickly() -> None:
    result = check(engine_history(7, 300), max_seconds=5)
    assert result.verdict is Verdict.OK


# ------------------------------------------------------------------ broken models fail

Effect = Callable[[State, Operation], tuple[AnyOutput, State]]


def broken(kind: str, applies: Callable[[State, Operation], bool], effect: Effect) -> Model:
    """The model with one bug: for ``kind`` on a state where ``applies``, ``effect``."""

    def model(state: State, op: Operation) -> tuple[bool, State]:
        if op.kind != kind or not applies(state, op):
            return step(state, op)
        output, new = effect(state, op)
        return op.status is INFO or op.output == output, new

    return model


def _small(state: State) -> bool:
    return state is None or (state.lstrip("-").isdigit() and abs(int(state)) < 10**6)


def _plus_two(state: State, op: Operation) -> tuple[AnyOutput, State]:
    new = str(int(state or "0") + 2)
    return new, new


def _reads_see_the_start(state: State, op: Operation) -> tuple[AnyOutput, State]:
    outputs, new = run_txn(state, op.steps)
    return [
        state if sub.kind == "get" else out for sub, out in zip(op.steps, outputs, strict=True)
    ], new


MUTANTS = {
    "incr adds two": broken("incr", lambda s, op: _small(s), _plus_two),
    "incr counts absent as one": broken("incr", lambda s, op: s is None, lambda s, op: ("2", "2")),
    "incr counts a word as zero": broken(
        "incr", lambda s, op: not _small(s) and s != str(INT64_MAX), lambda s, op: ("1", "1")
    ),
    "incr never overflows": broken(
        "incr", lambda s, op: s == str(INT64_MAX), lambda s, op: (str(INT64_MAX + 1),) * 2
    ),
    "ifeq sets an absent key": broken(
        "set_ifeq", lambda s, op: s is None, lambda s, op: (True, op.value)
    ),
    "delifeq keeps the key": broken(
        "delifeq", lambda s, op: s == op.expected, lambda s, op: (True, s)
    ),
    "txn reads miss its writes": broken("txn", lambda s, op: True, _reads_see_the_start),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_model_with_a_bug_rejects_a_correct_history(name: str) -> None:
    ops = engine_history(1, 150)  # a seed whose history meets every bug above
    assert check(ops).verdict is Verdict.OK
    assert check(ops, model=MUTANTS[name]).verdict is Verdict.ILLEGAL
