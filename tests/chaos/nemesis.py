"""The thread that carries out a fault schedule, against one node or a replication group.

``Nemesis`` holds what every run shares: it waits for each step's time, resolves a fault
aimed at "the primary" when the step begins (the log names the node that was hit),
starts the fault (over and over, for a step with a flap period) and undoes it in a
``finally``, so a stopped run leaves no fault behind. What a kind of fault does, and to
what, is a ``Target``'s business: ``node_faults.NodeTarget`` for ``ChaosNode``s behind
their proxies, ``cluster_faults.ClusterTarget`` for a ``Cluster`` and its peer links.
Steps never overlap; the wall-clock timing of a real run still varies, so a replayed
seed repeats the schedule, not the exact interleaving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol

from chaos.schedule import Aim, K, Schedule, Step


@dataclass(frozen=True)
class Action:
    """One step made concrete: how its fault starts (a flap: how it cuts) and how it is
    lifted. ``begin`` may return a line worth logging."""

    begin: Callable[[], str | None]
    undo: Callable[[], None]


class Target(Protocol[K]):
    def primary(self) -> int | None:
        """The node acting as primary now, if any: where a fault aimed at it lands."""
        ...

    def act(self, step: Step[K], node: int) -> Action:
        """What carrying out ``step`` against ``node`` does, and how it is undone."""
        ...

    def heal(self) -> None:
        """Undo every fault there is, whatever the schedule did or failed to do."""
        ...


class Nemesis(Generic[K]):
    """Runs a schedule in a thread; ``log`` records what was done, and when, and ``hit``
    the node each step was aimed at once resolved."""

    def __init__(
        self,
        schedule: Schedule[K],
        target: Target[K],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schedule = schedule
        self.target = target
        self.clock = clock
        self.log: list[str] = []
        self.errors: list[str] = []
        self.hit: list[int] = []
        self.finished_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._start = 0.0

    def start(self) -> Nemesis[K]:
        self._start = self.clock()
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Wait for the schedule to finish; False if it is still running."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.ident is None:
            return  # never started (a scripted run)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.errors.append("the nemesis did not stop")

    def heal_all(self) -> None:
        self.target.heal()
        self._note("healed every fault")

    def _run(self) -> None:
        try:
            for step in self.schedule.steps:
                if self._stop.wait(max(0.0, self._start + step.at - self.clock())):
                    break
                self._apply(step)
        except Exception as exc:
            self.errors.append(f"nemesis failed: {exc!r}")
        finally:
            self.finished_at = self.clock()

    def _apply(self, step: Step[K]) -> None:
        node = self._aim(step)
        self.hit.append(node)
        resolved = f" (node{node})" if step.kind.aim is Aim.PRIMARY else ""
        self._note(f"begin {step.describe()}{resolved}")
        action = self.target.act(step, node)
        try:
            if step.period:
                self._flap(action, step)
            else:
                said = action.begin()
                if said:
                    self._note(said)
                self._sleep(step.duration)
        finally:
            action.undo()
            self._note(f"end {step.kind.value} node{node}")

    def _aim(self, step: Step[K]) -> int:
        if step.kind.aim is not Aim.PRIMARY:
            return step.node
        primary = self.target.primary()
        if primary is None:
            self._note(f"no primary found; falling back to node{step.node}")
            return step.node
        return primary

    def _flap(self, action: Action, step: Step[K]) -> None:
        until = self.clock() + step.duration
        while self.clock() < until and not self._stop.is_set():
            action.begin()
            self._sleep(step.period)
            action.undo()
            self._sleep(step.period)

    def _note(self, text: str) -> None:
        self.log.append(f"t={self.clock():8.3f} {text}")

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)
