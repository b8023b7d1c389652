"""Membership changes, one member at a time (Raft thesis §4.1).

A CONFIG entry takes effect as soon as it is in a log (appended, not committed), so the
membership in force is the newest CONFIG entry a replica holds; if a conflicting leader
truncates it away, the previous one applies again. Any two consecutive memberships then
differ by one member and their majorities overlap. A leader proposes a change only when
the previous one is committed and an entry of its own term is committed. New members
join as learners and are promoted once they have caught up. A leader does not remove
itself (transfer leadership first); a voter removed by a change not yet committed may
still campaign, since it may hold entries the new majority needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.replication import election, log_replication
from tandemkv.replication.conf import ConfChange, ConfChangeOp, apply_change, encode_conf
from tandemkv.replication.config import Proposal, ProposalDropped, Role
from tandemkv.replication.messages import NONE, EntryKind
from tandemkv.replication.progress import Progress

if TYPE_CHECKING:
    from tandemkv.replication.core import Replica


def sync_conf(r: Replica) -> None:
    """Bring the progress table in line with the membership the log now holds."""
    conf = r.log.conf_state()
    if conf == r.conf and len(r.progress) == len(set(conf.voters) | set(conf.learners)):
        return
    r.conf = conf
    wanted = sorted(set(conf.voters) | set(conf.learners))
    for node in list(r.progress):
        if node not in wanted:
            del r.progress[node]
    next_index = r.log.last_index() + 1
    for node in wanted:
        if node not in r.progress:
            pr = Progress(next_index, r.cfg.max_inflight, r.cfg.max_inflight_bytes)
            if node == r.id:
                pr.match = r.log.stable_index()
                pr.recent_active = True
            r.progress[node] = pr


def propose_change(r: Replica, change: ConfChange) -> Proposal:
    if r.role is not Role.LEADER:
        raise r.not_leader()
    if r.pending_conf_index > r.log.committed:
        raise ProposalDropped("the previous membership change is not committed yet")
    if change.op is ConfChangeOp.REMOVE and change.node == r.id:
        # Stepping down after its own removal could leave a witness as the only voter
        # with the newest entries, and a witness cannot lead: transfer first.
        raise ProposalDropped("a leader cannot remove itself; transfer leadership first")
    new_conf = apply_change(r.conf, change)
    if change.op is ConfChangeOp.PROMOTE:
        lag = r.log.last_index() - r.progress[change.node].match
        if lag > r.cfg.promote_max_lag:
            raise ProposalDropped(f"learner {change.node} is {lag} entries behind")
    if change.op is ConfChangeOp.REMOVE and change.node == r.transfer_target:
        r.transfer_target = NONE
    proposal = log_replication.propose(r, [(encode_conf(new_conf), EntryKind.CONFIG)])
    r.pending_conf_index = proposal.last
    return proposal


def on_commit(r: Replica) -> bool:
    """Called when the leader's commit index moves; False if it stepped down."""
    if r.id in r.conf.voters:
        return True
    latest = r.log.confs[-1][0] if r.log.confs else 0
    if latest <= r.log.committed:
        election.become_follower(r, r.term, NONE)
        return False
    return True
