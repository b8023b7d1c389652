"""A linearizability checker for single-key operations (the model is ``kv_model``).

In the style of Porcupine: the history is split by key (keys are independent, so
the whole is linearizable iff each key's sub-history is), and each part is checked with
the Wing & Gong search as improved by Lowe: walk the calls in time order, try to
linearize each pending call at the current point, backtrack when a return is reached
before its call was linearized, and memoize (set of linearized ops, key's value) pairs
already explored. Operations with unknown outcome may be linearized anywhere after
their call, or not at all. A budget (search steps and wall-clock seconds) bounds the
work; exceeding it gives UNKNOWN rather than a verdict.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum

from tandemkv.testing.history import Operation, Status
from tandemkv.testing.kv_model import Model, State, changes_nothing, step

__all__ = ["CheckResult", "Model", "State", "Verdict", "check", "step"]


class Verdict(Enum):
    OK = "ok"
    ILLEGAL = "illegal"
    UNKNOWN = "unknown"  # budget exhausted


@dataclass(slots=True)
class CheckResult:
    verdict: Verdict
    key: str | None = None  # the first key found not linearizable (or undecided)
    ops: list[Operation] = field(default_factory=list)  # that key's operations
    longest: list[Operation] = field(default_factory=list)  # longest linearizable prefix

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def explain(self, limit: int = 60) -> str:
        if self.verdict is Verdict.OK:
            return "linearizable"
        lines = [f"{self.verdict.value}: key {self.key!r}, {len(self.ops)} operations"]
        lines += ["  " + op.describe() for op in self.ops[:limit]]
        if self.longest:
            lines.append(f"  longest linearization ({len(self.longest)} ops) ends with:")
            lines += ["    " + op.describe() for op in self.longest[-5:]]
        return "\n".join(lines)


class _Node:
    __slots__ = ("is_call", "match", "next", "op", "prev")

    def __init__(self, op: Operation | None, is_call: bool) -> None:
        self.op = op
        self.is_call = is_call
        self.match: _Node | None = None
        self.prev: _Node | None = None
        self.next: _Node | None = None


def _relevant(op: Operation) -> bool:
    if op.status is Status.FAIL or op.status is Status.PENDING:
        return False
    # A read with unknown outcome constrains nothing.
    return not (op.status is Status.INFO and changes_nothing(op))


def _build(ops: list[Operation]) -> _Node:
    events: list[tuple[float, int, int, _Node]] = []
    for n, op in enumerate(ops):
        call = _Node(op, True)
        events.append((op.call, 0, n, call))
        if op.status is Status.OK:
            assert op.ret is not None
            ret = _Node(op, False)
            call.match = ret
            # Returns sort after calls at the same time: equal times count as concurrent.
            events.append((op.ret, 1, n, ret))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = _Node(None, False)
    prev = head
    for *_, node in events:
        prev.next, node.prev = node, prev
        prev = node
    return head


def _unlink(node: _Node) -> None:
    assert node.prev is not None
    node.prev.next = node.next
    if node.next is not None:
        node.next.prev = node.prev


def _relink(node: _Node) -> None:
    assert node.prev is not None
    node.prev.next = node
    if node.next is not None:
        node.next.prev = node


class _Budget:
    def __init__(self, max_steps: int, seconds: float) -> None:
        self.steps_left = max_steps
        self.deadline = time.monotonic() + seconds

    def spend(self) -> bool:
        self.steps_left -= 1
        if self.steps_left & 0x3FF == 0 and time.monotonic() > self.deadline:
            self.steps_left = 0
        return self.steps_left > 0


def _check_key(
    ops: list[Operation], budget: _Budget, model: Model
) -> tuple[Verdict, list[Operation]]:
    head = _build(ops)
    index = {id(op): n for n, op in enumerate(ops)}
    must = sum(1 for op in ops if op.status is Status.OK)
    state: State = None
    linearized = 0
    done_ok = 0
    cache: set[tuple[int, State]] = set()
    stack: list[tuple[_Node, State]] = []
    longest: list[Operation] = []
    entry = head.next
    while done_ok < must:
        if not budget.spend():
            return Verdict.UNKNOWN, longest
        assert entry is not None  # an OK op's return is always still in the list
        op = entry.op
        assert op is not None
        if entry.is_call:
            legal, new_state = model(state, op)
            bit = 1 << index[id(op)]
            if legal and (linearized | bit, new_state) not in cache:
                cache.add((linearized | bit, new_state))
                stack.append((entry, state))
                state, linearized = new_state, linearized | bit
                done_ok += op.status is Status.OK
                _unlink(entry)
                if entry.match is not None:
                    _unlink(entry.match)
                if len(stack) > len(longest):
                    longest = [n.op for n, _ in stack if n.op is not None]
                entry = head.next
                continue
            entry = entry.next
            continue
        if not stack:
            return Verdict.ILLEGAL, longest
        entry, state = stack.pop()
        op = entry.op
        assert op is not None
        linearized &= ~(1 << index[id(op)])
        done_ok -= op.status is Status.OK
        if entry.match is not None:
            _relink(entry.match)
        _relink(entry)
        entry = entry.next
    return Verdict.OK, longest


def check(
    ops: list[Operation],
    max_seconds: float = 10.0,
    max_steps: int = 5_000_000,
    model: Model = step,
) -> CheckResult:
    """Check a history against ``model``; keys are checked independently. Another model
    is for showing the checker tells a wrong specification from the right one."""
    by_key: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        if _relevant(op):
            by_key[op.key].append(op)
    budget = _Budget(max_steps, max_seconds)
    undecided: CheckResult | None = None
    for key in sorted(by_key):
        verdict, longest = _check_key(by_key[key], budget, model)
        if verdict is Verdict.ILLEGAL:
            return CheckResult(verdict, key, by_key[key], longest)
        if verdict is Verdict.UNKNOWN and undecided is None:
            undecided = CheckResult(verdict, key, by_key[key], longest)
            budget = _Budget(max_steps, max_seconds)  # still look for a definite violation
    return undecided or CheckResult(Verdict.OK)
