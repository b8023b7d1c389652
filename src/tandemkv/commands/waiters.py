"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN...): who waits for what, and in what order.

Pure, like the rest of the command layer. A blocking command that finds nothing to take
registers a Waiter and answers with its Pending; the connection holds that client's later
replies behind it. When a write adds to a key someone waits on (a push, a ZADD, a RENAME
or COPY onto it), the engine marks the key ready, and once the writing command (or the
whole EXEC) has finished it serves the waiters of each ready key in the order they
blocked, each through its own `serve` function, as long as the key can feed them. A
waiter's pop is a write like any other: its mutation follows the push in the log.

A served client must not see its element before the log makes the pop safe (fsynced, or
committed by a majority), or a crash could hand the same element to someone else. So a
served waiter is resolved with `Logged(reply, position)` only once the write that carries
its pop has a log position (`log_writes`), and its connection holds the reply until that
position is safe, as it holds any write's reply.

Timeouts are the shell's: it asks `time_out(session)` when a waiter's deadline passes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from tandemkv.commands.cluster_view import Pending

# Imported at run time, not only for type checking: in the compiled build a class with a
# Session field needs Session's type ready when this module loads (node.py imports this
# module before anything has imported the engine, and a missing type crashed the import).
from tandemkv.commands.session import Session
from tandemkv.commands.table import Write
from tandemkv.storage.mutation import (
    Batch,
    Copy,
    ListPush,
    Mutation,
    Rename,
    StreamAdd,
    ZSetAdd,
)

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine

# Sent to blocked clients when their node stops being the primary, as Redis words it.
STATE_CHANGED = (
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
)
UNBLOCKED_BY_CLIENT = "UNBLOCKED client unblocked via CLIENT UNBLOCK"

# Serve a waiter from `key`, which just became ready: a `Write` (the reply and the pop's
# mutation), a (reply, None) pair for a read (XREAD BLOCK), or None if the key cannot feed
# it (still empty, or not the type it waits for). Typed Any, not a tuple type: compiled
# code would hold a tuple-typed value unboxed and hand back a plain tuple, no longer a
# Write, which the engine recognises by its type.
Serve = Callable[["Engine", bytes], Any]


class Logged(NamedTuple):
    """A served waiter's reply and the log position its connection must wait for."""

    reply: Any  # object, really: mypyc fails on a NamedTuple field typed object
    position: int


@dataclass(slots=True, eq=False)
class Waiter:
    session: Session
    keys: tuple[bytes, ...]
    serve: Serve
    timeout_reply: Any  # object, really: mypyc cannot compile a dataclass field typed object
    pending: Pending = field(init=False)


class WriteLog(Protocol):
    def append(self, mutations: list[Mutation]) -> int: ...


class Waiters:
    """The engine's blocked clients, by key (FIFO) and by session."""

    __slots__ = ("_by_session", "_served", "by_key", "ready")

    def __init__(self) -> None:
        # Read by the engine on every write and command: public to keep those checks cheap.
        self.by_key: dict[bytes, deque[Waiter]] = {}
        self.ready: dict[bytes, None] = {}  # an ordered set: served in the order signalled
        self._by_session: dict[int, Waiter] = {}
        self._served: list[tuple[Pending, object]] = []

    def __len__(self) -> int:
        return len(self._by_session)

    def block(self, waiter: Waiter, timeout_ms: int) -> Pending:
        """Register `waiter`; its Pending (with `wait_ms`, 0 for ever) is the reply."""
        waiter.pending = Pending(timeout_ms)
        waiter.keys = tuple(dict.fromkeys(waiter.keys))  # BLPOP k k: one place in k's queue
        self._by_session[waiter.session.id] = waiter
        for key in waiter.keys:
            self.by_key.setdefault(key, deque()).append(waiter)
        return waiter.pending

    def is_blocked(self, session: Session) -> bool:
        return session.id in self._by_session

    def blocked_keys(self) -> int:
        return len(self.by_key)

    # ------------------------------------------------------------ readiness

    def signal(self, mutation: Mutation) -> None:
        """Note the keys `mutation` may have fed (the engine calls it for each write
        applied while someone waits)."""
        if isinstance(mutation, (ListPush, ZSetAdd, StreamAdd)):
            key = mutation.key
        elif isinstance(mutation, (Rename, Copy)):
            key = mutation.dst
        elif isinstance(mutation, Batch):
            for item in mutation.items:
                self.signal(item)
            return
        else:
            return
        if key in self.by_key:
            self.ready[key] = None

    def serve_ready(self, engine: Engine) -> None:
        """Serve the waiters of every ready key; what a pop writes (BLMOVE's push) may
        make more keys ready, which are served in the same call."""
        ready = self.ready
        while ready:
            key = next(iter(ready))
            del ready[key]
            queue = self.by_key.get(key)
            while queue:
                waiter = queue[0]
                result = waiter.serve(engine, key)
                if result is None:
                    break
                self._remove(waiter)
                if type(result) is Write:
                    reply = result.reply
                    engine.apply(result.mutation)
                else:
                    reply = result[0]
                # A read too waits for the log: it saw the write that fed it.
                self._served.append((waiter.pending, reply))

    def take_served(self) -> list[tuple[Pending, object]]:
        served, self._served = self._served, []
        return served

    # -------------------------------------------------------------- leaving

    def release(self, session: Session, reply: object) -> bool:
        """Answer `session`'s wait with `reply` now; False if it is not waiting (any more)."""
        return self.release_id(session.id, reply)

    def release_id(self, client_id: int, reply: object) -> bool:
        """Answer the wait of the client with this id (CLIENT UNBLOCK)."""
        waiter = self._by_session.get(client_id)
        if waiter is None:
            return False
        self._remove(waiter)
        waiter.pending.resolve(reply)
        return True

    def timeout_reply(self, client_id: int) -> object:
        waiter = self._by_session.get(client_id)
        return waiter.timeout_reply if waiter is not None else None

    def time_out(self, session: Session) -> None:
        waiter = self._by_session.get(session.id)
        if waiter is not None:
            self.release(session, waiter.timeout_reply)

    def drop(self, session: Session) -> None:
        """The client went away: forget its wait without answering."""
        waiter = self._by_session.get(session.id)
        if waiter is not None:
            self._remove(waiter)

    def release_all(self, reply: object) -> None:
        """Answer every waiter with `reply` (the node stopped being the primary)."""
        for waiter in list(self._by_session.values()):
            self._remove(waiter)
            waiter.pending.resolve(reply)

    def _remove(self, waiter: Waiter) -> None:
        del self._by_session[waiter.session.id]
        for key in waiter.keys:
            queue = self.by_key.get(key)
            if queue is None:
                continue
            with suppress(ValueError):  # a waiter is in each of its keys' queues once
                queue.remove(waiter)
            if not queue:
                del self.by_key[key]
                self.ready.pop(key, None)


def log_writes(engine: Engine, log: WriteLog) -> int:
    """Append the engine's pending writes to `log`, then hand the waiters they served their
    replies with the position to wait for. The one way a shell logs a batch of writes."""
    position = log.append(engine.take_mutations())
    for pending, reply in engine.waiters.take_served():
        pending.resolve(Logged(reply, position))
    return position
