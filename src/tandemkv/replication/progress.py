"""What a leader knows about each member's log, and quorum arithmetic.

A member's Progress moves between three states (as in etcd-io/raft):
PROBE      - we do not know where its log matches ours: one append at a time, wait.
REPLICATE  - it matches: stream appends, bounded by an in-flight window (count and bytes).
SNAPSHOT   - it needs entries we compacted away: send a snapshot in chunks, then probe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from enum import Enum

from tandemkv.replication.messages import NodeId, Snapshot


class ProgressState(Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """Appends sent but not yet acknowledged, as (last index, bytes) in sending order."""

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._items: deque[tuple[int, int]] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, last_index: int, size: int) -> None:
        self._items.append((last_index, size))
        self.bytes += size

    def free_to(self, index: int) -> None:
        """Forget every append whose last entry is at or below ``index``."""
        while self._items and self._items[0][0] <= index:
            self.bytes -= self._items.popleft()[1]

    def reset(self) -> None:
        self._items.clear()
        self.bytes = 0

    def full(self) -> bool:
        return len(self._items) >= self.max_count or self.bytes >= self.max_bytes


class Progress:
    def __init__(self, next_index: int, max_inflight: int, max_inflight_bytes: int) -> None:
        self.inflights = Inflights(max_inflight, max_inflight_bytes)
        self.reset(next_index)

    def reset(self, next_index: int) -> None:
        """Forget everything: what a new leader knows about a member."""
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False  # PROBE: one append is out, wait for its answer
        self.inflights.reset()
        self.stalled = 0  # ticks with appends outstanding and no acknowledgement
        self.recent_active = False  # heard from since the last check-quorum round
        self.ack_tick = -1  # newest leader tick echoed back by this member (read lease)
        self.snapshot: Snapshot | None = None  # SNAPSHOT: the one being sent
        self.snapshot_offset = 0
        self.snapshot_idle = 0  # ticks since the last chunk acknowledgement

    def __repr__(self) -> str:
        return f"Progress(match={self.match}, next={self.next}, state={self.state.value})"

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT and self.snapshot is not None:
            self.next = max(self.match + 1, self.snapshot.meta.index + 1)
        else:
            self.next = self.match + 1
        self._enter(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = self.match + 1
        self._enter(ProgressState.REPLICATE)

    def become_snapshot(self, snapshot: Snapshot) -> None:
        self._enter(ProgressState.SNAPSHOT)
        self.snapshot = snapshot

    def _enter(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.inflights.reset()
        self.snapshot = None
        self.snapshot_offset = 0
        self.snapshot_idle = 0
        self.stalled = 0

    def maybe_update(self, index: int) -> bool:
        """An acknowledgement up to ``index``; True if it told us something new."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
            self.stalled = 0
        self.next = max(self.next, index + 1)
        return updated

    def sent_entries(self, last_index: int, size: int) -> None:
        if self.state is ProgressState.REPLICATE:
            self.next = last_index + 1
            self.inflights.add(last_index, size)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def maybe_decrease(self, rejected: int, hint_next: int) -> bool:
        """A rejection of the append whose prev_index was ``rejected``. False if stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, hint_next), self.match + 1, 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return self.inflights.full()
        return True


def quorum_size(voters: int) -> int:
    return voters // 2 + 1


def committed_index(voters: Iterable[NodeId], match: Mapping[NodeId, int]) -> int:
    """The highest index stored on a majority of ``voters``."""
    values = sorted((match.get(v, 0) for v in voters), reverse=True)
    if not values:
        return 0
    return values[quorum_size(len(values)) - 1]


class VoteResult(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def tally(voters: Iterable[NodeId], votes: Mapping[NodeId, bool]) -> VoteResult:
    voter_list = list(voters)
    need = quorum_size(len(voter_list))
    granted = sum(1 for v in voter_list if votes.get(v) is True)
    rejected = sum(1 for v in voter_list if votes.get(v) is False)
    if granted >= need:
        return VoteResult.WON
    if rejected > len(voter_list) - need:
        return VoteResult.LOST
    return VoteResult.PENDING
