"""The node's view of its group, as STATUS, ROLE, INFO replication and SENTINEL show it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.cluster_view import (
    BACKUP,
    CANDIDATE,
    DETACHED,
    LEARNER,
    PRIMARY,
    REMOVED,
    WITNESS,
    MemberStatus,
    NodeStatus,
)
from tandemkv.replication import ConfState, Role
from tandemkv.replication.conf import address_of

if TYPE_CHECKING:
    from tandemkv.node.node import Node


def member_role(conf: ConfState, node_id: int, leader_id: int) -> str:
    if node_id == leader_id:
        return PRIMARY
    if node_id in conf.witnesses:
        return WITNESS
    if node_id in conf.learners:
        return LEARNER
    if node_id in conf.voters:
        return BACKUP
    return DETACHED


def own_role(node: Node) -> str:
    if node.removed:
        return REMOVED
    if node.role in (Role.CANDIDATE, Role.PRE_CANDIDATE) and node.id in node.conf.voters:
        return CANDIDATE
    return member_role(node.conf, node.id, node.leader_id)


def node_status(node: Node) -> NodeStatus:
    replica = node.replica
    conf = node.conf
    last_index = replica.log.last_index()
    members = tuple(
        _member(node, conf, member, last_index)
        for member in sorted(set(conf.voters) | set(conf.learners))
    )
    history = node.history
    last = history.last_election()
    return NodeStatus(
        node_id=node.id,
        address=node.advertise,
        role=own_role(node),
        term=replica.term,
        leader_id=node.leader_id,
        primary_address=node.primary_address(),
        last_index=last_index,
        commit_index=replica.commit_index,
        applied_index=replica.log.applied,
        ack_level=node.raft.ack_level.value,
        members=members,
        last_election_ago_ms=-1 if last is None else _ms_since(node, last.unix_time),
        last_election_term=0 if last is None else last.term,
        last_election_reason="" if last is None else last.reason,
        elections_started=history.elections_started,
        times_became_primary=history.times_became_primary,
        primary_changes=history.primary_changes,
    )


def _ms_since(node: Node, unix_time: float) -> int:
    return max(0, int((node.runtime.wall_ns() / 1e9 - unix_time) * 1000))


def _member(node: Node, conf: ConfState, member: int, last_index: int) -> MemberStatus:
    address = node.advertise if member == node.id else address_of(conf, member)
    role = member_role(conf, member, node.leader_id)
    if member == node.id:
        return MemberStatus(member, address, role, last_index, 0, True, 0)
    progress = node.replica.progress.get(member) if node.is_leader else None
    heard = node.last_heard.get(member)
    contact_ms = -1 if heard is None else int((node.runtime.monotonic() - heard) * 1000)
    if progress is None:
        healthy = heard is not None and contact_ms < node.config.election_ms
        return MemberStatus(member, address, role, -1, -1, healthy, contact_ms)
    healthy = contact_ms >= 0 and contact_ms < node.config.election_ms
    lag = max(0, last_index - progress.match)
    return MemberStatus(member, address, role, progress.match, lag, healthy, contact_ms)
