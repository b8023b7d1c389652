"""Roles, terms and elections: randomized timeouts, pre-vote, check-quorum, leases.

Pre-vote: a would-be candidate first asks whether voters *would* elect it at term+1,
without anyone changing term, so a node that was partitioned away cannot force a
working leader to step down when it comes back.
Check-quorum: a leader that has not heard from a majority of voters within an election
timeout steps down, so an isolated old primary stops acknowledging writes. Voters that
heard from a leader within an election timeout refuse to vote (the leader's lease).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.replication import log_replication, reads, transfer
from tandemkv.replication.config import ReadMode, Role, Why
from tandemkv.replication.messages import (
    NONE,
    AppendRequest,
    AppendResponse,
    Entry,
    EntryKind,
    Heartbeat,
    Message,
    NodeId,
    SnapshotChunk,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from tandemkv.replication.progress import VoteResult, tally

if TYPE_CHECKING:
    from tandemkv.replication.core import Replica


def reset_randomized_timeout(r: Replica) -> None:
    e = r.cfg.election_ticks
    r.randomized_timeout = e + r.rng.randrange(e)


def promotable(r: Replica) -> bool:
    """Only a data-holding voter that is not mid-way through a snapshot may lead.

    A voter removed by a change that is not committed yet still campaigns (thesis
    §4.2.2): it may hold entries the new majority needs, e.g. when the only other
    up-to-date voter is a witness. Its own vote does not count, only the new voters'.
    """
    if r.id in r.conf.witnesses or r.log.unstable_snapshot is not None:
        return False
    if r.id in r.conf.voters:
        return True
    previous = r.log.uncommitted_previous_conf()
    return previous is not None and r.id in previous.voters and r.id not in previous.witnesses


def in_lease(r: Replica) -> bool:
    """Whether we must refuse votes because a leader may still hold a lease on us."""
    if not r.cfg.check_quorum:
        return False
    if r.cfg.read_mode is ReadMode.LEASE and r.ticks < r.cfg.election_ticks:
        return True  # just (re)started: a leader may hold a lease granted before the crash
    if r.role is Role.LEADER:
        return True
    return r.leader != NONE and r.election_elapsed < r.cfg.election_ticks


def _reset(r: Replica, term: int) -> None:
    if r.term != term:
        r.term = term
        r.vote = NONE
    r.leader = NONE
    r.election_elapsed = 0
    r.heartbeat_elapsed = 0
    reset_randomized_timeout(r)
    r.votes = {}
    r.transfer_target = NONE
    r.transfer_elapsed = 0
    r.lease_disabled = False
    reads.reset(r)


def become_follower(r: Replica, term: int, leader: NodeId) -> None:
    _reset(r, term)
    r.role = Role.FOLLOWER
    r.leader = leader


def become_pre_candidate(r: Replica) -> None:
    # Term and vote stay as they are: a pre-vote changes nothing until it succeeds.
    r.role = Role.PRE_CANDIDATE
    r.leader = NONE
    r.votes = {}


def become_candidate(r: Replica) -> None:
    _reset(r, r.term + 1)
    r.role = Role.CANDIDATE
    r.vote = r.id
    r.campaigns += 1


def become_leader(r: Replica) -> None:
    _reset(r, r.term)
    r.role = Role.LEADER
    r.leader = r.id
    last = r.log.last_index()
    for node, pr in r.progress.items():
        pr.reset(last + 1)
        if node == r.id:
            pr.match = r.log.stable_index()
            pr.recent_active = True
    noop = Entry(r.term, last + 1, b"", EntryKind.NOOP)
    r.log.append([noop])
    # No membership change until an entry of this term is committed (thesis §4.1 fix).
    r.pending_conf_index = noop.index
    log_replication.broadcast_append(r)


def hup(r: Replica, transfer: bool, reason: str = Why.ELECTION_TIMEOUT) -> None:
    if r.role is Role.LEADER or not promotable(r):
        return
    r.reason = Why.TRANSFER if transfer else reason
    r.reason_term = r.term + 1  # the term this campaign runs in, if it gets that far
    if r.cfg.pre_vote and not transfer:
        become_pre_candidate(r)
        _solicit(r, pre_vote=True, transfer=False)
    else:
        become_candidate(r)
        _solicit(r, pre_vote=False, transfer=transfer)


def _solicit(r: Replica, pre_vote: bool, transfer: bool) -> None:
    term = r.term + 1 if pre_vote else r.term
    r.votes[r.id] = True
    if _count(r, pre_vote):
        return
    last_index, last_term = r.log.last_index(), r.log.last_term()
    for voter in r.conf.voters:
        if voter != r.id:
            r.send(VoteRequest(r.id, voter, term, last_index, last_term, pre_vote, transfer))


def _count(r: Replica, pre_vote: bool) -> bool:
    """Tally votes; returns True once the election is decided."""
    result = tally(r.conf.voters, r.votes)
    if result is VoteResult.WON:
        if pre_vote:
            become_candidate(r)
            _solicit(r, pre_vote=False, transfer=False)
        else:
            become_leader(r)
        return True
    if result is VoteResult.LOST:
        become_follower(r, r.term, NONE)
        return True
    return False


def _from_leader(msg: Message) -> bool:
    return isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk | TimeoutNow)


def check_term(r: Replica, msg: Message) -> bool:
    """Apply Raft's term rules to an incoming message; False means drop it."""
    if msg.term > r.term:
        if isinstance(msg, VoteRequest):
            if not msg.transfer and in_lease(r):
                return False  # a leader may hold a lease on our vote
            if msg.pre_vote:
                return True  # a pre-vote never changes our term
        if isinstance(msg, VoteResponse) and msg.pre_vote and msg.granted:
            return True  # a grant echoes the term we would campaign in
        if isinstance(msg, VoteRequest):
            # The candidate's reason is the group's: every voter hears it in this request.
            r.reason = Why.TRANSFER if msg.transfer else Why.ELECTION_TIMEOUT
            r.reason_term = msg.term
        elif r.role is Role.LEADER:
            r.reason, r.reason_term = Why.HIGHER_TERM, msg.term
        elapsed = r.election_elapsed
        become_follower(r, msg.term, msg.frm if _from_leader(msg) else NONE)
        if isinstance(msg, VoteRequest):
            # Only a granted vote restarts our election timer (handle_vote_request): a
            # candidate with a stale log must not keep an up-to-date node from running.
            r.election_elapsed = elapsed
        return True
    if msg.term < r.term:
        if isinstance(msg, AppendRequest | Heartbeat):
            # Tell a stale leader about the newer term so it steps down; without this a
            # node that pre-vote keeps from disrupting us could keep it leading forever.
            r.send(AppendResponse(r.id, msg.frm, r.term, 0))
        elif isinstance(msg, VoteRequest) and msg.pre_vote:
            r.send(VoteResponse(r.id, msg.frm, r.term, False, pre_vote=True))
        return False
    return True


def handle_vote_request(r: Replica, msg: VoteRequest) -> None:
    can_vote = (
        r.vote == msg.frm
        or (r.vote == NONE and r.leader == NONE)
        or (msg.pre_vote and msg.term > r.term)
    )
    if can_vote and r.log.is_up_to_date(msg.last_index, msg.last_term):
        r.send(VoteResponse(r.id, msg.frm, msg.term, True, msg.pre_vote))
        if not msg.pre_vote:
            r.vote = msg.frm
            r.election_elapsed = 0
    else:
        r.send(VoteResponse(r.id, msg.frm, r.term, False, msg.pre_vote))


def handle_vote_response(r: Replica, msg: VoteResponse) -> None:
    expected = Role.PRE_CANDIDATE if msg.pre_vote else Role.CANDIDATE
    if r.role is not expected or msg.frm not in r.conf.voters:
        return
    r.votes.setdefault(msg.frm, msg.granted)
    _count(r, msg.pre_vote)


def tick_election(r: Replica) -> None:
    r.election_elapsed += 1
    # A node that cannot lead keeps counting, so the lease it granted does expire.
    if r.election_elapsed >= r.randomized_timeout and promotable(r):
        r.election_elapsed = 0
        hup(r, transfer=False)


def tick_leader(r: Replica) -> None:
    r.heartbeat_elapsed += 1
    r.election_elapsed += 1
    log_replication.tick_progress(r)
    transfer.tick(r)
    if r.election_elapsed >= r.cfg.election_ticks:
        r.election_elapsed = 0
        if r.cfg.check_quorum and not _quorum_active(r):
            r.reason, r.reason_term = Why.QUORUM_LOST, r.term
            become_follower(r, r.term, NONE)
            return
    if r.heartbeat_elapsed >= r.cfg.heartbeat_ticks:
        r.heartbeat_elapsed = 0
        log_replication.broadcast_heartbeat(r)


def _quorum_active(r: Replica) -> bool:
    """Whether a majority of voters were heard from this round; starts the next round."""
    active = {r.id}
    for node, pr in r.progress.items():
        if pr.recent_active:
            active.add(node)
        if node != r.id:
            pr.recent_active = False
    votes = {v: v in active for v in r.conf.voters}
    return tally(r.conf.voters, votes) is VoteResult.WON
