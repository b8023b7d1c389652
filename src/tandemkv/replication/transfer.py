"""Leadership transfer (manual failover): the leader stops taking proposals, brings the
target's log up to date, then tells it to campaign at once (TimeoutNow). The target's
vote requests carry a transfer flag so voters ignore the old leader's lease. A transfer
that has not finished within an election timeout is abandoned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.replication import election, log_replication
from tandemkv.replication.config import ProposalDropped, Role
from tandemkv.replication.messages import NONE, NodeId, TimeoutNow

if TYPE_CHECKING:
    from tandemkv.replication.core import Replica


def start(r: Replica, target: NodeId) -> None:
    if r.role is not Role.LEADER:
        raise r.not_leader()
    if target == r.id:
        return
    if target not in r.conf.voters or target in r.conf.witnesses:
        raise ProposalDropped(f"node {target} is not a data-holding voter")
    r.transfer_target = target
    r.transfer_elapsed = 0
    r.lease_disabled = True  # the target's election ignores leases: never trust ours again
    on_progress(r, target)
    if r.transfer_target == target:
        log_replication.send_append(r, target)


def on_progress(r: Replica, node: NodeId) -> None:
    if node == r.transfer_target and r.progress[node].match >= r.log.last_index():
        r.send(TimeoutNow(r.id, node, r.term))


def tick(r: Replica) -> None:
    if r.transfer_target != NONE:
        r.transfer_elapsed += 1
        if r.transfer_elapsed >= r.cfg.election_ticks:
            r.transfer_target = NONE


def handle_timeout_now(r: Replica) -> None:
    election.hup(r, transfer=True)
