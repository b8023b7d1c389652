"""The sequential specification the linearizability checker holds a key's history to.

One key's state is its string value, or None when absent (INCR stores the decimal
string). Each kind, as Redis 7 (and tandemkv's strings.py) defines it:

get       output: the value.
put       SET: the value is stored; its output is not checked.
del       DEL: the key is gone; its output is not checked.
cas       compare-and-set: writes iff the value equals ``expected`` (None: absent).
set_ifeq  SET key value IFEQ expected: the same; an absent key never equals, so not set.
delifeq   DELIFEQ key expected: deletes iff the value equals ``expected``.
incr      INCR: an absent key counts as 0; the output is the new value. A value that
          is not a canonical signed 64-bit integer ("01", "-0", "+1", " 1" are not)
          answers NOT_INTEGER, one at the top of the range OVERFLOW, and either error
          leaves the value as it was.
rpush     RPUSH on a key only ever pushed to: the state is the list's length (decimal),
          the output the new length. Unlike INCR (logged as the value it computed), a
          push is logged as a push, so one applied twice shows up here.
llen      LLEN on such a key: the length, "0" when absent.
txn       MULTI/EXEC on the key: its steps run in order, all at one point; a step that
          errs (an INCR of a word) does not stop the others, as in Redis.

The rules are written from the Redis documentation and replies, not by calling
tandemkv's own command code, so a bug there shows up as a violation instead of being
copied into the specification.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from tandemkv.testing.history import Operation, Output, Status, SubOp

State = str | None
# The step function's shape: can ``op`` take effect on the state, and what follows.
Model = Callable[[State, Operation], tuple[bool, State]]

NOT_INTEGER = "ERR value is not an integer or out of range"
OVERFLOW = "ERR increment or decrement would overflow"
INT64_MAX = 2**63 - 1
_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,18}")
# Outputs that say nothing about the state (SET's OK, DEL's count) are not recorded.
UNCHECKED = frozenset(("put", "del"))
READS = frozenset(("get", "llen"))


def _incr(state: State) -> tuple[Output, State]:
    if state is None:
        current = 0
    elif _CANONICAL_INTEGER.fullmatch(state) is None:
        return NOT_INTEGER, state
    else:
        current = int(state)
        if current < -INT64_MAX - 1 or current > INT64_MAX:
            return NOT_INTEGER, state
    if current == INT64_MAX:
        return OVERFLOW, state
    new = str(current + 1)
    return new, new


def apply(state: State, kind: str, value: State, expected: State) -> tuple[Output, State]:
    """What one command answers on ``state``, and the state after it."""
    if kind == "get":
        return state, state
    if kind == "put":
        return None, value
    if kind == "del":
        return None, None
    if kind in ("cas", "set_ifeq"):
        # set_ifeq always carries a string to compare, so an absent key never matches.
        hit = state == expected
        return hit, value if hit else state
    if kind == "delifeq":
        hit = state is not None and state == expected
        return hit, None if hit else state
    if kind == "incr":
        return _incr(state)
    if kind == "rpush":
        length = str(int(state or 0) + 1)
        return length, length
    if kind == "llen":
        return state or "0", state
    raise ValueError(f"unknown operation kind {kind!r}")


def run_txn(state: State, steps: Sequence[SubOp]) -> tuple[list[Output], State]:
    """A MULTI/EXEC's outputs and final state: its steps applied in order."""
    outputs: list[Output] = []
    for sub in steps:
        output, state = apply(state, sub.kind, sub.value, sub.expected)
        outputs.append(output)
    return outputs, state


def _txn_matches(op: Operation, outputs: list[Output]) -> bool:
    recorded = op.output
    if not isinstance(recorded, list) or len(recorded) != len(op.steps):
        raise ValueError(f"a txn's output is the list of its steps' outputs: {op.describe()}")
    return all(
        sub.kind in UNCHECKED or got == want
        for sub, got, want in zip(op.steps, recorded, outputs, strict=True)
    )


def step(state: State, op: Operation) -> tuple[bool, State]:
    """Can ``op`` take effect on ``state``, and what follows. An operation with unknown
    outcome may always take effect (whether it did is the checker's choice)."""
    if op.kind == "txn":
        outputs, new = run_txn(state, op.steps)
        if op.status is Status.INFO:
            return True, new
        return _txn_matches(op, outputs), new
    output, new = apply(state, op.kind, op.value, op.expected)
    if op.status is Status.INFO or op.kind in UNCHECKED:
        return True, new
    return op.output == output, new


def changes_nothing(op: Operation) -> bool:
    """Whether ``op`` can never change the state (a read, or a txn of reads only)."""
    if op.kind == "txn":
        return all(sub.kind in READS for sub in op.steps)
    return op.kind in READS
