"""An asyncio event loop that runs on a simulated clock and is stepped from outside.

`SimLoop` subclasses the standard library's `BaseEventLoop`, so Tasks, Futures, timers,
`asyncio.sleep`, `wait_for` and `Event` behave exactly as in production. It differs in
three places only:

- `time()` reads a clock function (the world's `now`); the loop never advances it.
- Its selector is a stub whose `select()` returns at once with no events: there are no
  file descriptors in the simulator, simulated sockets schedule callbacks directly.
- Unhandled exceptions reported through `call_exception_handler` are recorded in
  `errors` (the simulator fails a run on any) instead of being logged.

The loop is never "run": the world calls `run_once()` when this process has the earliest
due work, with the loop installed as the running loop for that one iteration.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Callable
from contextvars import Context
from typing import Any, TypeVarTuple

_Ts = TypeVarTuple("_Ts")


class _NoSelector:
    """What `BaseEventLoop._run_once` polls: nothing is ever ready, and it never sleeps."""

    def select(self, timeout: float | None = None) -> list[object]:
        return []

    def close(self) -> None:
        pass


class SimLoop(asyncio.BaseEventLoop):
    # BaseEventLoop's private state that next_due reads (typeshed does not declare it).
    _ready: deque[asyncio.Handle]
    _scheduled: list[asyncio.TimerHandle]
    _timer_cancelled_count: int

    def __init__(self, clock: Callable[[], float], name: str = "") -> None:
        super().__init__()
        self._clock = clock
        self.name = name
        self._selector = _NoSelector()
        # _run_once runs timers due before time() + resolution; the world advances the
        # clock to a timer's exact `when`, so any positive resolution below the smallest
        # delay anyone schedules makes it run.
        self._clock_resolution = 1e-9
        self.errors: list[dict[str, Any]] = []
        self.set_exception_handler(_record)

    def time(self) -> float:
        return self._clock()

    def _process_events(self, event_list: list[object]) -> None:
        pass

    def call_soon_threadsafe(
        self,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> asyncio.Handle:
        # No threads in the simulator: a "threadsafe" post is an ordinary one (there is no
        # self-pipe to wake).
        return self.call_soon(callback, *args, context=context)

    def __del__(self) -> None:
        # BaseEventLoop warns of an unclosed loop here; a SimLoop holds no descriptor or
        # thread, so one a finished run leaves open is no leak.
        pass

    def run_forever(self) -> None:
        # Run by hand it would spin: no timer ever comes due, as nothing moves the clock.
        raise RuntimeError("a SimLoop is stepped by its World (world.step / run_for)")

    def next_due(self) -> float | None:
        """When this loop next has work: -inf if callbacks are ready, else the earliest
        live timer's time, else None. Drops cancelled timers from the heap's head, as
        `_run_once` would."""
        if self._ready:
            return float("-inf")
        scheduled = self._scheduled
        while scheduled and scheduled[0].cancelled():
            self._timer_cancelled_count -= 1
            heapq.heappop(scheduled)._scheduled = False  # type: ignore[attr-defined]
        return scheduled[0].when() if scheduled else None

    def run_once(self) -> None:
        """One iteration: the due timers move to the ready queue and every callback
        ready at its start runs. The caller installs this loop as the running loop."""
        self._run_once()  # type: ignore[attr-defined]


def _record(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Once a process is killed, the tasks it leaves behind are destroyed pending: that is
    # the kill, not a defect of the run.
    if isinstance(loop, SimLoop) and not loop.is_closed():
        loop.errors.append(context)
