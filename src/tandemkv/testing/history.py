"""A client-side history of key-value operations, for the linearizability checker.

Kinds and their arguments and outputs (the model's semantics are in ``kv_model``):
get                 -> the value, or None
put value           -> None (SET; not checked)
del                 -> None (DEL; not checked)
cas expected value  -> True if it wrote (a register compare-and-set; an absent key
                       matches expected None)
set_ifeq expected value -> True on OK, False on nil (SET key value IFEQ expected)
delifeq expected    -> True on 1, False on 0 (DELIFEQ key expected)
incr                -> the new integer as a string ("3"), or the error text
txn                 -> ``steps``: the sub-operations of one MULTI/EXEC on the key, each a
                       ``SubOp``; the output is the list of their outputs, in order
Other kinds may be recorded (the chaos workload records lists) for checkers of their own.

Each operation has a call time and, if it completed, a return time and a status:
OK   - completed; ``output`` is what it returned.
FAIL - definitely had no effect (e.g. refused by a non-leader): left out of checking.
INFO - outcome unknown (timed out, connection lost): it may have taken effect at any
       point after its call, or never; its return time is treated as infinity.
Times are any comparable numbers from one clock (simulated ticks, or monotonic seconds
for real processes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Status(Enum):
    PENDING = "pending"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


Output = str | bool | None
# A txn's output is the list of its sub-operations' outputs.
AnyOutput = Output | list[Output]

# Kinds whose comparison value is required: IFEQ and DELIFEQ always compare with a string.
_NEEDS_EXPECTED = ("set_ifeq", "delifeq")


@dataclass(frozen=True, slots=True)
class SubOp:
    """One command inside a txn; kinds and arguments as for an Operation (no txn)."""

    kind: str
    value: str | None = None
    expected: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "txn":
            raise ValueError("a txn cannot hold a txn")
        _require_expected(self.kind, self.expected)

    def describe(self) -> str:
        arg = _describe_args(self.kind, self.value, self.expected)
        return f"{self.kind} {arg}" if arg else self.kind


@dataclass(slots=True)
class Operation:
    id: int
    process: int
    kind: str  # see the module doc
    key: str
    value: str | None = None  # put / cas / set_ifeq: the value written
    expected: str | None = None  # cas / set_ifeq / delifeq: the value compared against
    call: float = 0
    ret: float | None = None
    status: Status = Status.PENDING
    output: AnyOutput = None
    steps: tuple[SubOp, ...] = ()  # txn: its commands, in order

    def describe(self) -> str:
        if self.kind == "txn":
            arg = "[" + ", ".join(sub.describe() for sub in self.steps) + "]"
        else:
            arg = _describe_args(self.kind, self.value, self.expected)
        end = "inf" if self.ret is None else f"{self.ret:g}"
        return (
            f"#{self.id} p{self.process} {self.kind}({self.key} {arg}) = {self.output!r} "
            f"[{self.status.value}] {self.call:g}..{end}"
        )


def _describe_args(kind: str, value: str | None, expected: str | None) -> str:
    if kind in ("get", "del", "incr", "rpush", "llen"):
        return ""
    if kind == "put":
        return f"{value}"
    if kind == "delifeq":
        return f"{expected}"
    return f"{expected}->{value}"


def _require_expected(kind: str, expected: str | None) -> None:
    if kind in _NEEDS_EXPECTED and expected is None:
        raise ValueError(f"{kind} compares with a value: give expected=")


class History:
    def __init__(self) -> None:
        self.ops: list[Operation] = []

    def invoke(
        self,
        process: int,
        kind: str,
        key: str,
        time: float,
        value: str | None = None,
        expected: str | None = None,
        *,
        steps: Sequence[SubOp] = (),
    ) -> Operation:
        """Record a call; a txn passes its commands as ``steps`` (and no value)."""
        _require_expected(kind, expected)
        if (kind == "txn") != bool(steps):
            raise ValueError("steps are given for a txn, and only for a txn")
        op = Operation(len(self.ops), process, kind, key, value, expected, time, steps=tuple(steps))
        self.ops.append(op)
        return op

    @staticmethod
    def ok(op: Operation, output: AnyOutput, time: float) -> None:
        op.status, op.output, op.ret = Status.OK, output, time

    @staticmethod
    def fail(op: Operation, time: float) -> None:
        op.status, op.ret = Status.FAIL, time

    @staticmethod
    def info(op: Operation) -> None:
        op.status, op.ret = Status.INFO, None

    def record_final_reads(
        self, values: Mapping[str, str | None], time: float, process: int = -1
    ) -> None:
        """Add one completed read per key, made after the system healed and settled.

        Checked with the rest, these reads expose an acknowledged write that was lost
        even if no client happened to read that key again during the run."""
        for key in sorted(values):
            History.ok(self.invoke(process, "get", key, time), values[key], time)

    def close(self) -> None:
        """Operations still pending at the end have unknown outcomes."""
        for op in self.ops:
            if op.status is Status.PENDING:
                self.info(op)

    def to_records(self) -> list[dict[str, Any]]:
        return [{**asdict(op), "status": op.status.value} for op in self.ops]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> History:
        history = cls()
        for rec in records:
            steps = tuple(SubOp(**sub) for sub in rec.get("steps", ()))
            history.ops.append(
                Operation(**{**rec, "status": Status(rec["status"]), "steps": steps})
            )
        return history
