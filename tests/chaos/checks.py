"""What a chaos run's registers are judged by, besides the linearizability checker.

The registers are the string keys and the hash fields (``register_view`` picks them out
of a history with lists and counters, which ``chaos.collection_checks`` judges, and turns
an HDEL that removed nothing into the read of an absent field it is).

``missing_writes`` counts acknowledged writes that a later read proved missing, with no
search: written values are unique, so a value read names the write that produced it. A
read R shows an acknowledged write A missing when R began after A was acknowledged and
R returned a state from before A: nothing, when no delete of the key could come between
A and R (every delete had completed before A was sent, or began after R ended), or the
value of a write W that had completed before A was even sent. W is ordered before A,
and A before R, so nothing can bring W's value back after A. Every read counts, the final read of
each key included, so a write lost by a crash is counted even if the key was overwritten
since. This undercounts (a loss no read happened to observe stays invisible; the
linearizability checker sees more) but never accuses a correct server, and it names
the write and the read in plain words.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from chaos.workload import key_family
from tandemkv.testing.history import Operation, Status
from tandemkv.testing.linearizability import CheckResult, check

REGISTER_KINDS = ("get", "put", "cas", "del")

Final = Mapping[str, str | None]


def register_view(ops: Iterable[Operation]) -> list[Operation]:
    """The register operations (string keys, hash fields), as the register model knows
    them: an HDEL that answered 0 removed nothing and is a read of an absent field (a
    copy, same id). The rest of a history (counters, lists) is left out."""
    view = []
    for op in ops:
        if key_family(op.key) not in ("string", "field") or op.kind not in REGISTER_KINDS:
            continue
        if op.kind == "del" and op.status is Status.OK and op.output is False:
            op = replace(op, kind="get", output=None)
        view.append(op)
    return view


def check_registers(ops: list[Operation], max_seconds: float = 10.0) -> CheckResult:
    """The linearizability checker on the history's registers."""
    return check(register_view(ops), max_seconds=max_seconds)


def acknowledged_writes(ops: Iterable[Operation]) -> list[Operation]:
    """Writes the server confirmed: every OK put, and OK compare-and-sets that matched."""
    return [op for op in ops if is_acknowledged_write(op)]


def is_acknowledged_write(op: Operation) -> bool:
    written = op.kind == "put" or (op.kind == "cas" and op.output is True)
    return written and op.status is Status.OK


@dataclass(frozen=True)
class MissingWrite:
    write: Operation
    read: Operation  # a read, begun after the write was acknowledged, that saw an older state

    def describe(self) -> str:
        return (
            f"acknowledged write missing: {self.write.describe()}; "
            f"later read {self.read.describe()}"
        )


def missing_writes(ops: list[Operation]) -> list[MissingWrite]:
    """Acknowledged register writes some later read proved missing (see the module
    doc); the history may hold other operations, which are left out."""
    ops = register_view(ops)
    writers = _writers(ops)
    deletes = _Deletes(ops)
    reads: dict[str, list[tuple[float, float, Operation]]] = defaultdict(list)
    for op in ops:
        if op.kind == "get" and op.status is Status.OK:
            before = _known_before(op, writers, deletes)
            if before is not None:
                reads[op.key].append((op.call, before, op))
    missing: list[MissingWrite] = []
    for key, key_reads in reads.items():
        key_reads.sort(key=lambda r: (r[0], r[2].id))
        calls = [call for call, _, _ in key_reads]
        witness = _suffix_minimum(key_reads)
        for write in acknowledged_writes(op for op in ops if op.key == key):
            assert write.ret is not None
            first = bisect.bisect_right(calls, write.ret)  # reads that began after the ack
            if first < len(key_reads):
                stamp, read = witness[first]
                if stamp < write.call:
                    missing.append(MissingWrite(write, read))
    return sorted(missing, key=lambda m: m.write.id)


def _writers(ops: Iterable[Operation]) -> dict[str, Operation]:
    return {op.value: op for op in ops if op.kind in ("put", "cas") and op.value is not None}


class _Deletes:
    """Per key, when the deletes that may have taken effect began and ended."""

    def __init__(self, ops: Iterable[Operation]) -> None:
        spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for op in ops:
            if op.kind == "del" and op.status in (Status.OK, Status.INFO):
                spans[op.key].append((op.call, math.inf if op.ret is None else op.ret))
        self.calls: dict[str, list[float]] = {}
        self.latest_end: dict[str, list[float]] = {}  # the latest end among the first n
        for key, key_spans in spans.items():
            key_spans.sort()
            self.calls[key] = [call for call, _ in key_spans]
            self.latest_end[key] = _running_maximum(end for _, end in key_spans)

    def latest_end_before(self, key: str, moment: float) -> float:
        """The latest end of a delete of ``key`` begun before ``moment`` (-inf: none).
        Only a delete ending after a write began can come after that write."""
        calls = self.calls.get(key, [])
        began = bisect.bisect_left(calls, moment)
        return self.latest_end[key][began - 1] if began else -math.inf


def _running_maximum(values: Iterable[float]) -> list[float]:
    result: list[float] = []
    for value in values:
        result.append(max(value, result[-1]) if result else value)
    return result


def _known_before(
    read: Operation, writers: Mapping[str, Operation], deletes: _Deletes
) -> float | None:
    """When the state this read saw was already in place: the completion of the write
    it names; for "nothing", the end of the latest delete that may explain it (-inf if
    none); None when that proves nothing (a write of unknown outcome, or a value from
    nowhere, which the other checks report)."""
    if read.output is None:
        assert read.ret is not None
        return deletes.latest_end_before(read.key, read.ret)
    writer = writers.get(str(read.output))
    if writer is None or not is_acknowledged_write(writer) or writer.key != read.key:
        return None
    return writer.ret


def _suffix_minimum(
    reads: list[tuple[float, float, Operation]],
) -> list[tuple[float, Operation]]:
    """For each position, the read from there on whose observed state is oldest."""
    best: list[tuple[float, Operation]] = [(math.inf, reads[-1][2])] * len(reads)
    current = (math.inf, reads[-1][2])
    for n in range(len(reads) - 1, -1, -1):
        _, before, op = reads[n]
        if before <= current[0]:
            current = (before, op)
        best[n] = current
    return best


def foreign_values(ops: list[Operation], final: Final) -> list[str]:
    """Final register values no client wrote, or whose write the server refused with an
    error (counters and lists are judged by ``chaos.collection_checks``)."""
    writers = _writers(register_view(ops))
    problems = []
    for key, value in sorted(final.items()):
        if value is None or key_family(key) not in ("string", "field"):
            continue
        writer = writers.get(value)
        if writer is None:
            problems.append(f"{key} = {value!r}, which no client wrote")
        elif writer.key != key:
            problems.append(f"{key} = {value!r}, which was written to {writer.key!r}")
        elif writer.status is Status.FAIL:
            problems.append(f"{key} = {value!r}, written by {writer.describe()}, refused")
    return problems


def explain_violation(result: CheckResult, context: int = 12) -> str:
    """The checker's verdict, showing where the search got stuck.

    ``CheckResult.explain`` lists the offending key's *first* operations; in a history of
    thousands that is rarely where the trouble is. This shows the end of the longest
    linearizable prefix, then the earliest completed operations it could not take in.
    """
    if result.ok:
        return "linearizable"
    lines = [f"{result.verdict.value}: key {result.key!r}, {len(result.ops)} operations"]
    taken = {id(op) for op in result.longest}
    lines.append(f"  longest linearization ({len(result.longest)} ops) ends with:")
    lines += ["    " + op.describe() for op in result.longest[-5:]]
    stuck = sorted(
        (op for op in result.ops if id(op) not in taken and op.status is Status.OK),
        key=lambda op: op.call,
    )
    lines.append("  completed operations it could not place, earliest first:")
    lines += ["    " + op.describe() for op in stuck[:context]]
    return "\n".join(lines)
