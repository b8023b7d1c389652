"""What a chaos run's lists and counters are judged by.

Lists. Every pushed element is unique, so an element names its push. An element leaves
the lists only by a pop (LPOP / RPOP); an LMOVE moves it from one list to the other of
its *pool* (lists joined by moves). The final reads (``lrange``) say what was left.

- phantom: a pop, a move or a final list gives an element no client pushed, one whose
  push the server refused, one pushed to another pool, or one popped before its push
  was even sent;
- duplicate: an element popped twice, or popped and still in a list at the end, or
  twice in the final lists;
- lost: acknowledged pushes neither popped (acknowledged pops) nor in a final list.
  A pop of unknown outcome may have taken one element each, so a pool is only accused
  when its unaccounted elements outnumber its pops of unknown outcome (an undercount,
  never a false accusation); the elements are named;
- stale empty: in a list no move touches, a pop answered nil (the list was empty at
  some point while it ran) although an element acknowledged before that pop began was
  provably still there throughout: popped by a pop that began after the nil came back,
  or still in the list at the end.

A push of unknown outcome may or may not have happened: its element may show up, once.

Counters. A counter is a register that only goes up by one (HINCRBY), read by HGET. An
acknowledged increment answering n took the counter from n-1 to n; an increment of
unknown outcome may have done so for one n, at any time after it was sent, or never.
``counter_problems`` checks linearizability exactly, without a search: the n-th
transition must be placed at a time no earlier than the (n-1)-th, than its increment
was sent, or than any read of n-1 began, and no later than its increment's reply or any
read of n or more ended. The earliest placement is taken (an unknown increment fills a
gap: the earliest sent, which leaves the most freedom to later gaps); any bound broken
is a violation. It also says in plain words when a read that began after an increment
was acknowledged saw less than that increment's result (an increment lost), and when
two increments answered the same value.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chaos.workload import key_family, move_target
from tandemkv.testing.history import Operation, Status

# ---------------------------------------------------------------------- lists


def list_problems(ops: Sequence[Operation]) -> list[str]:
    """Every violation the list checks find (see the module doc), worst first."""
    lists = [op for op in ops if key_family(op.key) == "list"]
    if not lists:
        return []
    view = _ListView(lists)
    return view.phantoms() + view.duplicates() + view.lost() + view.stale_empties()


@dataclass(frozen=True)
class _Removal:
    element: str
    by: Operation  # an acknowledged pop, or the final read of a list

    def describe(self) -> str:
        if self.by.kind == "lrange":
            return f"still in {self.by.key} at the end"
        return f"popped by {self.by.describe()}"


class _ListView:
    def __init__(self, ops: Sequence[Operation]) -> None:
        self.ops = ops
        self.pushes = {op.value: op for op in ops if op.kind == "push" and op.value is not None}
        self.pool = _pools(ops)
        self.removals: dict[str, list[_Removal]] = defaultdict(list)
        self.sightings: list[tuple[str, Operation]] = []  # (element, op that gave it)
        for op in ops:
            if op.status is not Status.OK:
                continue
            if op.kind in ("pop", "move") and isinstance(op.output, str):
                self.sightings.append((op.output, op))
                if op.kind == "pop":
                    self.removals[op.output].append(_Removal(op.output, op))
            elif op.kind == "lrange":
                for element in final_elements(op):
                    self.sightings.append((element, op))
                    self.removals[element].append(_Removal(element, op))

    def phantoms(self) -> list[str]:
        problems = []
        for element, op in self.sightings:
            push = self.pushes.get(element)
            where = "in the final list" if op.kind == "lrange" else "from"
            seen = f"{element!r} {where} {op.describe()}"
            if push is None:
                problems.append(f"phantom element: {seen}, which no client pushed")
            elif push.status is Status.FAIL:
                problems.append(f"phantom element: {seen}, pushed by {push.describe()}, refused")
            elif self.pool[push.key] != self.pool[op.key]:
                problems.append(f"phantom element: {seen}, pushed to {push.key} by #{push.id}")
            elif op.ret is not None and op.ret < push.call:
                problems.append(f"phantom element: {seen}, before {push.describe()} was sent")
        return problems

    def duplicates(self) -> list[str]:
        return [
            f"duplicated element {element!r}: "
            + "; ".join(removal.describe() for removal in removals)
            for element, removals in sorted(self.removals.items())
            if len(removals) > 1
        ]

    def finished(self) -> set[str]:
        """Pools whose every list has a final read: only there is a missing element
        known to be gone (a history cut short proves nothing)."""
        read = {op.key for op in self.ops if op.kind == "lrange" and op.status is Status.OK}
        pools: dict[str, set[str]] = defaultdict(set)
        for key, pool in self.pool.items():
            pools[pool].add(key)
        return {pool for pool, keys in pools.items() if keys <= read}

    def lost(self) -> list[str]:
        unaccounted: dict[str, list[Operation]] = defaultdict(list)
        finished = self.finished()
        for push in self.pushes.values():
            if self.pool[push.key] not in finished:
                continue
            if push.status is Status.OK and not self.removals.get(str(push.value)):
                unaccounted[self.pool[push.key]].append(push)
        unknown_pops = Counter(
            self.pool[op.key] for op in self.ops if op.kind == "pop" and op.status is Status.INFO
        )
        problems = []
        for pool, pushes in sorted(unaccounted.items()):
            if len(pushes) > unknown_pops[pool]:
                named = "; ".join(push.describe() for push in pushes[:10])
                problems.append(
                    f"lost elements in {pool}: {len(pushes)} acknowledged pushes neither "
                    f"popped nor left at the end, and only {unknown_pops[pool]} pops of "
                    f"unknown outcome could have taken them: {named}"
                )
        return problems

    def stale_empties(self) -> list[str]:
        """See the module doc; only lists no move touches, where an element stays put."""
        sizes = Counter(self.pool.values())
        unmoved = {key for key, pool in self.pool.items() if sizes[pool] == 1}
        empties: dict[str, list[Operation]] = defaultdict(list)
        for op in self.ops:
            if op.kind == "pop" and op.status is Status.OK and op.output is None:
                empties[op.key].append(op)
        problems = []
        for key in sorted(unmoved & set(empties)):
            problems += self._stale_in(key, sorted(empties[key], key=lambda op: op.call))
        return problems

    def _stale_in(self, key: str, empties: list[Operation]) -> list[str]:
        calls = [op.call for op in empties]
        earliest_end = _suffix_earliest_end(empties)
        problems = []
        for push in self.pushes.values():
            if push.key != key or push.status is not Status.OK or push.ret is None:
                continue
            present_until = self._present_until(str(push.value))
            first = bisect.bisect_right(calls, push.ret)  # pops begun after the ack
            if first < len(empties) and earliest_end[first][0] < present_until:
                empty = earliest_end[first][1]
                problems.append(
                    f"stale empty list: {empty.describe()} answered nil, but "
                    f"{push.describe()} was acknowledged before and its element was "
                    f"{self._whereabouts(str(push.value))}"
                )
        return problems

    def _present_until(self, element: str) -> float:
        """Until when the element was surely in its list: the call of the pop that took
        it, forever if it is there at the end, -inf if unknown."""
        removals = self.removals.get(element, [])
        if len(removals) != 1:
            return -math.inf  # taken by a pop of unknown outcome (or duplicated)
        by = removals[0].by
        return math.inf if by.kind == "lrange" else by.call

    def _whereabouts(self, element: str) -> str:
        return self.removals[element][0].describe()


def _pools(ops: Iterable[Operation]) -> dict[str, str]:
    """Each list's pool, named by its least member: lists joined by (possible) moves."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            key = parent[key]
        return key

    for op in ops:
        root(op.key)
        if op.kind == "move" and op.status is not Status.FAIL:
            low, high = sorted((root(op.key), root(move_target(op))))
            parent[high] = low
    return {key: root(key) for key in list(parent)}


def _suffix_earliest_end(ops: list[Operation]) -> list[tuple[float, Operation]]:
    """For each position, the earliest-ending operation from there on."""
    best: list[tuple[float, Operation]] = []
    current = (math.inf, ops[-1])
    for op in reversed(ops):
        assert op.ret is not None
        if op.ret <= current[0]:
            current = (op.ret, op)
        best.append(current)
    return best[::-1]


def final_elements(op: Operation) -> list[str]:
    """The elements a final ``lrange`` read found, in order."""
    elements = json.loads(str(op.output or "[]"))
    assert isinstance(elements, list)
    return [str(element) for element in elements]


# ---------------------------------------------------------------------- counters


def counter_problems(ops: Sequence[Operation]) -> list[str]:
    """Every violation the counter checks find (see the module doc)."""
    by_key: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        if key_family(op.key) == "counter" and op.status is not Status.FAIL:
            by_key[op.key].append(op)
    problems: list[str] = []
    for key in sorted(by_key):
        odd = [op for op in by_key[key] if op.status is Status.OK and counted(op) < 0]
        problems += [f"{key}: not a count: {op.describe()}" for op in odd]
        if not odd:
            problems += _lost_increments(by_key[key]) + _Counter(key, by_key[key]).check()
    return problems


def counted(op: Operation) -> int:
    """The value an acknowledged increment answered or a read saw (absent: 0; -1 for
    anything that is not a count)."""
    if op.output is None:
        return 0
    text = str(op.output)
    return int(text) if text.isdigit() else -1


def _lost_increments(ops: list[Operation]) -> list[str]:
    """Reads begun after an increment was acknowledged that saw less than its result."""
    reads = sorted(
        (op for op in ops if op.kind == "get" and op.status is Status.OK), key=lambda op: op.call
    )
    if not reads:
        return []
    calls = [read.call for read in reads]
    lowest: list[Operation] = []  # from each position on, the read that saw the least
    for read in reversed(reads):
        lowest.append(read if not lowest or counted(read) <= counted(lowest[-1]) else lowest[-1])
    lowest.reverse()
    problems = []
    for incr in ops:
        if incr.kind != "incr" or incr.status is not Status.OK or incr.ret is None:
            continue
        first = bisect.bisect_right(calls, incr.ret)
        if first < len(reads) and counted(lowest[first]) < counted(incr):
            problems.append(
                f"acknowledged increment missing: {incr.describe()}; "
                f"later read {lowest[first].describe()}"
            )
    return problems


class _Counter:
    def __init__(self, key: str, ops: list[Operation]) -> None:
        self.key = key
        self.done: dict[int, list[Operation]] = defaultdict(list)  # value -> increments
        self.unknown: list[Operation] = []
        self.reads: dict[int, list[Operation]] = defaultdict(list)  # value seen -> reads
        for op in ops:
            if op.kind == "incr" and op.status is Status.OK:
                self.done[counted(op)].append(op)
            elif op.kind == "incr":
                self.unknown.append(op)
            elif op.kind == "get" and op.status is Status.OK:
                self.reads[counted(op)].append(op)
        self.unknown.sort(key=lambda op: (op.call, op.id))

    def check(self) -> list[str]:
        problems = [
            f"{self.key}: {len(incrs)} increments answered {value}: "
            + "; ".join(op.describe() for op in incrs)
            for value, incrs in sorted(self.done.items())
            if len(incrs) > 1
        ]
        top = max([*self.done, *self.reads, 0])
        read_deadline = self._read_deadlines(top)
        placed = -math.inf
        spare = 0  # unknown increments used so far, earliest sent first
        for value in range(1, top + 1):
            incr = self.done[value][0] if self.done.get(value) else None
            if incr is None and spare == len(self.unknown):
                return [*problems, self._nowhere(value)]
            if incr is None:
                incr, spare = self.unknown[spare], spare + 1
            earlier = [op.call for op in self.reads.get(value - 1, [])]
            placed = max(placed, incr.call, *earlier)
            bounds = [(incr.ret, incr)] if incr.ret is not None else []
            bounds += [read_deadline[value]] if value in read_deadline else []
            late = [op for ret, op in bounds if ret < placed]
            if late:
                return [*problems, self._too_late(value, incr, placed, late[0])]
        return problems

    def _read_deadlines(self, top: int) -> dict[int, tuple[float, Operation]]:
        """For each value, the earliest-ending read that saw it or more: the step to
        the value must come before that read ended."""
        deadlines: dict[int, tuple[float, Operation]] = {}
        current: tuple[float, Operation] | None = None
        for value in range(top, 0, -1):
            for read in self.reads.get(value, []):
                assert read.ret is not None
                if current is None or read.ret < current[0]:
                    current = (read.ret, read)
            if current is not None:
                deadlines[value] = current
        return deadlines

    def _nowhere(self, value: int) -> str:
        return (
            f"{self.key}: reached {value}, but only {len(self.unknown)} increments of unknown "
            f"outcome could have filled the values no acknowledged increment answered"
        )

    def _too_late(self, value: int, incr: Operation, placed: float, bound: Operation) -> str:
        return (
            f"{self.key}: not linearizable: the step to {value} ({incr.describe()}) cannot "
            f"happen before {placed:g}, yet {bound.describe()} had ended by then"
        )
