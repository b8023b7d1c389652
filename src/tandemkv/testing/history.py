"""A client-side history of register operations, for the linearizability checker.

Each operation has a call time and, if it completed, a return time and a status:
OK   - completed; ``output`` is what it returned (get: value or None; cas: bool).
FAIL - definitely had no effect (e.g. refused by a non-leader): left out of checking.
INFO - outcome unknown (timed out, connection lost): it may have taken effect at any
       point after its call, or never; its return time is treated as infinity.
Times are any comparable numbers from one clock (simulated ticks, or monotonic seconds
for real processes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Status(Enum):
    PENDING = "pending"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(slots=True)
class Operation:
    id: int
    process: int
    kind: str  # "get" | "put" | "cas" | "del"
    key: str
    value: str | None = None  # put / cas: the value written
    expected: str | None = None  # cas: the value compared against
    call: float = 0
    ret: float | None = None
    status: Status = Status.PENDING
    output: str | bool | None = None

    def describe(self) -> str:
        arg = {"get": "", "put": f"{self.value}", "del": ""}.get(
            self.kind, f"{self.expected}->{self.value}"
        )
        end = "inf" if self.ret is None else f"{self.ret:g}"
        return (
            f"#{self.id} p{self.process} {self.kind}({self.key} {arg}) = {self.output!r} "
            f"[{self.status.value}] {self.call:g}..{end}"
        )


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
    ) -> Operation:
        op = Operation(len(self.ops), process, kind, key, value, expected, time)
        self.ops.append(op)
        return op

    @staticmethod
    def ok(op: Operation, output: str | bool | None, time: float) -> None:
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
            history.ops.append(Operation(**{**rec, "status": Status(rec["status"])}))
        return history
