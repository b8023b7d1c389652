"""Linearizable reads without writing to the log.

Read-index: the leader notes its commit index, confirms it is still leader with one
heartbeat round acknowledged by a majority, then hands out (ctx, index): serving the read
once ``index`` is applied is linearizable. A leader answers only after it has committed
an entry of its own term, since before that its commit index may be stale. Followers and
learners forward the request to the leader.

Lease (optional): the leader skips the heartbeat round while a majority acknowledged a
message it sent less than ``election_ticks - lease_margin_ticks`` ticks ago; voters do not
vote for anyone else within an election timeout of hearing from it. This relies on clocks
ticking at nearly the same rate (bounded drift); it is not safe if they do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tandemkv.replication import log_replication
from tandemkv.replication.config import ReadMode, ReadState, Role
from tandemkv.replication.messages import (
    NONE,
    NodeId,
    ReadIndexRequest,
    ReadIndexResponse,
)
from tandemkv.replication.progress import VoteResult, quorum_size, tally

if TYPE_CHECKING:
    from tandemkv.replication.core import Replica


@dataclass(slots=True)
class PendingRead:
    ctx: bytes
    requester: NodeId
    index: int
    seq: int
    acks: set[NodeId] = field(default_factory=set)


@dataclass(slots=True)
class ReadQueue:
    seq: int = 0  # read rounds started by this leader
    pending: list[PendingRead] = field(default_factory=list)
    waiting: list[tuple[bytes, NodeId]] = field(default_factory=list)  # before first commit


def reset(r: Replica) -> None:
    """Leadership changed: outstanding reads are dropped (their clients time out)."""
    r.reads.pending.clear()
    r.reads.waiting.clear()


def request(r: Replica, ctx: bytes) -> None:
    if r.role is Role.LEADER:
        _leader_read(r, ctx, r.id)
    elif r.leader != NONE:
        r.send(ReadIndexRequest(r.id, r.leader, r.term, ctx))
    else:
        raise r.not_leader()


def handle_request(r: Replica, msg: ReadIndexRequest) -> None:
    _leader_read(r, msg.ctx, msg.frm)


def _committed_in_term(r: Replica) -> bool:
    return r.log.term(r.log.committed) == r.term


def _leader_read(r: Replica, ctx: bytes, requester: NodeId) -> None:
    if not _committed_in_term(r):
        r.reads.waiting.append((ctx, requester))
        return
    index = r.log.committed
    if r.conf.voters == (r.id,) or (r.cfg.read_mode is ReadMode.LEASE and lease_valid(r)):
        _answer(r, ctx, requester, index)
        return
    r.reads.seq += 1
    r.reads.pending.append(PendingRead(ctx, requester, index, r.reads.seq, {r.id}))
    log_replication.broadcast_heartbeat(r)


def _answer(r: Replica, ctx: bytes, requester: NodeId, index: int) -> None:
    if requester == r.id:
        r.read_states.append(ReadState(ctx, index))
    else:
        r.send(ReadIndexResponse(r.id, requester, r.term, ctx, index))


def on_commit(r: Replica) -> None:
    if r.reads.waiting and _committed_in_term(r):
        waiting, r.reads.waiting = r.reads.waiting, []
        for ctx, requester in waiting:
            _leader_read(r, ctx, requester)


def on_heartbeat_ack(r: Replica, node: NodeId, seq: int) -> None:
    queue = r.reads
    if not queue.pending or node not in r.conf.voters:
        return
    confirmed = -1
    for pos, read in enumerate(queue.pending):
        if read.seq > seq:
            break
        read.acks.add(node)
        votes = {v: v in read.acks for v in r.conf.voters}
        if tally(r.conf.voters, votes) is VoteResult.WON:
            confirmed = pos
    done, queue.pending = queue.pending[: confirmed + 1], queue.pending[confirmed + 1 :]
    for read in done:
        _answer(r, read.ctx, read.requester, read.index)


def lease_valid(r: Replica) -> bool:
    if not r.cfg.check_quorum or r.lease_disabled or r.transfer_target != NONE:
        return False
    ticks = sorted(
        (r.ticks if v == r.id else r.progress[v].ack_tick) for v in r.conf.voters if v in r.progress
    )[::-1]
    need = quorum_size(len(r.conf.voters))
    if len(ticks) < need:
        return False
    since = ticks[need - 1]
    return since >= 0 and r.ticks < since + r.cfg.election_ticks - r.cfg.lease_margin_ticks
