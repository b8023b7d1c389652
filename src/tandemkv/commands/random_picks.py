"""Repeating random picks drawn across event-loop turns (SRANDMEMBER, ZRANDMEMBER and
HRANDFIELD with a negative count), shared by the three families."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tandemkv.commands.session import Deferred, SlicedJob

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


# Repeating random picks (SRANDMEMBER, ZRANDMEMBER, HRANDFIELD with a negative count) are
# as many as the client asks, up to args.MAX_RANDOM_REPLY, whatever the collection's size:
# a million held the event loop 2-5 s in the pure build (the fuzzer found it). Past this
# many they are drawn a slice per loop turn, from a copy of the collection taken at once.
PICK_SLICE = 20_000


def picks_in_slices(
    e: Engine, s: Session, draw: Callable[[int], list[object]], count: int
) -> object:
    """The reply of `count` picks, `draw(n)` giving the reply items of n more: a slice per
    turn of the event loop (after the queue inside EXEC, as KEYS is)."""
    job = _drawn(draw, count)
    if e.atomic is not None:
        return Deferred(job)
    return e.host.run_sliced(s, job)


def _drawn(draw: Callable[[int], list[object]], count: int) -> SlicedJob:
    reply: list[object] = []
    for start in range(0, count, PICK_SLICE):
        if start:
            yield
        reply += draw(min(PICK_SLICE, count - start))
    return reply
