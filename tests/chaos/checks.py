"""What a chaos run is judged by, besides the linearizability checker.

``missing_writes`` counts acknowledged writes that a later read proved missing, with no
search: written values are unique, so a value read names the write that produced it. A
read R shows an acknowledged write A missing when R began after A was acknowledged and
R returned a state from before A: nothing (the workload never deletes), or the value of
a write W that had completed before A was even sent. W is ordered before A, and A before
R, so nothing can bring W's value back after A. Every read counts, the final read of
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
from dataclasses import dataclass

from tandemkv.testing.history import Operation, Status
from tandemkv.testing.linearizability import CheckResult

Final = Mapping[str, str | None]


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
    """Acknowledged writes some later read proved missing (see the module doc)."""
    writers = _writers(ops)
    reads: dict[str, list[tuple[float, float, Operation]]] = defaultdict(list)
    for op in ops:
        if op.kind == "get" and op.status is Status.OK:
            before = _known_before(op, writers)
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


def _known_before(read: Operation, writers: Mapping[str, Operation]) -> float | None:
    """When the state this read saw was already in place: the completion of the write
    it names (-inf for "nothing"); None when that proves nothing (a write of unknown
    outcome, or a value from nowhere, which the other checks report)."""
    if read.output is None:
        return -math.inf
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
    """Final values no client wrote, or whose write the server refused with an error."""
    writers = _writers(ops)
    problems = []
    for key, value in sorted(final.items()):
        if value is None:
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
