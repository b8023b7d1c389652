"""Log replication: the leader's appends and heartbeats, the follower's consistency
check, fast back-tracking on conflict, pipelining, and the commit rule.

The leader commits an index only when a majority of voters store it *and* it holds an
entry of the leader's current term (Raft §5.4.2, Figure 8); earlier entries are then
committed indirectly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.replication import membership, reads, snapshots, transfer
from tandemkv.replication.config import Proposal, ProposalDropped, Role
from tandemkv.replication.messages import (
    NONE,
    AppendRequest,
    AppendResponse,
    Entry,
    EntryKind,
    Heartbeat,
    HeartbeatResponse,
    NodeId,
)
from tandemkv.replication.progress import ProgressState, committed_index
from tandemkv.replication.storage import LogCompacted, batch_size

if TYPE_CHECKING:
    from tandemkv.replication.core import Replica


# --- leader ---------------------------------------------------------------------------


def propose(r: Replica, items: list[tuple[bytes, EntryKind]]) -> Proposal:
    if r.role is not Role.LEADER:
        raise r.not_leader()
    if r.transfer_target != NONE:
        raise ProposalDropped(f"leadership is being transferred to {r.transfer_target}")
    if not items:
        raise ValueError("nothing to propose")
    first = r.log.last_index() + 1
    term = r.term
    entries = [Entry(term, first + n, data, kind) for n, (data, kind) in enumerate(items)]
    r.log.append(entries)
    membership.sync_conf(r)
    broadcast_append(r)
    return Proposal(r.term, first, entries[-1].index)


def _for_peer(entries: list[Entry], witness: bool) -> tuple[Entry, ...]:
    if not witness:
        return tuple(entries)
    return tuple(
        Entry(e.term, e.index, b"", e.kind) if e.kind is EntryKind.NORMAL and e.data else e
        for e in entries
    )


def _send_one(r: Replica, to: NodeId, allow_empty: bool) -> bool:
    pr = r.progress[to]
    if pr.is_paused():
        return False
    last = r.log.last_index()
    if pr.next > last and not allow_empty:
        return False  # the common case on every commit: nothing new for this follower
    prev = pr.next - 1
    prev_term = r.log.term(prev)
    try:
        if prev_term is None:
            raise LogCompacted(prev)
        entries = r.log.slice(pr.next, last + 1, r.cfg.max_msg_bytes)
    except LogCompacted:
        snapshots.start_sending(r, to)
        return False
    if not entries and not allow_empty:
        return False
    commit = r.log.committed
    r.send(
        AppendRequest(
            r.id,
            to,
            r.term,
            prev,
            prev_term,
            _for_peer(entries, to in r.conf.witnesses),
            commit,
            r.ticks,
        )
    )
    if entries:
        pr.sent_entries(entries[-1].index, batch_size(entries))
    elif pr.state is ProgressState.PROBE:
        pr.probe_sent = True
    return bool(entries) and pr.state is ProgressState.REPLICATE


def send_append(r: Replica, to: NodeId, allow_empty: bool = True) -> None:
    """Send what ``to`` is missing, as far as its in-flight window allows."""
    if _send_one(r, to, allow_empty):
        while _send_one(r, to, allow_empty=False):
            pass


def broadcast_append(r: Replica) -> None:
    for node in r.progress:
        if node != r.id:
            send_append(r, node)


def broadcast_heartbeat(r: Replica) -> None:
    for node, pr in r.progress.items():
        if node != r.id:
            commit = min(pr.match, r.log.committed)
            r.send(Heartbeat(r.id, node, r.term, commit, r.reads.seq, r.ticks))


def commit_and_broadcast(r: Replica) -> bool:
    """Advance the commit index if a majority allows it; tell followers if it moved."""
    match = {node: pr.match for node, pr in r.progress.items()}
    if not r.log.maybe_commit(committed_index(r.conf.voters, match), r.term):
        return False
    reads.on_commit(r)
    if membership.on_commit(r):
        if r.cfg.eager_commit:
            broadcast_append(r)
        else:
            for node in r.progress:
                if node != r.id:
                    send_append(r, node, allow_empty=False)
    return True


def handle_append_response(r: Replica, msg: AppendResponse) -> None:
    pr = r.progress[msg.frm]
    pr.recent_active = True
    pr.ack_tick = max(pr.ack_tick, msg.sent_tick)
    if msg.reject:
        hint = msg.hint_index
        if msg.hint_term > 0:
            hint, _ = r.log.find_conflict_by_term(msg.hint_index, msg.hint_term)
        if pr.maybe_decrease(msg.index, hint + 1):
            if pr.state is ProgressState.REPLICATE:
                pr.become_probe()
            send_append(r, msg.frm)
        return
    was_paused = pr.is_paused()
    if not pr.maybe_update(msg.index):
        return
    if pr.state is ProgressState.PROBE:
        pr.become_replicate()
    elif pr.state is ProgressState.SNAPSHOT:
        if pr.snapshot is None or pr.match >= pr.snapshot.meta.index:
            pr.become_replicate()
    else:
        pr.inflights.free_to(msg.index)
    # A commit broadcast already carried the new commit index (and any pending entries)
    # to everyone; otherwise this follower may be owed the next batch.
    broadcast = commit_and_broadcast(r)
    if not broadcast and (was_paused or pr.state is ProgressState.REPLICATE):
        send_append(r, msg.frm, allow_empty=was_paused)
    transfer.on_progress(r, msg.frm)


def handle_heartbeat_response(r: Replica, msg: HeartbeatResponse) -> None:
    pr = r.progress[msg.frm]
    pr.recent_active = True
    pr.ack_tick = max(pr.ack_tick, msg.sent_tick)
    reads.on_heartbeat_ack(r, msg.frm, msg.read_seq)
    if pr.state is ProgressState.SNAPSHOT:
        snapshots.resend_if_idle(r, msg.frm)
        return
    if pr.match >= r.log.last_index():
        return
    if pr.state is ProgressState.PROBE:
        pr.probe_sent = False  # the probe may have been lost: try again
    elif pr.stalled >= r.cfg.resend_ticks:
        pr.become_probe()  # appends were lost: restart from what it acknowledged
    send_append(r, msg.frm)


def tick_progress(r: Replica) -> None:
    for node, pr in r.progress.items():
        if node == r.id:
            continue
        if pr.state is ProgressState.SNAPSHOT:
            pr.snapshot_idle += 1
        elif pr.match < r.log.last_index():
            pr.stalled += 1


# --- follower -------------------------------------------------------------------------


def handle_append(r: Replica, msg: AppendRequest) -> None:
    log = r.log
    if msg.prev_index < log.committed:
        # Everything up to our commit index already matches; acknowledge just that.
        r.send(AppendResponse(r.id, msg.frm, r.term, log.committed, sent_tick=msg.sent_tick))
        return
    last = log.maybe_append(msg.prev_index, msg.prev_term, msg.commit, msg.entries)
    if last is not None:
        membership.sync_conf(r)
        r.send(AppendResponse(r.id, msg.frm, r.term, last, sent_tick=msg.sent_tick))
        return
    hint_index, hint_term = log.find_conflict_by_term(
        min(msg.prev_index, log.last_index()), msg.prev_term
    )
    r.send(
        AppendResponse(
            r.id, msg.frm, r.term, msg.prev_index, True, hint_index, hint_term, msg.sent_tick
        )
    )


def handle_heartbeat(r: Replica, msg: Heartbeat) -> None:
    r.log.commit_to(min(msg.commit, r.log.last_index()))
    r.send(HeartbeatResponse(r.id, msg.frm, r.term, msg.read_seq, msg.sent_tick))
