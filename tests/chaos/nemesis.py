"""Seeded fault schedules and the thread that carries them out against nodes.

``make_schedule(seed, ...)`` is a pure function: the same seed gives the same steps
(kind, start offset, duration, target node, delay parameters), whatever else happens in
the run. The ``Nemesis`` thread then applies them in order against ``ChaosNode``s and
undoes each one when its time is up (in a ``finally``, so a stopped run leaves no fault
behind). Steps never overlap; the wall-clock timing of a real run still varies, so a
replayed seed repeats the schedule, not the exact interleaving.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from chaos.nodes import ChaosNode
from chaos.proxy import Direction, FaultProxy


class FaultKind(Enum):
    KILL = "kill"  # SIGKILL, stay down, restart on the same data directory
    PAUSE = "pause"  # SIGSTOP for longer than a client waits, then SIGCONT
    PARTITION = "partition"  # the proxy blackholes every connection, old and new
    FLAP = "flap"  # partition and heal, over and over
    DELAY = "delay"  # both directions delayed, with jitter
    DROP_REQUESTS = "drop-requests"  # client-to-server bytes vanish
    DROP_REPLIES = "drop-replies"  # server-to-client bytes vanish: writes land unseen
    RESET = "reset"  # every open connection is reset at once
    RESET_REPLIES = "reset-replies"  # a reply resets its connection instead of arriving


ALL_KINDS = tuple(FaultKind)
PROCESS_KINDS = (FaultKind.KILL, FaultKind.PAUSE)


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the chaos phase began
    kind: FaultKind
    duration: float
    node: int
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    period: float = 0.0  # flap: seconds cut, then seconds healed

    def describe(self) -> str:
        extra = ""
        if self.kind is FaultKind.DELAY:
            extra = f" {self.delay_ms:.0f}ms+-{self.jitter_ms:.0f}ms"
        elif self.kind is FaultKind.FLAP:
            extra = f" every {self.period:.2f}s"
        return f"@{self.at:6.2f}s {self.kind.value} node{self.node} for {self.duration:.2f}s{extra}"


@dataclass(frozen=True)
class Schedule:
    seed: int
    steps: tuple[Step, ...]

    def describe(self) -> str:
        return "\n".join(step.describe() for step in self.steps) or "(no faults)"

    def kinds(self) -> set[FaultKind]:
        return {step.kind for step in self.steps}


def make_schedule(
    seed: int,
    duration: float,
    nodes: int = 1,
    kinds: Sequence[FaultKind] = ALL_KINDS,
    op_timeout: float = 1.0,
    gap: tuple[float, float] = (0.3, 1.5),
    required: Sequence[FaultKind] = (),
) -> Schedule:
    """Faults one after another, separated by quiet gaps, starting before ``duration``.

    The first steps are the ``required`` kinds (in an order the seed picks), so that a
    short run is sure to include them; the rest are drawn from ``kinds``."""
    rng = random.Random(seed)
    upfront = list(required)
    rng.shuffle(upfront)
    steps: list[Step] = []
    at = rng.uniform(*gap)
    while at < duration and (kinds or upfront):
        kind = upfront.pop(0) if upfront else rng.choice(list(kinds))
        step = _make_step(rng, kind, at, rng.randrange(nodes), op_timeout)
        steps.append(step)
        at += step.duration + rng.uniform(*gap)
    return Schedule(seed, tuple(steps))


def _make_step(
    rng: random.Random, kind: FaultKind, at: float, node: int, op_timeout: float
) -> Step:
    if kind is FaultKind.KILL:
        return Step(at, kind, rng.uniform(0.0, 1.5), node)
    if kind is FaultKind.PAUSE:
        return Step(at, kind, op_timeout * rng.uniform(1.3, 2.5), node)
    if kind is FaultKind.DELAY:
        delay = rng.choice((5.0, 20.0, 80.0, 250.0))
        return Step(at, kind, rng.uniform(1.0, 3.0), node, delay, delay * rng.uniform(0, 1))
    if kind is FaultKind.FLAP:
        return Step(at, kind, rng.uniform(1.0, 3.0), node, period=rng.uniform(0.05, 0.4))
    if kind is FaultKind.RESET:
        return Step(at, kind, 0.0, node)
    if kind is FaultKind.RESET_REPLIES:
        return Step(at, kind, rng.uniform(0.1, 0.6), node)
    return Step(at, kind, rng.uniform(0.5, 2.5), node)  # partition, drops


class Nemesis:
    """Runs a schedule in a thread; ``log`` records what was done, and when."""

    def __init__(
        self,
        schedule: Schedule,
        nodes: Sequence[ChaosNode],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schedule = schedule
        self.nodes = list(nodes)
        self.clock = clock
        self.log: list[str] = []
        self.errors: list[str] = []
        self.finished_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._start = 0.0

    def start(self) -> Nemesis:
        self._start = self.clock()
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Wait for the schedule to finish; False if it is still running."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.errors.append("the nemesis did not stop")

    def heal_all(self) -> None:
        for node in self.nodes:
            node.heal()
        self._note("healed every node")

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

    def _note(self, text: str) -> None:
        self.log.append(f"t={self.clock():8.3f} {text}")

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _apply(self, step: Step) -> None:
        node = self.nodes[step.node]
        self._note(f"begin {step.describe()}")
        try:
            if step.kind is FaultKind.KILL:
                node.kill()
                self._sleep(step.duration)
            elif step.kind is FaultKind.PAUSE:
                node.pause()
                self._sleep(step.duration)
            elif step.kind is FaultKind.FLAP:
                self._flap(node.proxy, step)
            else:
                assert node.proxy is not None
                _start_link_fault(node.proxy, step)
                self._sleep(step.duration)
        finally:
            self._undo(node, step)
            self._note(f"end {step.kind.value} node{step.node}")

    def _flap(self, proxy: FaultProxy | None, step: Step) -> None:
        assert proxy is not None
        until = self.clock() + step.duration
        while self.clock() < until and not self._stop.is_set():
            proxy.partition()
            self._sleep(step.period)
            proxy.heal()
            self._sleep(step.period)

    @staticmethod
    def _undo(node: ChaosNode, step: Step) -> None:
        if step.kind is FaultKind.KILL:
            node.restart()
        elif step.kind is FaultKind.PAUSE:
            node.resume()
        elif node.proxy is not None:
            node.proxy.heal()


def _start_link_fault(proxy: FaultProxy, step: Step) -> None:
    kind = step.kind
    if kind is FaultKind.PARTITION:
        proxy.partition()
    elif kind is FaultKind.DELAY:
        proxy.delay(step.delay_ms, step.jitter_ms)
    elif kind is FaultKind.DROP_REQUESTS:
        proxy.drop(Direction.UP)
    elif kind is FaultKind.DROP_REPLIES:
        proxy.drop(Direction.DOWN)
    elif kind is FaultKind.RESET:
        proxy.reset_all()
    elif kind is FaultKind.RESET_REPLIES:
        proxy.reset_on_traffic(Direction.DOWN)
    else:
        raise ValueError(f"not a link fault: {kind}")
