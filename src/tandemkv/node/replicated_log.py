"""The write seam (server/writelog.py) over the replication core.

A batch's mutations are proposed as log entries; its position is the last entry's index,
safe once the core acknowledges it (committed by a majority, or persisted by the leader
in `leader` mode). Reads need more than that: a reply computed from the keyspace may go
out only once (a) every write it could have seen is acknowledged, and (b) a heartbeat
round started *after* it ran confirmed this node was still the primary, so no newer
primary can have acknowledged a write it missed. Read batches get a negative position
(a fence number); fences are confirmed in rounds, one round in flight at a time, each
covering every fence taken before it started.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from itertools import count
from typing import Final, Protocol

from tandemkv.replication import Acked, ReadState
from tandemkv.storage.mutation import Mutation

# A position that never becomes safe: its connection is closed when the role changes.
NEVER: Final = 1 << 62


class _Loop(Protocol):
    def call_soon(self, callback: Callable[[], None], /) -> object: ...


class LogOwner(Protocol):
    """What ClusterLog uses of its Node: a Protocol, so that tests can hand it a fake
    (the compiled build checks a parameter typed with a class)."""

    @property
    def loop(self) -> _Loop: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def sole_voter(self) -> bool: ...
    @property
    def volatile(self) -> bool: ...
    @property
    def keyspace_index(self) -> int: ...
    @property
    def synced_index(self) -> int: ...

    def propose(self, mutations: list[Mutation]) -> int: ...
    def schedule(self) -> None: ...
    def settle_alone(self) -> None: ...


class ClusterLog:
    def __init__(self, node: LogOwner) -> None:
        self.node = node
        self.failed = False
        self.safe_index = 0  # writes of the current leadership acknowledged up to here
        # Heaps of (write index or fence number, arrival, callback): each acknowledgement
        # pops just the batches it made safe, however many connections are waiting.
        self._write_waiters: list[tuple[int, int, Callable[[], None]]] = []
        # Write positions mostly arrive in order (each batch's is the newest entry): those
        # wait in a FIFO, which pops in O(1) with no tuple comparisons, and only one that
        # arrives below the newest waiting goes to the heap.
        self._write_queue: deque[tuple[int, Callable[[], None]]] = deque()
        self._fence_waiters: list[tuple[int, int, Callable[[], None]]] = []
        self._arrivals = count()
        self._fences_taken = 0  # fence numbers handed out
        self._fence_index = 0  # the keyspace index the newest fence must see acknowledged
        self._fences_confirmed = 0
        self._round: tuple[int, int] | None = None  # (fences covered, index) in flight
        self._confirmed_round: tuple[int, int] | None = None  # answered, waiting for acks
        self._deferring = False  # see flush_now
        self.changes = 0  # mutations ever handed in: the save points count them

    # --- WriteLog -------------------------------------------------------------------

    def append(self, mutations: list[Mutation]) -> int:
        node = self.node
        self.changes += len(mutations)
        position = node.propose(mutations)
        if node.volatile and position != NEVER:
            # No log (--appendonly no, a group of one): nothing will make the write safer
            # than it is now, as with Redis running without persistence.
            self.safe_index = max(self.safe_index, position)
        return position

    def read_fence(self) -> int | None:
        """A position for a batch of reads, or None when reads need no fence here (a
        backup serving READONLY reads, which are stale by definition)."""
        node = self.node
        if not node.is_leader:
            return None
        if node.sole_voter:
            # No other node can be elected, so the only condition left is (a): the reply
            # waits for the writes it could have seen, here a plain write position.
            return node.keyspace_index
        self._fences_taken += 1
        self._fence_index = max(self._fence_index, node.keyspace_index)
        node.schedule()
        return -self._fences_taken

    def is_safe(self, position: int) -> bool:
        if position < 0:
            return -position <= self._fences_confirmed
        return position <= self.safe_index

    def when_safe(self, position: int, callback: Callable[[], None]) -> None:
        if self.is_safe(position):
            self.node.loop.call_soon(callback)
        elif position < 0:
            heappush(self._fence_waiters, (-position, next(self._arrivals), callback))
        else:
            queue = self._write_queue
            if not queue or queue[-1][0] <= position:
                queue.append((position, callback))
            else:
                heappush(self._write_waiters, (position, next(self._arrivals), callback))

    def flush_now(self) -> None:
        """Make the log match the keyspace now where this node can do so on its own (a
        sole voter commits by itself: SAVE, BGSAVE and shutdown need that); elsewhere the
        Ready loop writes on its own turn. Replies it releases go out on a later turn: the
        caller may be in the middle of a connection's batch."""
        node = self.node
        if node.sole_voter and node.is_leader:
            self._deferring = True
            try:
                node.settle_alone()
            finally:
                self._deferring = False

    def close(self) -> None:
        self._write_queue.clear()
        self._write_waiters.clear()
        self._fence_waiters.clear()

    @property
    def synced_through(self) -> int:
        return self.node.synced_index

    # --- driven by the node -----------------------------------------------------------

    def wants_round(self) -> bool:
        return self._round is None and self._fences_taken > self._fences_confirmed

    def next_read_round(self) -> bytes | None:
        """The context of a read round to start now, if fences wait for one."""
        if not self.wants_round():
            return None
        self._round = (self._fences_taken, self._fence_index)
        return self._fences_taken.to_bytes(8, "big")

    def read_confirmed(self, state: ReadState) -> None:
        if self._round is None or int.from_bytes(state.ctx, "big") != self._round[0]:
            return  # an answer to a round of an earlier leadership
        self._confirmed_round, self._round = self._round, None
        self._settle()

    def acked(self, acked: Acked, term: int) -> None:
        if acked.term == term and acked.index > self.safe_index:
            self.safe_index = acked.index
            self._settle()

    def _settle(self) -> None:
        confirmed = self._confirmed_round
        if confirmed is not None and confirmed[1] <= self.safe_index:
            self._fences_confirmed = max(self._fences_confirmed, confirmed[0])
            self._confirmed_round = None
            self.node.schedule()  # fences taken meanwhile need the next round
        self._fire()

    def _fire(self) -> None:
        if self._deferring:
            self.node.loop.call_soon(self._fire)
            return
        ready = []
        queue, writes, fences = self._write_queue, self._write_waiters, self._fence_waiters
        safe_index = self.safe_index
        while queue and queue[0][0] <= safe_index:
            ready.append(queue.popleft()[1])
        while writes and writes[0][0] <= safe_index:
            ready.append(heappop(writes)[2])
        while fences and fences[0][0] <= self._fences_confirmed:
            ready.append(heappop(fences)[2])
        for callback in ready:
            callback()

    def leadership_changed(self) -> None:
        """Nothing pending can become safe any more: its connections are being closed."""
        self.close()
        self.safe_index = 0
        self._round = self._confirmed_round = None
        self._fences_confirmed = self._fences_taken
        self._fence_index = 0
