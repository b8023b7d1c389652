"""The list, counter and hash-field verdicts catch what they must and accuse nothing else.

First on small hand-made histories, then on a real history recorded from tandemkv
through the harness (lists, hashes and counters included), with a lost element, a
duplicated pop, a phantom pop, a lost increment or a lost hash write injected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.checks import check_registers, missing_writes
from chaos.collection_checks import counter_problems, final_elements, list_problems
from chaos.harness import ChaosConfig, ChaosResult, collection_problems, run_chaos
from chaos.nodes import ChaosNode
from chaos.workload import WorkloadConfig, label
from helpers.servers import ServerGroup
from tandemkv.testing.history import History, Operation, Status
from tandemkv.testing.linearizability import Verdict

L, M, Q = "chaos:l0", "chaos:l1", "chaos:l2"  # L and M are joined by moves below, Q is not
N = "chaos:hc/n0"
F = "chaos:h0/f0"


def op(
    history: History,
    kind: str,
    key: str,
    call: float,
    ret: float | None,
    output: str | bool | None = None,
    value: str | None = None,
    expected: str | None = None,
) -> Operation:
    made = history.invoke(0, kind, key, call, value, expected)
    if ret is None:
        History.info(made)
    else:
        History.ok(made, output, ret)
    return made


def final(history: History, key: str, elements: list[str], at: float = 100.0) -> Operation:
    made = history.invoke(-1, "lrange", key, at)
    History.ok(made, json.dumps(elements), at)
    return made


def sound_lists() -> History:
    """Pushes, pops, a move, unknown outcomes and final reads that all check out."""
    h = History()
    op(h, "push", Q, 0, 1, value="a")
    op(h, "push", Q, 0.5, 2, value="b")
    op(h, "pop", Q, 3, 4, output="a", expected="left")
    op(h, "push", Q, 5, None, value="c")  # unknown: shows up at the end
    op(h, "push", Q, 5, None, value="d")  # unknown: never seen
    op(h, "push", L, 6, 7, value="e")
    op(h, "move", L, 8, 9, output="e", expected=f"LEFT RIGHT {M}")
    op(h, "push", L, 10, 11, value="f")
    op(h, "pop", L, 12, None, expected="right")  # unknown: took f
    op(h, "pop", L, 13, 14, output=None, expected="left")  # f is gone by now
    final(h, Q, ["b", "c"])
    final(h, L, [])
    final(h, M, ["e"])
    return h


def test_a_sound_list_history_accuses_nobody() -> None:
    assert list_problems(sound_lists().ops) == []


def test_a_lost_element_is_caught() -> None:
    h = sound_lists()
    next(o for o in h.ops if o.kind == "lrange" and o.key == Q).output = json.dumps(["c"])
    problems = list_problems(h.ops)
    assert len(problems) == 1 and problems[0].startswith(f"lost elements in {Q}: 1 ")
    assert "push(chaos:l2 None->b)" in problems[0]


def test_a_pop_of_unknown_outcome_excuses_one_missing_element_no_more() -> None:
    h = sound_lists()
    next(o for o in h.ops if o.kind == "lrange" and o.key == M).output = "[]"
    assert list_problems(h.ops) != [], "the unknown pop already took f"
    op(h, "pop", M, 15, None, expected="left")
    assert list_problems(h.ops) == [], "a second unknown pop may have taken e"


def test_a_duplicated_pop_is_caught() -> None:
    h = sound_lists()
    op(h, "pop", Q, 20, 21, output="b", expected="left")  # b is also in the final list
    op(h, "pop", Q, 22, 23, output="a", expected="right")  # a was popped already
    problems = list_problems(h.ops)
    assert [p.split(":")[0] for p in problems] == [
        "duplicated element 'a'",
        "duplicated element 'b'",
    ]
    assert "still in chaos:l2 at the end" in problems[1]


def test_an_element_twice_in_the_final_lists_is_a_duplicate() -> None:
    h = sound_lists()
    next(o for o in h.ops if o.kind == "lrange" and o.key == M).output = json.dumps(["e", "e"])
    assert [p[:24] for p in list_problems(h.ops)] == ["duplicated element 'e': "]


@pytest.mark.parametrize(
    ("popped", "key", "why"),
    [
        ("zz", Q, "which no client pushed"),
        ("e", Q, "pushed to chaos:l0"),  # another pool: no move reaches Q
        ("late", Q, "before #"),
        ("refused", Q, "refused"),
    ],
)
def test_a_phantom_pop_is_caught(popped: str, key: str, why: str) -> None:
    h = sound_lists()
    refused = h.invoke(0, "push", Q, 30, "refused")
    History.fail(refused, 31)
    op(h, "push", Q, 40, 41, value="late")
    op(h, "pop", key, 32, 33, output=popped, expected="left")
    problems = list_problems(h.ops)
    assert problems[0].startswith("phantom element"), problems
    assert why in problems[0]
    assert f"'{popped}' from #" in problems[0]


def test_a_phantom_in_a_final_list_is_caught() -> None:
    h = sound_lists()
    next(o for o in h.ops if o.kind == "lrange" and o.key == L).output = json.dumps(["ghost"])
    problems = list_problems(h.ops)
    assert len(problems) == 1 and "'ghost' in the final list" in problems[0]


def test_a_nil_pop_while_an_acknowledged_element_sat_in_the_list_is_caught() -> None:
    h = sound_lists()
    empty = op(h, "pop", Q, 3.5, 3.8, output=None, expected="right")  # b was there
    problems = list_problems(h.ops)
    assert len(problems) == 1 and problems[0].startswith("stale empty list")
    assert f"#{empty.id} " in problems[0] and "->b)" in problems[0]
    empty.call, empty.ret = 0.2, 0.8  # before any push was acknowledged
    assert list_problems(h.ops) == []


def test_a_history_without_final_reads_accuses_no_loss() -> None:
    h = sound_lists()
    h.ops[:] = [o for o in h.ops if o.kind != "lrange"]
    assert list_problems(h.ops) == []


# ---------------------------------------------------------------------- counters


def sound_counter() -> History:
    h = History()
    op(h, "get", N, 0, 1, output=None)
    op(h, "incr", N, 2, 3, output="1")
    op(h, "incr", N, 2.5, None)  # unknown: fills 2
    op(h, "incr", N, 4, 5, output="3")
    op(h, "get", N, 4.5, 6, output="2")  # overlaps the step to 3
    op(h, "incr", N, 7, None)  # unknown: never happens
    op(h, "get", N, 8, 9, output="3")
    return h


def test_a_sound_counter_history_accuses_nobody() -> None:
    assert counter_problems(sound_counter().ops) == []


def test_a_lost_increment_is_caught() -> None:
    h = sound_counter()
    h.ops[-1].output = "1"  # the read after the increment to 3 saw 1
    problems = counter_problems(h.ops)
    assert problems[0].startswith("acknowledged increment missing: #3 ")
    assert any("not linearizable" in p for p in problems)


def test_an_increment_applied_twice_is_caught() -> None:
    h = sound_counter()
    h.ops[-1].output = "5"  # only one unknown increment could fill 4, none 5
    problems = counter_problems(h.ops)
    assert len(problems) == 1 and f"{N}: reached 5," in problems[0]


def test_two_increments_answering_one_value_are_caught() -> None:
    h = sound_counter()
    op(h, "incr", N, 10, 11, output="3")
    assert any("2 increments answered 3" in p for p in counter_problems(h.ops))


def test_a_read_that_goes_back_in_time_is_caught() -> None:
    h = sound_counter()
    op(h, "get", N, 6.5, 7, output="1")  # after a read of 2 ended... and the incr to 3
    assert counter_problems(h.ops) != []
    h2 = sound_counter()
    h2.ops[4].output = None  # begun after the step to 1 was acknowledged
    assert any("not linearizable" in p for p in counter_problems(h2.ops))


def test_a_fresh_unknown_increment_explains_a_later_value() -> None:
    h = History()
    op(h, "incr", N, 0, None)
    op(h, "get", N, 1, 2, output="1")
    assert counter_problems(h.ops) == []
    h.ops[0].call = 3  # sent after the read ended: it cannot explain it
    assert "not linearizable" in counter_problems(h.ops)[0]


# ---------------------------------------------------------------------- hash fields


def test_hdel_makes_a_read_of_nothing_no_proof_of_loss() -> None:
    h = History()
    op(h, "put", F, 0, 1, value="a")
    op(h, "put", F, 2, 3, value="b")
    op(h, "del", F, 2.5, 4, output=True)  # may come after b
    op(h, "get", F, 5, 6, output=None)
    assert missing_writes(h.ops) == [] and check_registers(h.ops).ok
    h.ops[2].ret = 1.5  # the delete ended before b was sent: b is lost
    h.ops[2].call = 1.2
    assert [m.write.value for m in missing_writes(h.ops)] == ["b"]
    assert check_registers(h.ops).verdict is Verdict.ILLEGAL


def test_an_hdel_that_removed_nothing_reads_an_absent_field() -> None:
    h = History()
    op(h, "put", F, 0, 1, value="a")
    op(h, "del", F, 2, 3, output=False)  # a was there: HDEL must have removed it
    assert check_registers(h.ops).verdict is Verdict.ILLEGAL
    assert [m.write.value for m in missing_writes(h.ops)] == ["a"]
    h.ops[1].output = True
    assert check_registers(h.ops).ok and missing_writes(h.ops) == []


# ---------------------------------------------------------------------- a real history


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosResult]:
    """Three seconds of clients against tandemkv, no faults, collections favoured."""
    base = tmp_path_factory.mktemp("clean-collections")
    group = ServerGroup(base / "runs")
    node = ChaosNode("node0", group, base / "data", ("--fsync", "always"), seed=7)
    workload = WorkloadConfig(clients=4, keys=1, mix=(0.1, 0.3, 0.2, 0.4))
    try:
        node.start()
        yield run_chaos([node], 7, ChaosConfig(duration=0.0, calm=3.0, workload=workload), base)
    finally:
        node.close()
        group.stop_all()


def copy_of(result: ChaosResult) -> History:
    return History.from_records(json.loads(json.dumps(result.history.to_records())))


def test_the_clean_collection_history_checks_out_and_is_not_vacuous(
    clean_run: ChaosResult,
) -> None:
    assert clean_run.problems() == [], clean_run.summary()
    outcomes = clean_run.outcomes
    for name in ("push", "pop", "move", "hput", "hget", "hdel", "incr", "cget"):
        assert outcomes[f"{name}:ok"] > 10, clean_run.summary()
    ops = clean_run.history.ops
    assert any(o.kind == "pop" and o.output is None and o.status is Status.OK for o in ops)
    assert any(o.kind == "del" and o.output is True for o in ops)
    left = [e for o in ops if o.kind == "lrange" for e in final_elements(o)]
    assert left, "some elements are still in the lists at the end"
    assert {label(o) for o in ops if o.process == -1} == {"get", "hget", "cget", "lrange"}


def acknowledged_push_left_at_the_end(history: History) -> tuple[Operation, str]:
    for read in history.ops:
        if read.kind == "lrange" and final_elements(read):
            return read, final_elements(read)[0]
    raise AssertionError("no element was left in any list")


def test_an_injected_lost_element_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    read, element = acknowledged_push_left_at_the_end(history)
    pushed = next(o for o in history.ops if o.kind == "push" and o.value == element)
    if pushed.status is not Status.OK:
        pytest.skip("the element left at the end was pushed with an unknown outcome")
    unknown = sum(o.kind == "pop" and o.status is Status.INFO for o in history.ops)
    assert unknown == 0, "a clean run loses no reply"
    read.output = json.dumps(final_elements(read)[1:])
    problems = collection_problems(history.ops)
    assert len(problems) == 1 and "lost elements" in problems[0] and element in problems[0]


def test_an_injected_duplicated_pop_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    pops = [o for o in history.ops if o.kind == "pop" and isinstance(o.output, str)]
    pops[-1].output = pops[0].output
    problems = collection_problems(history.ops)
    assert any(p.startswith(f"duplicated element {pops[0].output!r}") for p in problems)


def test_an_injected_phantom_pop_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    pop = next(o for o in history.ops if o.kind == "pop" and o.output is None)
    pop.output = "never-pushed"
    problems = collection_problems(history.ops)
    assert problems and all("never-pushed" in p for p in problems)
    assert problems[0].startswith("phantom element")


def test_an_injected_lost_increment_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    finals = [o for o in history.ops if o.process == -1 and o.key.startswith("chaos:hc/")]
    read = max(finals, key=lambda o: int(str(o.output or 0)))
    read.output = str(int(str(read.output)) - 1)
    problems = collection_problems(history.ops)
    assert any(p.startswith("acknowledged increment missing") for p in problems), problems


def test_an_injected_lost_hash_write_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    final_reads = {o.key: o for o in history.ops if o.process == -1}
    writes = [
        o
        for o in history.ops
        if o.kind == "put" and o.key.startswith("chaos:h") and o.status is Status.OK
    ]
    last = max(writes, key=lambda o: o.call)
    final_reads[last.key].output = "never-written"
    assert check_registers(history.ops).verdict is Verdict.ILLEGAL
    final_reads[last.key].output = None  # as if an HDEL had come, but none did after it
    deleted_later = any(
        o.kind == "del" and o.key == last.key and (o.ret is None or o.ret > last.call)
        for o in history.ops
    )
    if not deleted_later:
        assert last.id in {m.write.id for m in missing_writes(history.ops)}
    assert check_registers(history.ops).verdict is Verdict.ILLEGAL or deleted_later


def test_recheck_judges_collections_too(clean_run: ChaosResult, tmp_path: Path) -> None:
    from chaos import recheck

    assert recheck.main([str(clean_run.history_path)]) == 0
    document = json.loads(clean_run.history_path.read_text())
    history = copy_of(clean_run)
    pops = [o for o in history.ops if o.kind == "pop" and isinstance(o.output, str)]
    pops[-1].output = pops[0].output
    document["records"] = history.to_records()
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    assert recheck.main([str(broken)]) == 1
