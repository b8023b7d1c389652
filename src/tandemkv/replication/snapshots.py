"""Catching up a member whose missing entries were compacted away: the leader sends its
latest snapshot in chunks, one at a time, each acknowledged with the byte offset the
member holds; a lost chunk or acknowledgement is resent after resend_ticks idle ticks.
The member installs the snapshot once it has every byte, then the log follows.
Witnesses receive the metadata only: they store no values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tandemkv.replication import membership
from tandemkv.replication.messages import (
    AppendResponse,
    NodeId,
    Snapshot,
    SnapshotAck,
    SnapshotChunk,
    SnapshotMeta,
)
from tandemkv.replication.progress import ProgressState

if TYPE_CHECKING:
    from tandemkv.replication.core import Replica


@dataclass(slots=True)
class PartialSnapshot:
    """The chunks a member has received so far of one snapshot."""

    leader: NodeId
    meta: SnapshotMeta
    data: bytearray = field(default_factory=bytearray)


# --- leader ---------------------------------------------------------------------------


def start_sending(r: Replica, to: NodeId) -> None:
    pr = r.progress[to]
    if pr.state is ProgressState.SNAPSHOT:
        return
    snap = r.log.storage.snapshot()
    if to in r.conf.witnesses:
        snap = Snapshot(snap.meta, b"")
    pr.become_snapshot(snap)
    _send_chunk(r, to)


def _send_chunk(r: Replica, to: NodeId) -> None:
    pr = r.progress[to]
    snap = pr.snapshot
    assert snap is not None
    start = pr.snapshot_offset
    chunk = snap.data[start : start + r.cfg.snapshot_chunk_bytes]
    done = start + len(chunk) >= len(snap.data)
    r.send(SnapshotChunk(r.id, to, r.term, snap.meta, start, chunk, done))
    pr.snapshot_idle = 0


def handle_ack(r: Replica, msg: SnapshotAck) -> None:
    pr = r.progress[msg.frm]
    pr.recent_active = True
    snap = pr.snapshot
    if pr.state is not ProgressState.SNAPSHOT or snap is None:
        return
    if snap.meta.index != msg.snapshot_index or msg.next_offset <= pr.snapshot_offset:
        return  # stale or duplicate: the resend timer covers real losses
    pr.snapshot_offset = msg.next_offset
    if msg.next_offset < len(snap.data):
        _send_chunk(r, msg.frm)
    else:
        pr.snapshot_idle = 0


def resend_if_idle(r: Replica, to: NodeId) -> None:
    """Restart from offset 0: the member answers with the offset it really holds (or,
    if it already installed the snapshot, with its new commit index)."""
    pr = r.progress[to]
    if pr.snapshot_idle >= r.cfg.resend_ticks:
        pr.snapshot_offset = 0
        _send_chunk(r, to)


# --- member ---------------------------------------------------------------------------


def handle_chunk(r: Replica, msg: SnapshotChunk) -> None:
    if msg.meta.index <= r.log.committed:
        r.snapshot_recv = None
        r.send(AppendResponse(r.id, msg.frm, r.term, r.log.committed))
        return
    part = r.snapshot_recv
    if part is None or part.meta != msg.meta or part.leader != msg.frm:
        if msg.offset != 0:
            r.send(SnapshotAck(r.id, msg.frm, r.term, msg.meta.index, 0))
            return
        part = r.snapshot_recv = PartialSnapshot(msg.frm, msg.meta)
    if msg.offset == len(part.data):
        part.data += msg.data
        if msg.done:
            r.snapshot_recv = None
            _install(r, Snapshot(part.meta, bytes(part.data)))
            r.send(AppendResponse(r.id, msg.frm, r.term, r.log.committed))
            return
    r.send(SnapshotAck(r.id, msg.frm, r.term, msg.meta.index, len(part.data)))


def _install(r: Replica, snap: Snapshot) -> None:
    meta = snap.meta
    if r.log.match_term(meta.index, meta.term):
        r.log.commit_to(meta.index)  # we already hold that prefix: just fast-forward
        return
    r.log.restore(snap)
    membership.sync_conf(r)
