"""Concurrent clients for chaos runs, recording a history for the checkers.

Each client is a thread with one connection at a time. It picks a family of keys, then
an operation on one of them (the key's name says its family, see ``key_family``):

- string registers ``chaos:k<n>``: GET, SET and ``SET key value IFEQ expected``
  (compare-and-set), recorded as get / put / cas;
- hash fields ``chaos:h<n>/f<m>``, registers too: HGET, HSET and HDEL, recorded as get /
  put / del (the del's output: whether HDEL removed the field);
- counters ``chaos:hc/n<m>`` (fields of one hash): HINCRBY by 1 and HGET, recorded as
  incr (output: the new value, as text) and get;
- lists ``chaos:l<n>``: RPUSH of one element, LPOP / RPOP (pop, ``expected`` names the
  side), and LMOVE between the first two lists (move, ``expected`` holds the sides and
  the destination, see ``move_target``); pop and move output the element or None.

Every written value and pushed element is unique (``c<client>-<n>``), so a read or a pop
names the write or push it saw. Each operation is recorded with monotonic
invoke/complete times and one of three outcomes:

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

import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from helpers.resp import ConnectionClosed, RawClient, RespError
from tandemkv.testing.history import History, Operation, Status

Address = tuple[str, int]
Clock = Callable[[], float]
# "... primary is HOST:PORT" at the end of a READONLY error names where writes go.
PRIMARY_HINT = re.compile(r"primary is (\S+:\d+)")


Family = Literal["string", "field", "counter", "list"]
FAMILIES: tuple[Family, ...] = ("string", "field", "counter", "list")
COUNTER_HASH = "chaos:hc"
LIST_PREFIX = "chaos:l"
SIDES = ("LEFT", "RIGHT")


def key_family(key: str) -> Family:
    """Which family a key of the workload belongs to, from its name alone (so a saved
    history can be judged without its configuration)."""
    if "/" in key:
        return "counter" if key.startswith(COUNTER_HASH + "/") else "field"
    return "list" if key.startswith(LIST_PREFIX) else "string"


def split_field(key: str) -> tuple[str, str]:
    """``chaos:h0/f1`` -> (``chaos:h0``, ``f1``): the hash and the field."""
    hash_key, _, name = key.partition("/")
    return hash_key, name


def move_target(op: Operation) -> str:
    """Where a move (``expected``: "LEFT RIGHT chaos:l1") sends its element."""
    return str(op.expected).split()[-1]


def label(op: Operation) -> str:
    """The operation's name in outcome counts: a string's kind as is (get, put, cas),
    a hash field's prefixed (hget, hput, hdel), counters' cget / incr, lists' as is."""
    family = key_family(op.key)
    if family == "field":
        return "h" + op.kind
    if family == "counter" and op.kind == "get":
        return "cget"
    return op.kind


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
    keys: int = 4  # string registers
    hashes: int = 2  # hashes of register fields ...
    fields: int = 2  # ... with this many fields each
    counters: int = 2  # HINCRBY counters, fields of one more hash
    lists: int = 3  # LMOVE moves between the first two only
    # How often each family is picked: strings, hash fields, counters, lists.
    mix: tuple[float, float, float, float] = (0.5, 0.2, 0.1, 0.2)
    op_timeout: float = 1.0  # seconds a client waits for one reply
    read_ratio: float = 0.45  # of string operations
    cas_ratio: float = 0.25  # of string operations
    field_read_ratio: float = 0.4  # of hash field operations; the rest HSET, HDEL:
    field_delete_ratio: float = 0.15
    counter_read_ratio: float = 0.3  # of counter operations; the rest HINCRBY
    pop_ratio: float = 0.4  # of list operations; then LMOVE, the rest RPUSH
    move_ratio: float = 0.15
    think_ms: tuple[float, float] = (1.0, 12.0)
    backoff_ms: tuple[float, float] = (30.0, 200.0)
    redirect_backoff_ms: tuple[float, float] = (5.0, 30.0)  # after a READONLY naming a primary

    def key_names(self) -> list[str]:
        """The string registers."""
        return [f"chaos:k{n}" for n in range(self.keys)]

    def field_names(self) -> list[str]:
        return [f"chaos:h{h}/f{f}" for h in range(self.hashes) for f in range(self.fields)]

    def counter_names(self) -> list[str]:
        return [f"{COUNTER_HASH}/n{n}" for n in range(self.counters)]

    def list_names(self) -> list[str]:
        return [f"{LIST_PREFIX}{n}" for n in range(self.lists)]

    def all_names(self) -> list[str]:
        """Every key (and hash field) the clients touch: what the final reads read."""
        return self.key_names() + self.field_names() + self.counter_names() + self.list_names()

    def family_names(self, family: Family) -> list[str]:
        return {
            "string": self.key_names,
            "field": self.field_names,
            "counter": self.counter_names,
            "list": self.list_names,
        }[family]()


def read_values(conn: RawClient, names: Sequence[str]) -> dict[str, str | None]:
    """What the server holds for each name (see ``key_family``): GET, HGET, or a list's
    elements as a JSON array (LRANGE; ``[]`` when absent). A reply no correct server
    sends raises ValueError; connection trouble raises as the client does."""
    values: dict[str, str | None] = {}
    for name in names:
        family = key_family(name)
        if family == "list":
            reply = conn.call("LRANGE", name, 0, -1)
            if not isinstance(reply, list) or not all(isinstance(e, bytes) for e in reply):
                raise ValueError(f"LRANGE {name} answered {reply!r}")
            values[name] = json.dumps([bytes(e).decode() for e in reply])
            continue
        command = ("GET", name) if family == "string" else ("HGET", *split_field(name))
        reply = conn.call(*command)
        if not (reply is None or isinstance(reply, bytes)):
            raise ValueError(f"reading {name} answered {reply!r}")
        values[name] = None if reply is None else bytes(reply).decode()
    return values


def record_final_reads(history: History, values: Mapping[str, str | None], now: float) -> None:
    """One completed read per name, made after the system healed and settled (process
    -1): a get, or for a list an ``lrange`` whose output is the JSON array of its
    elements. Checked with the rest, they expose what the run lost."""
    for name in sorted(values):
        kind = "lrange" if key_family(name) == "list" else "get"
        History.ok(history.invoke(-1, kind, name, now), values[name], now)


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
            self.stats.outcomes[f"{label(op)}:info"] += 1
            return False
        return self.complete(op, reply, self.w.clock())

    def next_operation(self) -> tuple[Operation, tuple[str, ...]]:
        weights = [
            weight if self.cfg.family_names(family) else 0.0
            for family, weight in zip(FAMILIES, self.cfg.mix, strict=True)
        ]
        family = self.rng.choices(FAMILIES, weights)[0]
        key = self.rng.choice(self.cfg.family_names(family))
        roll = self.rng.random()
        if family == "field":
            return self.field_operation(key, roll)
        if family == "counter":
            return self.counter_operation(key, roll)
        if family == "list":
            return self.list_operation(key, roll)
        return self.string_operation(key, roll)

    def fresh_value(self) -> str:
        self.count += 1
        return f"c{self.number}-{self.count}"

    def string_operation(self, key: str, roll: float) -> tuple[Operation, tuple[str, ...]]:
        history, now = self.w.shared, self.w.clock()
        if roll < self.cfg.read_ratio:
            return history.invoke(self.number, "get", key, now), ("GET", key)
        value = self.fresh_value()
        seen = self.seen.get(key)
        if roll < self.cfg.read_ratio + self.cfg.cas_ratio and seen:
            expected = self.rng.choice(seen[-3:])
            op = history.invoke(self.number, "cas", key, now, value, expected)
            return op, ("SET", key, value, "IFEQ", expected)
        return history.invoke(self.number, "put", key, now, value), ("SET", key, value)

    def field_operation(self, key: str, roll: float) -> tuple[Operation, tuple[str, ...]]:
        history, now = self.w.shared, self.w.clock()
        hash_key, name = split_field(key)
        if roll < self.cfg.field_read_ratio:
            return history.invoke(self.number, "get", key, now), ("HGET", hash_key, name)
        if roll < self.cfg.field_read_ratio + self.cfg.field_delete_ratio:
            return history.invoke(self.number, "del", key, now), ("HDEL", hash_key, name)
        value = self.fresh_value()
        op = history.invoke(self.number, "put", key, now, value)
        return op, ("HSET", hash_key, name, value)

    def counter_operation(self, key: str, roll: float) -> tuple[Operation, tuple[str, ...]]:
        history, now = self.w.shared, self.w.clock()
        hash_key, name = split_field(key)
        if roll < self.cfg.counter_read_ratio:
            return history.invoke(self.number, "get", key, now), ("HGET", hash_key, name)
        return history.invoke(self.number, "incr", key, now), ("HINCRBY", hash_key, name, "1")

    def list_operation(self, key: str, roll: float) -> tuple[Operation, tuple[str, ...]]:
        history, now = self.w.shared, self.w.clock()
        side = self.rng.choice(SIDES)
        if roll < self.cfg.pop_ratio:
            op = history.invoke(self.number, "pop", key, now, expected=side.lower())
            return op, (f"{side[0]}POP", key)
        movable = self.cfg.list_names()[:2]
        moving = roll < self.cfg.pop_ratio + self.cfg.move_ratio
        if moving and len(movable) == 2 and key in movable:
            target = movable[1 - movable.index(key)]
            to = self.rng.choice(SIDES)
            op = history.invoke(self.number, "move", key, now, None, f"{side} {to} {target}")
            return op, ("LMOVE", key, target, side, to)
        element = self.fresh_value()
        return history.invoke(self.number, "push", key, now, element), ("RPUSH", key, element)

    def complete(self, op: Operation, reply: Any, now: float) -> bool:
        if isinstance(reply, RespError):
            History.fail(op, now)
            self.stats.outcomes[f"{label(op)}:fail"] += 1
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
            self.stats.outcomes[f"{label(op)}:info"] += 1
            return False
        History.ok(op, output, now)
        self.stats.outcomes[f"{label(op)}:ok"] += 1
        self.remember(op, output)
        return True

    @staticmethod
    def interpret(op: Operation, reply: Any) -> str | bool | None:
        """The operation's output; ValueError for a reply a correct server never sends."""
        counted = isinstance(reply, int) and not isinstance(reply, bool)
        if op.kind in ("get", "pop", "move") and (reply is None or isinstance(reply, bytes)):
            return None if reply is None else bytes(reply).decode()
        if op.kind == "put" and key_family(op.key) == "string" and reply == "OK":
            return None
        if op.kind == "put" and counted and reply in (0, 1):  # HSET: fields added
            return None
        if op.kind == "cas" and (reply is None or reply == "OK"):
            return reply is not None
        if op.kind == "del" and counted and reply in (0, 1):  # HDEL: fields removed
            return bool(reply == 1)
        if op.kind == "incr" and counted and reply >= 1:
            return str(reply)
        if op.kind == "push" and counted and reply >= 1:  # RPUSH: the new length
            return None
        raise ValueError(reply)

    def remember(self, op: Operation, output: str | bool | None) -> None:
        """Values seen per string key, the candidates for a later IFEQ."""
        if key_family(op.key) != "string":
            return
        written = op.kind == "put" or output is True
        value = op.value if written else output if isinstance(output, str) else None
        if value is not None:
            values = self.seen.setdefault(op.key, [])
            values.append(value)
            del values[:-8]
