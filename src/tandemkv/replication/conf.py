"""Membership values: the change operations and the byte encoding of a ConfState.

A CONFIG entry carries the whole new membership rather than a delta, so the
membership in force is simply the newest CONFIG entry in the log (or the snapshot's).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tandemkv.replication.errors import ConfChangeError as ConfChangeError
from tandemkv.replication.messages import ConfState, NodeId


class ConfChangeOp(Enum):
    ADD_LEARNER = "add_learner"  # joins without a vote; catches up first
    PROMOTE = "promote"  # learner -> voter, refused until it has caught up
    ADD_WITNESS = "add_witness"  # a voter that stores terms and positions only
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class ConfChange:
    op: ConfChangeOp
    node: NodeId
    address: str = ""  # where the added node listens; kept with the membership


def members(conf: ConfState) -> tuple[NodeId, ...]:
    return tuple(sorted(set(conf.voters) | set(conf.learners)))


def is_voter(conf: ConfState, node: NodeId) -> bool:
    return node in conf.voters


def apply_change(conf: ConfState, change: ConfChange) -> ConfState:
    voters, learners, witnesses = set(conf.voters), set(conf.learners), set(conf.witnesses)
    node = change.node
    known = node in voters or node in learners
    if change.op is ConfChangeOp.ADD_LEARNER:
        if known:
            raise ConfChangeError(f"node {node} is already a member")
        learners.add(node)
    elif change.op is ConfChangeOp.ADD_WITNESS:
        if known:
            raise ConfChangeError(f"node {node} is already a member")
        voters.add(node)
        witnesses.add(node)
    elif change.op is ConfChangeOp.PROMOTE:
        if node not in learners:
            raise ConfChangeError(f"node {node} is not a learner")
        learners.discard(node)
        voters.add(node)
    else:
        if not known:
            raise ConfChangeError(f"node {node} is not a member")
        if voters == {node}:
            raise ConfChangeError("cannot remove the last voter")
        voters.discard(node)
        learners.discard(node)
        witnesses.discard(node)
    if voters and voters <= witnesses:
        raise ConfChangeError("at least one voter must store data")
    addresses = dict(conf.addresses)
    if change.address:
        addresses[node] = change.address
    members_now = voters | learners
    return ConfState(
        tuple(sorted(voters)),
        tuple(sorted(learners)),
        tuple(sorted(witnesses)),
        tuple(sorted((n, a) for n, a in addresses.items() if n in members_now)),
    )


def address_of(conf: ConfState, node: NodeId) -> str:
    """Where `node` listens according to the membership, "" if not recorded."""
    for member, address in conf.addresses:
        if member == node:
            return address
    return ""


def _encode_ids(ids: tuple[NodeId, ...]) -> str:
    return ",".join(str(i) for i in ids)


def _decode_ids(text: str) -> tuple[NodeId, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def encode_conf(conf: ConfState) -> bytes:
    voters, learners = _encode_ids(conf.voters), _encode_ids(conf.learners)
    text = f"v={voters};l={learners};w={_encode_ids(conf.witnesses)}"
    if conf.addresses:
        # Addresses never contain ',' ';' or '@' after the host part is validated by the
        # shell; node ids are ints, so "id@host:port" splits unambiguously at the first '@'.
        text += ";a=" + ",".join(f"{node}@{address}" for node, address in conf.addresses)
    return text.encode("ascii")


def decode_conf(data: bytes) -> ConfState:
    fields = dict(part.split("=", 1) for part in data.decode("ascii").split(";"))
    addresses: list[tuple[NodeId, str]] = []
    for item in fields.get("a", "").split(","):
        if item:
            node, address = item.split("@", 1)
            addresses.append((int(node), address))
    return ConfState(
        _decode_ids(fields["v"]),
        _decode_ids(fields["l"]),
        _decode_ids(fields["w"]),
        tuple(addresses),
    )
