"""When the cluster write seam lets replies go: writes once acknowledged in the current
leadership, reads once acknowledged *and* confirmed by a round started after they ran."""

from __future__ import annotations

from collections.abc import Callable

from tandemkv.node.replicated_log import ClusterLog
from tandemkv.replication import Acked, ReadState
from tandemkv.storage.mutation import Mutation, SetValue


class FakeNode:
    """Just what ClusterLog uses of a Node."""

    def __init__(self) -> None:
        self.is_leader = True
        self.sole_voter = False
        self.volatile = False
        self.keyspace_index = 0
        self.synced_index = 0
        self.proposed: list[Mutation] = []
        self.scheduled = 0
        self.loop = self

    def propose(self, mutations: list[Mutation]) -> int:
        self.proposed += mutations
        self.keyspace_index += 1  # one entry for the batch
        return self.keyspace_index

    def schedule(self) -> None:
        self.scheduled += 1

    def call_soon(self, callback: Callable[[], None]) -> None:
        callback()


def make() -> tuple[FakeNode, ClusterLog]:
    node = FakeNode()
    return node, ClusterLog(node)  # type: ignore[arg-type]


def test_a_write_is_safe_once_acknowledged_in_the_current_term() -> None:
    _node, log = make()
    position = log.append([SetValue(b"k", b"v")])
    assert position == 1 and not log.is_safe(position)
    released: list[int] = []
    log.when_safe(position, lambda: released.append(position))
    log.acked(Acked(term=2, index=1), term=3)  # an older leadership's acknowledgement
    assert released == []
    log.acked(Acked(term=3, index=1), term=3)
    assert released == [1] and log.is_safe(1)


def test_a_read_needs_a_round_started_after_it_ran() -> None:
    node, log = make()
    node.keyspace_index = 5
    log.acked(Acked(3, 5), term=3)
    fence = log.read_fence()
    assert fence is not None and fence < 0
    assert not log.is_safe(fence)  # acknowledged data alone is not enough
    ctx = log.next_read_round()
    assert ctx is not None
    log.read_confirmed(ReadState(ctx, 5))
    assert log.is_safe(fence)


def test_a_read_of_an_unacknowledged_write_waits_for_the_write() -> None:
    _node, log = make()
    log.append([SetValue(b"k", b"v")])  # index 1, executed, not acknowledged
    fence = log.read_fence()
    assert fence is not None
    ctx = log.next_read_round()
    assert ctx is not None
    log.read_confirmed(ReadState(ctx, 0))
    assert not log.is_safe(fence), "the read saw a write that could still be lost"
    log.acked(Acked(1, 1), term=1)
    assert log.is_safe(fence)


def test_fences_taken_during_a_round_wait_for_the_next_one() -> None:
    _node, log = make()
    first = log.read_fence()
    ctx = log.next_read_round()
    second = log.read_fence()  # ran after the round started: it cannot vouch for it
    assert ctx is not None and first is not None and second is not None
    assert log.next_read_round() is None  # one round in flight at a time
    log.read_confirmed(ReadState(ctx, 0))
    assert log.is_safe(first) and not log.is_safe(second)
    ctx2 = log.next_read_round()
    assert ctx2 is not None
    log.read_confirmed(ReadState(ctx2, 0))
    assert log.is_safe(second)


def test_an_answer_for_another_round_confirms_nothing() -> None:
    _node, log = make()
    fence = log.read_fence()
    assert fence is not None and log.next_read_round() is not None
    log.read_confirmed(ReadState((999).to_bytes(8, "big"), 0))
    assert not log.is_safe(fence)


def test_a_backup_takes_no_fence_and_a_new_leadership_drops_old_waiters() -> None:
    node, log = make()
    node.is_leader = False
    assert log.read_fence() is None
    node.is_leader = True
    position = log.append([SetValue(b"k", b"v")])
    called: list[bool] = []
    log.when_safe(position, lambda: called.append(True))
    log.leadership_changed()
    log.acked(Acked(5, position), term=5)
    assert called == []  # its connection was closed; nobody is told it is safe


def test_a_sole_voter_reads_after_the_writes_they_saw_without_a_round() -> None:
    """No other node can be elected, so a read waits only for the writes it could see."""
    node, log = make()
    node.sole_voter = True
    log.acked(Acked(3, 4), term=3)
    node.keyspace_index = 4
    fence = log.read_fence()
    assert fence == 4 and log.is_safe(fence)
    assert log.next_read_round() is None and node.scheduled == 0
    node.keyspace_index = 5  # a write executed, not yet acknowledged
    fence = log.read_fence()
    assert fence == 5 and not log.is_safe(fence)
    released: list[int] = []
    log.when_safe(fence, lambda: released.append(5))
    log.acked(Acked(3, 5), term=3)
    assert released == [5]


def test_writes_are_released_by_position_whatever_order_they_arrive_in() -> None:
    """Positions mostly arrive rising (a FIFO holds those) but one below the newest
    waiting may come in (a connection's held batch re-registering): an acknowledgement
    releases exactly the writes at or below it, each once."""
    _node, log = make()
    released: list[int] = []
    for position in (3, 5, 5, 2, 9, 4, 7):
        log.when_safe(position, lambda p=position: released.append(p))
    log.acked(Acked(term=1, index=4), term=1)
    assert sorted(released) == [2, 3, 4]
    log.acked(Acked(term=1, index=6), term=1)
    assert sorted(released) == [2, 3, 4, 5, 5]
    log.acked(Acked(term=1, index=9), term=1)
    assert sorted(released) == [2, 3, 4, 5, 5, 7, 9]
    log.when_safe(8, lambda: released.append(8))  # already safe: released at once
    assert released[-1] == 8
