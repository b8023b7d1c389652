"""The harness's verdicts catch what they must and accuse nothing else.

First on small hand-made histories, then on a real history recorded from tandemkv
through the harness, with one lost write, stale read or invented value injected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos import recheck
from chaos.checks import check_registers, explain_violation, foreign_values, missing_writes
from chaos.harness import ChaosConfig, ChaosResult, run_chaos
from chaos.nodes import ChaosNode
from chaos.workload import WorkloadConfig
from helpers.servers import ServerGroup
from tandemkv.testing.history import History, Operation, Status
from tandemkv.testing.linearizability import Verdict, check

# ------------------------------------------------------------------ hand-made histories


def op(
    history: History,
    kind: str,
    call: float,
    ret: float | None,
    output: object = None,
    value: str | None = None,
    expected: str | None = None,
    key: str = "k",
) -> Operation:
    made = history.invoke(0, kind, key, call, value, expected)
    if ret is None:
        History.info(made)
    else:
        History.ok(made, output, ret)  # type: ignore[arg-type]
    return made


def test_a_read_after_an_acknowledged_write_that_sees_older_state_proves_it_missing() -> None:
    h = History()
    first = op(h, "put", 0, 1, value="a")
    second = op(h, "put", 2, 3, value="b")
    stale = op(h, "get", 4, 5, output="a")
    missing = missing_writes(h.ops)
    assert [(m.write, m.read) for m in missing] == [(second, stale)]
    assert first not in [m.write for m in missing]


def test_reading_nothing_after_any_acknowledged_write_proves_it_missing() -> None:
    h = History()
    write = op(h, "cas", 0, 1, output=True, value="b", expected="a")
    op(h, "get", 2, 3, output=None)
    assert [m.write for m in missing_writes(h.ops)] == [write]


def test_concurrency_and_unknown_outcomes_accuse_nobody() -> None:
    h = History()
    op(h, "put", 0, 1, value="a")
    op(h, "put", 2, 6, value="b")
    op(h, "get", 3, 4, output="a")  # overlaps the write of b: may precede it
    op(h, "put", 7, None, value="c")  # unknown outcome: seen only later
    op(h, "put", 7.5, None, value="x")  # unknown outcome: never seen
    op(h, "get", 8, 9, output="b")
    op(h, "get", 10, 11, output="c")
    op(h, "cas", 12, 13, output=False, value="d", expected="zz")  # no write at all
    op(h, "get", 14, 15, output="c")
    assert missing_writes(h.ops) == []
    assert check(h.ops).verdict is Verdict.OK


def test_final_values_nobody_wrote_or_the_server_refused_are_reported() -> None:
    h = History()
    op(h, "put", 0, 1, value="a")
    refused = h.invoke(0, "put", "k2", 2, "r")
    History.fail(refused, 3)
    problems = foreign_values(h.ops, {"k": "zz", "k2": "r", "k3": "a", "k4": None})
    assert len(problems) == 3
    assert "no client wrote" in problems[0] and "refused" in problems[1]
    assert "written to 'k'" in problems[2]


# ------------------------------------------------------------------ a real history


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosResult]:
    """Three seconds of clients against tandemkv, no faults."""
    base = tmp_path_factory.mktemp("clean-run")
    group = ServerGroup(base / "runs")
    node = ChaosNode("node0", group, base / "data", ("--fsync", "always"), seed=5)
    try:
        node.start()
        config = ChaosConfig(duration=0.0, calm=3.0, workload=WorkloadConfig(clients=4, keys=3))
        yield run_chaos([node], 5, config, base)
    finally:
        node.close()
        group.stop_all()


def copy_of(result: ChaosResult) -> History:
    return History.from_records(json.loads(json.dumps(result.history.to_records())))


def acknowledged_pair(history: History) -> tuple[Operation, Operation]:
    """Two acknowledged writes of one key, the first finished before the second began."""
    puts = [o for o in history.ops if o.kind == "put" and o.status is Status.OK]
    for first in puts:
        for second in puts:
            if second.key == first.key and first.ret is not None and first.ret < second.call:
                return first, second
    raise AssertionError("the workload made no two sequential writes")


def test_the_clean_history_is_linearizable_and_complete(clean_run: ChaosResult) -> None:
    assert clean_run.problems() == []
    assert clean_run.schedule.steps == ()
    assert clean_run.acknowledged_writes() > 100, clean_run.summary()
    assert clean_run.outcomes["get:ok"] > 100, clean_run.summary()
    finals = [o for o in clean_run.history.ops if o.process == -1]
    assert sorted(o.key for o in finals) == sorted(clean_run.final)


def test_an_injected_lost_write_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    first, second = acknowledged_pair(history)
    final_read = next(o for o in history.ops if o.process == -1 and o.key == first.key)
    final_read.output = first.value  # the second write, and all after it, vanished
    result = check_registers(history.ops)
    assert result.verdict is Verdict.ILLEGAL and result.key == first.key
    missing = missing_writes(history.ops)
    assert second.id in {m.write.id for m in missing}
    assert all(m.read is final_read for m in missing)


def test_an_injected_stale_read_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    first, second = acknowledged_pair(history)
    assert second.ret is not None
    read = next(
        o
        for o in history.ops
        if o.kind == "get" and o.key == first.key and o.process >= 0 and o.call > second.ret
    )
    read.output = first.value
    result = check_registers(history.ops)
    assert result.verdict is Verdict.ILLEGAL
    assert f"#{read.id} " in explain_violation(result) or read in result.ops
    assert second.id in {m.write.id for m in missing_writes(history.ops)}


def test_an_injected_value_from_nowhere_is_flagged(clean_run: ChaosResult) -> None:
    history = copy_of(clean_run)
    read = next(o for o in history.ops if o.kind == "get" and o.status is Status.OK)
    read.output = "never-written"
    assert check_registers(history.ops).verdict is Verdict.ILLEGAL


def test_recheck_reads_the_saved_history_and_agrees(
    clean_run: ChaosResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert recheck.main([str(clean_run.history_path)]) == 0
    document = json.loads(clean_run.history_path.read_text())
    history = copy_of(clean_run)
    first, _second = acknowledged_pair(history)
    final_read = next(o for o in history.ops if o.process == -1 and o.key == first.key)
    final_read.output = first.value
    document["records"] = history.to_records()
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    assert recheck.main([str(broken)]) == 1
    assert "acknowledged write missing" in capsys.readouterr().out
