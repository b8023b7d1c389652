"""A seeded fuzz run: client threads send drawn batches and read every reply.

Client `i` draws from `random.Random(seed + i)` and talks to `targets[i % len(targets)]`.
Each batch (one request, a pipeline, or a deep MULTI) goes out in one write, followed by
an `ECHO` of a fresh nonce; every reply is read. Error replies are fine: that is what most
fuzzed requests deserve. A failure is any of:

- dropped: the server closed or reset the connection (nothing here asks it to: QUIT and
  CLIENT KILL are never sent);
- timeout: a reply did not come within `reply_timeout`;
- malformed: bytes that are not RESP;
- desync: the ECHO came back as something else, or bytes came that nobody asked for;
- server-died: a target process exited.

The first failure stops every client. If the server still runs, the requests that went
unanswered are then sent again one by one, each on a fresh connection, to find the one
that fails on its own.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from fuzz.connection import PipelineClient
from fuzz.grammar import Grammar, GrammarConfig, Request
from fuzz.monitor import ProcessMonitor, Target
from fuzz.outcome import Failure, FuzzResult, TimedRequest, batch_outline
from helpers.resp import ConnectionClosed, RespError

SLOW = 0.02  # requests slower than this are kept for matching with the longest stall
_KEEP_SLOW = 2000
_ISOLATE_BUDGET = 30.0  # seconds spent looking for the request at fault


@dataclass(frozen=True)
class FuzzConfig:
    seed: int
    duration: float = 45.0  # seconds of fuzzing (the batch in flight then finishes)
    clients: int = 4
    max_batches: int | None = None  # per client; None: until `duration`
    reply_timeout: float = 30.0
    grammar: GrammarConfig = field(default_factory=GrammarConfig)


@dataclass
class _ClientStats:
    requests: int = 0
    batches: int = 0
    error_replies: int = 0
    drawn: Counter[str] = field(default_factory=Counter)
    names: Counter[bytes] = field(default_factory=Counter)
    slow: list[TimedRequest] = field(default_factory=list)

    def timed(self, timed: TimedRequest) -> None:
        self.slow.append(timed)
        if len(self.slow) > 2 * _KEEP_SLOW:
            self.slow = _slowest_first(self.slow)[:_KEEP_SLOW]


class FuzzRun:
    def __init__(self, targets: Sequence[Target], grammar: Grammar, config: FuzzConfig) -> None:
        self.targets = list(targets)
        self.grammar = grammar
        self.config = config
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._failures: list[Failure] = []
        self._in_flight: dict[int, list[Request]] = {}
        self._stats = [_ClientStats() for _ in range(config.clients)]

    def run(self) -> FuzzResult:
        began = time.monotonic()
        monitor = ProcessMonitor(self.targets, self._died).start()
        threads = [
            threading.Thread(target=self._client, args=(i,), name=f"fuzz-client-{i}", daemon=True)
            for i in range(self.config.clients)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(self.config.duration + 2 * self.config.reply_timeout + 60)
        finally:
            self._stop.set()
            monitor.stop()
        result = self._result(time.monotonic() - began, monitor)
        self._isolate(result)
        return result

    # ------------------------------------------------------------ one client

    def _client(self, index: int) -> None:
        target = self.targets[index % len(self.targets)]
        try:
            conn = PipelineClient(target.host, target.port, self.config.reply_timeout)
        except OSError as error:
            self._fail(Failure("dropped", f"cannot connect: {error}", index, target.name, ()))
            return
        rng = _client_rng(self.config.seed, index)
        deadline = time.monotonic() + self.config.duration
        stats = self._stats[index]
        with conn:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self.config.max_batches is not None and stats.batches >= self.config.max_batches:
                    return
                batch = self.grammar.batch(rng)
                failure = self._exchange(conn, index, target, batch, stats)
                if failure is not None:
                    self._fail(failure)
                    return

    def _exchange(
        self,
        conn: PipelineClient,
        index: int,
        target: Target,
        batch: list[Request],
        stats: _ClientStats,
    ) -> Failure | None:
        nonce = b"fuzz-probe:%d:%d" % (index, stats.batches)
        with self._lock:
            self._in_flight[index] = batch
        answered = 0
        try:
            conn.send(b"".join(request.wire() for request in batch) + _echo(nonce))
            previous = time.monotonic()
            for position, request in enumerate(batch):
                reply, done = conn.read_reply_timed()
                answered += 1
                if isinstance(reply, RespError):
                    stats.error_replies += 1
                if done - previous >= SLOW:
                    rest = batch_outline(batch[position + 1 :])
                    stats.timed(
                        TimedRequest(
                            done - previous,
                            previous,
                            index,
                            target.name,
                            request.how,
                            request.literal(),
                            rest,
                        )
                    )
                previous = done
            probe = conn.read_reply()
        except TimeoutError:
            detail = f"no reply within {self.config.reply_timeout} s"
            return Failure("timeout", detail, index, target.name, tuple(batch[answered:]))
        except (ConnectionClosed, OSError) as error:
            detail = f"{type(error).__name__}: {error}"
            return Failure("dropped", detail, index, target.name, tuple(batch[answered:]))
        except (AssertionError, ValueError) as error:
            detail = f"not RESP: {error}"
            return Failure("malformed", detail, index, target.name, tuple(batch[answered:]))
        finally:
            with self._lock:
                self._in_flight.pop(index, None)
        stats.requests += len(batch)
        stats.batches += 1
        stats.drawn.update(request.how for request in batch)
        stats.names.update(request.args[0].lower() for request in batch)
        return _check_probe(probe, nonce, conn, index, target, batch)

    # ------------------------------------------------------------ failures

    def _fail(self, failure: Failure) -> None:
        with self._lock:
            self._failures.append(failure)
        self._stop.set()

    def _died(self, target: Target) -> None:
        with self._lock:
            in_flight = [r for batch in self._in_flight.values() for r in batch]
        self._fail(
            Failure(
                "server-died",
                f"{target.name} (pid {target.pid}) exited",
                -1,
                target.name,
                tuple(in_flight),
            )
        )

    def _isolate(self, result: FuzzResult) -> None:
        """Find, for each failure, the one request that fails alone on a fresh connection."""
        deadline = time.monotonic() + _ISOLATE_BUDGET
        for n, failure in enumerate(result.failures):
            target = next(t for t in self.targets if t.name == failure.target)
            if failure.kind == "server-died" or (target.alive and not target.alive()):
                continue
            for request in failure.suspects:
                if time.monotonic() > deadline:
                    return
                if _fails_alone(target, request, min(self.config.reply_timeout, 5.0)):
                    result.failures[n] = Failure(
                        failure.kind,
                        failure.detail,
                        failure.client,
                        failure.target,
                        failure.suspects,
                        culprit=request,
                    )
                    break

    def _result(self, elapsed: float, monitor: ProcessMonitor) -> FuzzResult:
        result = FuzzResult(seed=self.config.seed, elapsed=elapsed)
        for stats in self._stats:
            result.requests += stats.requests
            result.batches += stats.batches
            result.error_replies += stats.error_replies
            result.drawn.update(stats.drawn)
            result.commands.update(stats.names)
            result.slow += stats.slow
        result.slow = _slowest_first(result.slow)[:_KEEP_SLOW]
        result.slowest = result.slow[0] if result.slow else None
        result.failures = list(self._failures)
        result.peak_rss = dict(monitor.peak_rss)
        result.rss_span = {
            name: (monitor.first_rss[name], monitor.last_rss[name]) for name in monitor.last_rss
        }
        # Rare commands (RARE) may be missed by a short run; the others may not.
        rare = self.grammar.config.rare
        result.never_sent = sorted(
            shape.text
            for shape in self.grammar.shapes
            if shape.name not in result.commands and rare.get(shape.name, 1.0) >= 1.0
        )
        return result


def _client_rng(seed: int, index: int) -> random.Random:
    return random.Random(seed + index)


def _echo(nonce: bytes) -> bytes:
    return Request((b"ECHO", nonce), "probe").wire()


def _check_probe(
    probe: object,
    nonce: bytes,
    conn: PipelineClient,
    index: int,
    target: Target,
    batch: list[Request],
) -> Failure | None:
    # Inside a MULTI left open by the batch, the ECHO is queued rather than run.
    if probe not in (nonce, "QUEUED"):
        detail = f"ECHO {nonce!r} was answered with {probe!r:.200}"
        return Failure("desync", detail, index, target.name, tuple(batch))
    if conn.buffered():
        detail = f"{conn.buffered()} bytes arrived that no request asked for"
        return Failure("desync", detail, index, target.name, tuple(batch))
    return None


def _fails_alone(target: Target, request: Request, timeout: float) -> bool:
    nonce = b"fuzz-isolate"
    try:
        with PipelineClient(target.host, target.port, timeout) as conn:
            conn.send(request.wire() + _echo(nonce))
            conn.read_reply()
            return conn.read_reply() not in (nonce, "QUEUED")
    except (OSError, ConnectionClosed, AssertionError, ValueError):
        return True


def _slowest_first(timed: list[TimedRequest]) -> list[TimedRequest]:
    return sorted(timed, key=lambda t: t.seconds, reverse=True)
