"""Several simulated processes in one thread, on one simulated clock, replayable by seed.

    World(seed)                       now (seconds from 0), rng, fork_rng(label)
    World.spawn(name) -> SimProcess   a process: its own SimLoop, alive, paused_until
    World.run(coro, process) -> Task  start a coroutine on a process
    World.step() -> bool              run one loop iteration of the process due first
    World.run_for(seconds)            step until `now + seconds` (the clock lands there)
    World.run_until(pred, timeout)    step until pred() holds; False on timeout
    World.kill(process)               it never runs again; kill hooks (the network) told
    World.pause(process, seconds)     it runs nothing until then (GC pause, SIGSTOP)
    World.errors()                    unhandled exceptions recorded on any process's loop
    World.close()                     close every loop at the end of a run

Scheduling. `step()` picks the live process whose next work is due first: ready callbacks
are due now, timers at their time, a paused process not before `paused_until`; ties go to
the process spawned first. The clock moves to that time (never back) and the process runs
exactly one `_run_once()` with its loop installed as the running loop. Nothing here reads
the wall clock, so a run depends only on the seed and the code.

Decisions: a process is stepped by linear scan (clusters have a handful of processes, and
a scan costs less than keeping a heap in sync with loops that change on every callback).
A `Livelock` is raised after `livelock_limit` steps at one instant: a process that keeps
re-scheduling itself at the same time would otherwise hang the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from asyncio import events
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from tandemkv.testing.world.loop import SimLoop

T = TypeVar("T")


class Livelock(RuntimeError):
    """Too many steps without the simulated clock moving."""


@dataclass(frozen=True)
class DiskSettings:
    """How long a simulated fsync takes, drawn uniformly between the two (seconds)."""

    min_latency: float = 0.0001
    max_latency: float = 0.001


FAST_DISK = DiskSettings()
SLOW_DISK = DiskSettings(0.02, 0.2)


@dataclass(eq=False)
class SimProcess:
    """One simulated OS process: an event loop and the faults that act on it."""

    name: str
    serial: int  # its spawn order in the world: unique even when a name is reused
    loop: SimLoop
    alive: bool = True
    paused_until: float = 0.0
    clock_offset: float = 0.0  # seconds added to its wall clock (clock-jump faults)
    disk: DiskSettings = FAST_DISK  # replaced whole (SLOW_DISK) to slow its fsyncs

    def __repr__(self) -> str:
        return f"<SimProcess {self.name}#{self.serial} alive={self.alive}>"


class World:
    def __init__(self, seed: int, livelock_limit: int = 1_000_000) -> None:
        self.seed = seed
        self.now = 0.0
        self.rng = random.Random(seed)
        self.processes: list[SimProcess] = []  # every one spawned, in spawn order
        self._live: list[SimProcess] = []
        self.kill_hooks: list[Callable[[SimProcess], None]] = []
        self.livelock_limit = livelock_limit
        self._steps_at_now = 0
        self.steps = 0

    def _clock(self) -> float:
        return self.now

    def fork_rng(self, label: str) -> random.Random:
        """A generator of its own for one purpose, derived from the seed and `label` only
        (not from draws made elsewhere; and not via hash(), which varies per run)."""
        digest = hashlib.sha256(f"{self.seed}/{label}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def spawn(self, name: str) -> SimProcess:
        process = SimProcess(name, len(self.processes), SimLoop(self._clock, name))
        self.processes.append(process)
        self._live.append(process)
        return process

    def run(self, coro: Coroutine[Any, Any, T], process: SimProcess) -> asyncio.Task[T]:
        if not process.alive:
            coro.close()
            raise RuntimeError(f"{process.name} is dead")
        return process.loop.create_task(coro)

    # --- stepping ---------------------------------------------------------------------

    def _next(self) -> tuple[SimProcess | None, float]:
        best: SimProcess | None = None
        best_due = float("inf")
        for process in self._live:
            due = process.loop.next_due()
            if due is None:
                continue
            if process.paused_until > due:
                due = process.paused_until
            if due < best_due:
                best, best_due = process, due
        return best, best_due

    def _advance(self, when: float) -> None:
        if when > self.now:
            self.now = when
            self._steps_at_now = 0

    def _run(self, process: SimProcess, due: float) -> None:
        if due > self.now:
            self._advance(due)
        else:
            self._steps_at_now += 1
            if self._steps_at_now > self.livelock_limit:
                raise Livelock(f"{self._steps_at_now} steps at t={self.now} ({process.name})")
        self.steps += 1
        previous = events._get_running_loop()
        events._set_running_loop(process.loop)
        try:
            process.loop.run_once()
        finally:
            events._set_running_loop(previous)

    def step(self) -> bool:
        """Run one iteration of the process due first; False when nothing is scheduled."""
        process, due = self._next()
        if process is None:
            return False
        self._run(process, due)
        return True

    def run_for(self, seconds: float) -> None:
        """Run everything due within `seconds`; the clock then reads exactly now+seconds."""
        end = self.now + seconds
        while True:
            process, due = self._next()
            if process is None or due > end:
                break
            self._run(process, due)
        self._advance(end)

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Step until predicate() holds (checked before each step); False if `timeout`
        simulated seconds pass first (the clock then reads the deadline)."""
        end = self.now + timeout
        while not predicate():
            process, due = self._next()
            if process is None or due > end:
                self._advance(end)
                return predicate()
            self._run(process, due)
        return True

    # --- faults ---------------------------------------------------------------------

    def kill(self, process: SimProcess) -> None:
        """The process stops at once: its pending callbacks never run. The hooks (the
        network resetting its connections) run before its loop is closed."""
        if not process.alive:
            return
        process.alive = False
        self._live.remove(process)
        for hook in self.kill_hooks:
            hook(process)
        process.loop.close()

    def pause(self, process: SimProcess, seconds: float) -> None:
        """The process runs nothing until now + seconds; overdue timers then fire."""
        process.paused_until = max(process.paused_until, self.now + seconds)

    def close(self) -> None:
        """End the run: every loop closed, so none is left for the garbage collector to
        warn about; the world steps nothing after this."""
        for process in self._live:
            process.alive = False
            process.loop.close()
        self._live.clear()

    def errors(self) -> list[tuple[str, dict[str, Any]]]:
        """Unhandled exceptions recorded on any process's loop, with its name."""
        return [(p.name, e) for p in self.processes for e in p.loop.errors]
