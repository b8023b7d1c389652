"""A client that keeps writing through failovers, the way an application would, and remembers
every write a primary acknowledged: when, through which node, and what it wrote.

It finds the primary with redis-py's Sentinel client (tandemkv nodes answer the Sentinel
queries themselves). redis-py retries with growing back-off by default, which would add its
own waiting to the measured failover time: here redis-py never retries, every timeout is
short, and the writer tries again after a fixed pause. Needs redis-py.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from bench.procs import signals_deferred

# Socket timeouts for the writer: a dead primary costs at most this per attempt.
SOCKET_TIMEOUT = 0.3
# Pause after a failed write before the next try: the resolution of the failover times.
RETRY_PAUSE = 0.01
READ_BATCH = 500


@dataclass(frozen=True)
class Ack:
    at: float  # time.monotonic() when the reply arrived
    index: int
    via: str  # HOST:PORT of the primary that answered


def key_of(prefix: str, index: int) -> str:
    return f"{prefix}:{index}"


def value_of(prefix: str, index: int, token: str) -> str:
    """Unique per write and per run: a stale value from an earlier run cannot pass."""
    return f"{prefix}:{index}:{token}"


def client_settings() -> dict[str, object]:
    return {
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
    }


@dataclass
class Writer:
    """Writes key_of(prefix, i) = value_of(prefix, i, token) for i = 0, 1, ... one at a time,
    moving to i + 1 only once i is acknowledged (a write that failed is sent again as is)."""

    sentinels: Sequence[tuple[str, int]]
    service: str
    prefix: str
    token: str
    acks: list[Ack] = field(default_factory=list)
    failures: int = 0
    last_error: str = ""
    _next: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"writer-{self.prefix}")
        self._thread.daemon = True
        # A stop signal handled halfway through start() would leave a thread that can be
        # neither used nor joined; the new thread also inherits the mask, so signals always
        # go to the main thread.
        with signals_deferred():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=10)
        self._thread = None

    def acked_since(self, moment: float) -> int:
        return len(self.acks) - bisect.bisect_right([a.at for a in self.acks], moment)

    def _run(self) -> None:
        settings = client_settings()
        # redis.sentinel has no type hints.
        manager = Sentinel(  # type: ignore[no-untyped-call]
            list(self.sentinels), sentinel_kwargs=dict(settings), **settings
        )
        client: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
            self.service, **settings
        )
        try:
            while not self._stop.is_set():
                self._write_one(client)
        finally:
            client.close()
            manager.close()

    def _write_one(self, client: redis.Redis) -> None:
        index = self._next
        try:
            client.set(key_of(self.prefix, index), value_of(self.prefix, index, self.token))
        except (redis.RedisError, OSError) as error:
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"
            self._stop.wait(RETRY_PAUSE)
            return
        host, port = getattr(client.connection_pool, "master_address", None) or ("?", 0)
        self.acks.append(Ack(time.monotonic(), index, f"{host}:{port}"))
        self._next = index + 1


def first_ack_after(acks: Sequence[Ack], moment: float, excluded: str) -> Ack | None:
    """The first write acknowledged after ``moment`` by a node other than ``excluded`` (the
    killed primary: a reply it sent just before dying may still be read just after)."""
    start = bisect.bisect_right([a.at for a in acks], moment)
    return next((a for a in acks[start:] if a.via != excluded), None)


def missing_writes(
    connection: redis.Redis, prefix: str, token: str, indices: Sequence[int]
) -> list[int]:
    """The acknowledged writes whose value the node at ``connection`` does not hold."""
    missing = []
    for start in range(0, len(indices), READ_BATCH):
        batch = indices[start : start + READ_BATCH]
        values = connection.mget([key_of(prefix, i) for i in batch])
        for index, value in zip(batch, values, strict=True):
            if value != value_of(prefix, index, token).encode():
                missing.append(index)
    return missing
