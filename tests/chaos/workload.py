"""Concurrent register clients for chaos runs, recording a history for the checker.

Each client is a thread with one connection at a time. It issues GET, SET and
``SET key value IFEQ expected`` (compare-and-set) on a few keys; every written value is
unique (``c<client>-<n>``), so a read names the write it saw. Each operation is recorded
with monotonic invoke/complete times and one of three outcomes:

- OK: a reply arrived. GET outputs the value or None; SET IFEQ outputs True (``OK``) or
  False (nil).
- FAIL: an error reply. Redis semantics: a command answered with an error did not run.
  (A server that applies a write and then answers an error is buggy, and the checker
  will say so.)
- INFO: unknown. The connection timed out, was reset or closed after the request was
  sent; the write may have happened, or may happen later.

A connection is only used after it answered a PING, so a server that is down or cut
off costs reconnect attempts, not operations of unknown outcome. After a timeout or a
lost connection the client closes it (a late reply must never be matched to the next
request), backs off a little and reconnects.

Where a client connects comes from a ``Router``. A plain ``() -> address`` callable
means one fixed server. Against a replication group the router finds the primary: a
``READONLY`` error (a write or read sent to a node that is not the primary) is a FAIL,
since nothing was applied, and the client drops that connection and asks the router
again, passing on the primary the error named, if any.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from helpers.resp import ConnectionClosed, RawClient, RespError
from tandemkv.testing.history import History, Operation, Status

Address = tuple[str, int]
Clock = Callable[[], float]
# "... primary is HOST:PORT" at the end of a READONLY error names where writes go.
PRIMARY_HINT = re.compile(r"primary is (\S+:\d+)")


@runtime_checkable
class Router(Protocol):
    def locate(self, hint: str | None) -> Address | None:
        """Where a client should connect now, None if nowhere looks usable yet. ``hint``
        is the "HOST:PORT" a READONLY error named as the primary (None: no hint)."""
        ...


class FixedTarget:
    """The router of a single server: always the same place (asked at every connect)."""

    def __init__(self, address: Callable[[], Address]) -> None:
        self.address = address

    def locate(self, hint: str | None) -> Address | None:
        return self.address()


def redirect_hint(error: RespError) -> str | None:
    """The primary a READONLY error names; "" when it names none; None if not READONLY."""
    if not error.text.upper().startswith("READONLY"):
        return None
    match = PRIMARY_HINT.search(error.text)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class WorkloadConfig:
    clients: int = 6
    keys: int = 4
    op_timeout: float = 1.0  # seconds a client waits for one reply
    read_ratio: float = 0.45
    cas_ratio: float = 0.25  # of all operations
    think_ms: tuple[float, float] = (1.0, 12.0)
    backoff_ms: tuple[float, float] = (30.0, 200.0)
    redirect_backoff_ms: tuple[float, float] = (5.0, 30.0)  # after a READONLY naming a primary

    def key_names(self) -> list[str]:
        return [f"chaos:k{n}" for n in range(self.keys)]


class SharedHistory:
    """A ``History`` that several client threads may append to.

    ``History.invoke`` numbers operations by list length, which is not thread-safe; the
    completion helpers only touch the one operation a client owns, so they need no lock.
    """

    def __init__(self) -> None:
        self.history = History()
        self._lock = threading.Lock()

    def invoke(
        self,
        process: int,
        kind: str,
        key: str,
        now: float,
        value: str | None = None,
        expected: str | None = None,
    ) -> Operation:
        with self._lock:
            return self.history.invoke(process, kind, key, now, value, expected)

    @property
    def ops(self) -> list[Operation]:
        return self.history.ops


@dataclass
class ClientStats:
    outcomes: Counter[str] = field(default_factory=Counter)  # "get:ok", "cas:info", ...
    connects: int = 0
    connect_failures: int = 0
    redirects: int = 0  # READONLY errors: the client was talking to a non-primary


class Workload:
    """Clients running until ``stop()``; the router (or ``address()``) is asked at every
    (re)connect."""

    def __init__(
        self,
        address: Callable[[], Address] | Router,
        config: WorkloadConfig,
        seed: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self.router: Router = address if isinstance(address, Router) else FixedTarget(address)
        self.config = config
        self.seed = seed
        self.clock = clock
        self.shared = SharedHistory()
        self.stats = [ClientStats() for _ in range(config.clients)]
        self.anomalies: list[str] = []  # replies no correct server sends
        self.errors: list[str] = []  # bugs in the harness itself
        self.placement: dict[int, Address] = {}  # operation id -> where it was sent
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(c,), name=f"chaos-client-{c}", daemon=True)
            for c in range(config.clients)
        ]

    @property
    def history(self) -> History:
        return self.shared.history

    def start(self) -> Workload:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop the clients; each finishes (or times out) its current operation first."""
        self._stop.set()
        limit = time.monotonic() + 2 * self.config.op_timeout + 5
        for thread in self._threads:
            thread.join(max(0.0, limit - time.monotonic()))
        hung = [t.name for t in self._threads if t.is_alive()]
        if hung:
            self.errors.append(f"clients did not stop: {hung}")
        self.history.close()

    def outcomes(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for stats in self.stats:
            total.update(stats.outcomes)
        return total

    def ok_since(self, since: float) -> int:
        """Operations that completed OK after ``since`` (a liveness probe)."""
        return sum(1 for op in self.history.ops if op.status is Status.OK and op.call >= since)

    # ------------------------------------------------------------------ one client

    def _run(self, client: int) -> None:
        try:
            _Client(self, client).loop()
        except Exception as exc:  # a harness bug must fail the run, not vanish with a thread
            self.errors.append(f"client {client}: {exc!r}")

    def stopping(self) -> bool:
        return self._stop.is_set()

    def pause(self, bounds_ms: tuple[float, float], rng: random.Random) -> None:
        self._stop.wait(rng.uniform(*bounds_ms) / 1000)


class _Client:
    def __init__(self, workload: Workload, number: int) -> None:
        self.w = workload
        self.number = number
        self.cfg = workload.config
        self.stats = workload.stats[number]
        self.rng = random.Random(workload.seed * 1000 + number)
        self.keys = self.cfg.key_names()
        self.count = 0
        self.seen: dict[str, list[str]] = {}  # values seen per key, for IFEQ
        self.hint: str | None = None  # the primary the last READONLY error named
        self.where: Address | None = None  # the current connection's address

    def loop(self) -> None:
        while not self.w.stopping():
            conn = self.connect()
            if conn is None:
                self.w.pause(self.cfg.backoff_ms, self.rng)
                continue
            with conn:
                while not self.w.stopping() and self.one_operation(conn):
                    self.w.pause(self.cfg.think_ms, self.rng)
            self.w.pause(
                self.cfg.redirect_backoff_ms if self.hint else self.cfg.backoff_ms, self.rng
            )

    def connect(self) -> RawClient | None:
        hint, self.hint = self.hint, None
        self.where = self.w.router.locate(hint)
        if self.where is None:
            self.stats.connect_failures += 1
            return None
        try:
            conn = RawClient(*self.where, timeout=self.cfg.op_timeout)
        except OSError:
            self.stats.connect_failures += 1
            return None
        try:
            if conn.call("PING") == "PONG":
                self.stats.connects += 1
                return conn
        except (OSError, ConnectionClosed):
            pass
        conn.close()
        self.stats.connect_failures += 1
        return None

    def one_operation(self, conn: RawClient) -> bool:
        """Run one operation; False if the connection must be dropped."""
        op, command = self.next_operation()
        if self.where is not None:
            self.w.placement[op.id] = self.where
        try:
            reply = conn.call(*command)
        except (OSError, ConnectionClosed):
            History.info(op)
            self.stats.outcomes[f"{op.kind}:info"] += 1
            return False
        return self.complete(op, reply, self.w.clock())

    def next_operation(self) -> tuple[Operation, tuple[str, ...]]:
        key = self.rng.choice(self.keys)
        roll = self.rng.random()
        history, now = self.w.shared, self.w.clock()
        if roll < self.cfg.read_ratio:
            return history.invoke(self.number, "get", key, now), ("GET", key)
        self.count += 1
        value = f"c{self.number}-{self.count}"
        seen = self.seen.get(key)
        if roll < self.cfg.read_ratio + self.cfg.cas_ratio and seen:
            expected = self.rng.choice(seen[-3:])
            op = history.invoke(self.number, "cas", key, now, value, expected)
            return op, ("SET", key, value, "IFEQ", expected)
        return history.invoke(self.number, "put", key, now, value), ("SET", key, value)

    def complete(self, op: Operation, reply: Any, now: float) -> bool:
        if isinstance(reply, RespError):
            History.fail(op, now)
            self.stats.outcomes[f"{op.kind}:fail"] += 1
            hint = redirect_hint(reply)
            if hint is None:
                return True
            self.stats.redirects += 1
            self.hint = hint or None
            return False  # not the primary (any more): ask the router again
        try:
            output = self.interpret(op, reply)
        except ValueError:
            self.w.anomalies.append(f"{op.describe()}: unexpected reply {reply!r}")
            History.info(op)
            self.stats.outcomes[f"{op.kind}:info"] += 1
            return False
        History.ok(op, output, now)
        self.stats.outcomes[f"{op.kind}:ok"] += 1
        self.remember(op, output)
        return True

    @staticmethod
    def interpret(op: Operation, reply: Any) -> str | bool | None:
        """The operation's output; ValueError for a reply a correct server never sends."""
        if op.kind == "get" and (reply is None or isinstance(reply, bytes)):
            return None if reply is None else bytes(reply).decode()
        if op.kind == "put" and reply == "OK":
            return None
        if op.kind == "cas" and (reply is None or reply == "OK"):
            return reply is not None
        raise ValueError(reply)

    def remember(self, op: Operation, output: str | bool | None) -> None:
        written = op.kind == "put" or output is True
        value = op.value if written else output if isinstance(output, str) else None
        if value is not None:
            values = self.seen.setdefault(op.key, [])
            values.append(value)
            del values[:-8]
