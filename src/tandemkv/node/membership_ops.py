"""Operations on the group that outlast one command: WAIT, joining, ADD_BACKUP,
REMOVE_NODE, FAILOVER and PROMOTE FORCE.

Each answers at once when it can, or returns a Pending that settle() (run after every
Ready) resolves once the log says so: a membership change committed, a transfer done,
enough backups holding a write. A lost leadership fails them all with an error.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tandemkv.commands.cluster_view import Pending
from tandemkv.commands.errors import CommandError, ReadOnly
from tandemkv.config import parse_address
from tandemkv.node import rpc
from tandemkv.node.identity import save_identity
from tandemkv.protocol.types import OK, ErrorReply
from tandemkv.replication import (
    ConfChange,
    ConfChangeError,
    ConfChangeOp,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    NotLeader,
    ProposalDropped,
    Replica,
    Why,
)
from tandemkv.replication.conf import address_of, encode_conf
from tandemkv.replication.conf import members as members_of

if TYPE_CHECKING:
    from tandemkv.node.node import Node

log = logging.getLogger("tandemkv.node")

JOIN_RETRY_SECONDS = 0.5
ADD_BACKUP_TIMEOUT = 15.0
TRANSFER_TIMEOUT_ELECTIONS = 5


class TryAgain(CommandError):
    prefix = "TRYAGAIN"


@dataclass(eq=False)
class WaitRequest:
    index: int
    replicas: int
    pending: Pending
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class Watch:
    """A Pending waiting for a condition on the node: resolved by settle()."""

    kind: str  # "commit" | "leader" | "member"
    value: int | str
    pending: Pending
    timer: asyncio.TimerHandle | None = None


# --- WAIT -----------------------------------------------------------------------------


def replicas_holding(node: Node, index: int) -> int:
    if not node.is_leader:
        return 0
    conf = node.conf
    count = 0
    for member, progress in node.replica.progress.items():
        if member != node.id and member not in conf.witnesses and progress.match >= index:
            count += 1
    return count


def wait(node: Node, index: int, replicas: int, timeout_ms: int) -> int | Pending:
    if not node.is_leader:
        raise CommandError("WAIT cannot be used with replica instances.")
    have = replicas_holding(node, index)
    if have >= replicas or index == 0:
        return have
    request = WaitRequest(index, replicas, Pending())
    if timeout_ms:
        request.timer = node.loop.call_later(timeout_ms / 1000, _wait_timeout, node, request)
    node.waits.append(request)
    return request.pending


def _wait_timeout(node: Node, request: WaitRequest) -> None:
    if request in node.waits:
        node.waits.remove(request)
    request.pending.resolve(replicas_holding(node, request.index))


# --- settling ---------------------------------------------------------------------------


def settle(node: Node) -> None:
    for request in list(node.waits):
        have = replicas_holding(node, request.index)
        if have >= request.replicas:
            node.waits.remove(request)
            if request.timer is not None:
                request.timer.cancel()
            request.pending.resolve(have)
    for watch in list(node.watches):
        if _watch_done(node, watch):
            _finish_watch(node, watch, OK)


def _watch_done(node: Node, watch: Watch) -> bool:
    if watch.kind == "commit":
        return isinstance(watch.value, int) and node.replica.commit_index >= watch.value
    if watch.kind == "leader":
        return node.leader_id == watch.value
    conf = node.conf
    return any(address == watch.value for _, address in conf.addresses) and (
        node.replica.commit_index >= node.replica.pending_conf_index
    )


def _finish_watch(node: Node, watch: Watch, value: object) -> None:
    if watch in node.watches:
        node.watches.remove(watch)
    if watch.timer is not None:
        watch.timer.cancel()
    watch.pending.resolve(value)


def _watch(node: Node, kind: str, value: int | str, timeout: float, timeout_reply: str) -> Pending:
    watch = Watch(kind, value, Pending())
    node.watches.append(watch)
    watch.timer = node.loop.call_later(
        timeout, lambda: _finish_watch(node, watch, ErrorReply(timeout_reply))
    )
    settle(node)
    return watch.pending


def fail_all(node: Node, reason: str) -> None:
    for request in node.waits:
        if request.timer is not None:
            request.timer.cancel()
        request.pending.resolve(0)
    node.waits.clear()
    for watch in list(node.watches):
        if watch.kind != "leader":
            _finish_watch(node, watch, ErrorReply(f"ERR {reason}; check STATUS and retry"))


# --- membership changes on the primary ----------------------------------------------------


def _require_leader(node: Node) -> None:
    if not node.is_leader:
        primary = node.primary_address() or "not known yet"
        raise ReadOnly(f"this node is not the primary; the primary is {primary}")


def _require_room_for_members(node: Node) -> None:
    """A node can take backups only with a log to send them and an address they reach."""
    if node.volatile:
        raise CommandError(
            "this node keeps no log (appendonly no), so it cannot replicate: CONFIG SET "
            "appendonly yes (or restart it with --appendonly yes) before adding backups"
        )
    if parse_address(node.advertise).host in ("0.0.0.0", "::", ""):
        raise CommandError(
            f"this node listens on {node.advertise}, which tells other nodes nothing about "
            "where to reach it: restart it with --advertise HOST:PORT before adding backups"
        )


def _propose(node: Node, change: ConfChange) -> int:
    node.flush_proposals()  # writes gathered this turn come first, at the indexes promised
    try:
        return node.replica.propose_conf_change(change).last
    except NotLeader:
        _require_leader(node)
        raise
    except ProposalDropped as error:
        raise TryAgain(str(error)) from None
    except ConfChangeError as error:
        raise CommandError(str(error)) from None
    finally:
        node.schedule()


def _is_loopback(address: str) -> bool:
    try:
        return parse_address(address).is_loopback
    except ValueError:
        return False


def join(
    node: Node, address: str, node_id: int, witness: bool, learner: bool, proven: bool = False
) -> object:
    _require_leader(node)
    _require_room_for_members(node)
    if not proven and not (_is_loopback(address) and _is_loopback(node.advertise)):
        raise CommandError(
            "joining a group that is not on loopback needs the cluster secret: start the new "
            "node with --cluster-secret (the same on every node)"
        ).with_prefix("NOPERM")
    conf = node.conf
    members = set(conf.voters) | set(conf.learners)
    for member, known in conf.addresses:
        if known == address and member != node_id:
            raise CommandError(
                f"{address} already belongs to member {member}; remove it first "
                f"(REMOVE_NODE {member}) if that node's data was wiped"
            )
    if node_id not in members and witness and not proven:
        # A witness votes from the moment it is added, so it is added only once it has
        # shown it holds the secret and is reachable: it asks again with PEER AUTH.
        state = "authenticate"
    elif node_id not in members:
        op = ConfChangeOp.ADD_WITNESS if witness else ConfChangeOp.ADD_LEARNER
        _propose(node, ConfChange(op, node_id, address))
        state = "joining"
    elif node_id in conf.learners and not learner:
        state = "learner"
        if _caught_up(node, node_id):
            _propose(node, ConfChange(ConfChangeOp.PROMOTE, node_id))
            state = "promoting"
    else:
        state = (
            "witness"
            if node_id in conf.witnesses
            else ("learner" if node_id in conf.learners else "voter")
        )
    return [
        node.identity.secret.encode(),
        node.group_name.encode(),
        state.encode(),
        node.id,
        node.advertise.encode(),
    ]


def _caught_up(node: Node, member: int) -> bool:
    """A learner may vote once it holds nearly all of the log and is in touch: promoting
    one that is not would stall commits until it catches up."""
    replica = node.replica
    progress = replica.progress.get(member)
    heard = node.ms_since_heard(member)
    return (
        progress is not None
        and progress.match > 0
        and replica.log.last_index() - progress.match <= node.raft.promote_max_lag
        and heard is not None
        and heard < node.config.election_ms
        and replica.pending_conf_index <= replica.commit_index
    )


def add_backup(node: Node, address: str, witness: bool, learner: bool) -> Pending:
    _require_leader(node)
    if any(known == address for _, known in node.conf.addresses):
        done = Pending()
        done.resolve(OK)
        return done
    _require_room_for_members(node)
    pending = _watch(
        node,
        "member",
        address,
        ADD_BACKUP_TIMEOUT,
        f"ERR {address} did not join within {ADD_BACKUP_TIMEOUT:.0f}s; is a tandemkv node "
        f"running there (tandemkv server --role backup)?",
    )
    node.spawn(_invite(node, address, witness, learner, pending))
    return pending


async def _invite(node: Node, address: str, witness: bool, learner: bool, pending: Pending) -> None:
    invite: list[bytes | str | int] = ["PEER", "INVITE", node.advertise]
    invite += ["WITNESS"] * witness + ["LEARNER"] * learner
    commands = [invite]
    if not _is_loopback(address):
        commands.insert(0, ["PEER", "AUTH", node.identity.secret, node.id])
    try:
        await rpc.call(node.runtime, node.links.route(address), *commands, tls=node.peer_tls())
    except rpc.RpcError as error:
        for watch in list(node.watches):
            if watch.pending is pending:
                _finish_watch(node, watch, ErrorReply(f"ERR cannot add {address}: {error}"))


def _find_member(node: Node, target: str) -> int:
    conf = node.conf
    for member, address in conf.addresses:
        if address == target or str(member) == target:
            return member
    raise CommandError(f"no member {target!r}; STATUS lists the members")


def remove_node(node: Node, target: str) -> Pending:
    _require_leader(node)
    member = _find_member(node, target)
    if member == node.id:
        raise CommandError(
            "the primary cannot remove itself: run FAILOVER first, then REMOVE_NODE on the "
            "new primary"
        )
    address = address_of(node.conf, member)
    index = _propose(node, ConfChange(ConfChangeOp.REMOVE, member))
    pending = _watch(node, "commit", index, 10.0, "ERR the removal was not committed in time")
    pending.on_done(lambda value: _tell_removed(node, address, value))
    return pending


def _tell_removed(node: Node, address: str, outcome: object) -> None:
    """Best effort: a removed node that is not told keeps standing for election."""
    if outcome is OK and address:
        node.spawn(_send_removed(node, address))


async def _send_removed(node: Node, address: str) -> None:
    try:
        await rpc.call(
            node.runtime,
            node.links.route(address),
            ["PEER", "AUTH", node.identity.secret, node.id],
            ["PEER", "REMOVED"],
            tls=node.peer_tls(),
        )
    except rpc.RpcError as error:
        log.info("could not tell %s it was removed (%s); stop it by hand", address, error)


def removed(node: Node, by: int) -> object:
    """PEER REMOVED from a member that proved the secret: this node left the group."""
    # A member, not only a voter: a learner promoted by force fences the others this way.
    if by not in members_of(node.conf) or by == node.id:
        raise CommandError("only a member of this node's group can say it was removed")
    node.mark_removed()
    return OK


def failover(node: Node, target: str | None) -> Pending:
    _require_leader(node)
    member = _find_member(node, target) if target else _most_caught_up(node)
    if member == node.id:
        raise CommandError("this node is already the primary")
    node.flush_proposals()
    try:
        node.replica.transfer_leadership(member)
    except ProposalDropped as error:
        raise CommandError(str(error)) from None
    finally:
        node.schedule()
    timeout = TRANSFER_TIMEOUT_ELECTIONS * node.config.election_ms / 1000
    return _watch(
        node,
        "leader",
        member,
        timeout,
        "ERR the failover did not complete in time; the primary is unchanged "
        "or an election is under way (check STATUS)",
    )


def _most_caught_up(node: Node) -> int:
    conf = node.conf
    candidates = [
        (progress.match, member)
        for member, progress in node.replica.progress.items()
        if member != node.id and member in conf.voters and member not in conf.witnesses
    ]
    if not candidates:
        raise CommandError("there is no backup that could take over (add one with ADD_BACKUP)")
    return max(candidates)[1]


# --- forced promotion -------------------------------------------------------------------

DEPOSED_RETELL_SECONDS = 1.0


def force_promote(node: Node) -> object:
    """Make this node the only voter: for a group that lost its majority for good.

    Whatever the lost nodes acknowledged and this node lacks is gone; the others must be
    wiped before they rejoin. The new membership is written to the log in a new term,
    then the node campaigns alone.
    """
    if node.is_leader and _majority_in_touch(node):
        raise CommandError("this node is already the primary of a working group")
    if node.is_witness:
        raise CommandError("a witness holds no data and cannot become the primary")
    if node.persisting:
        raise TryAgain("a log write is in progress; retry")
    storage = node.storage
    replica = node.replica
    left_behind = _members_left_behind(node.conf, node.id)
    conf = ConfState((node.id,), (), (), ((node.id, node.advertise),))
    term = replica.term + 1
    index = storage.last_index() + 1
    storage.append([Entry(term, index, encode_conf(conf), EntryKind.CONFIG)])
    storage.sync()
    storage.save_hard_state(HardState(term, node.id, min(replica.commit_index, index)))
    applied = replica.log.applied
    fresh = Replica(node.raft, storage, node.new_random())
    # The keyspace already holds everything applied; the new core must not hand it out
    # again (a second APPEND would be applied twice).
    fresh.log.applied = fresh.log.applying = applied
    node.replace_replica(fresh)
    fresh.campaign(Why.FORCED)
    node.schedule()
    try:
        node.depose(left_behind)
    except OSError as error:
        log.error(
            "could not record the members left behind in %s (%s): they are not "
            "fenced; wipe each before it starts again",
            node.store.path,
            error,
        )
    log.warning("forced promotion: this node is now the only voter (term %d)", term)
    return OK


def _members_left_behind(conf: ConfState, own_id: int) -> dict[int, str]:
    return {m: address_of(conf, m) or "" for m in members_of(conf) if m != own_id}


def tell_deposed(node: Node, member: int) -> None:
    """A member a forced promotion left behind spoke to us: it came back unwiped, and
    with the other old members it could elect a primary of the old membership. Tell it
    it was removed (at most once a second), which stops it; its messages are dropped."""
    now = node.loop.time()
    if now - node.deposed_told.get(member, -DEPOSED_RETELL_SECONDS) < DEPOSED_RETELL_SECONDS:
        return
    node.deposed_told[member] = now
    address = node.deposed.get(member, "")
    log.warning(
        "node %x, left behind by the forced promotion, is back; telling %s it was removed",
        member,
        address or "it (no address known)",
    )
    if address:
        node.spawn(_send_removed(node, address))


def _majority_in_touch(node: Node) -> bool:
    voters = node.conf.voters
    in_touch = 0
    for voter in voters:
        silence = node.ms_since_heard(voter)
        if silence is not None and silence < node.config.election_ms:
            in_touch += 1
    return in_touch * 2 > len(voters)


# --- joining, on the new node -------------------------------------------------------------


def invited(node: Node, primary: str, witness: bool, learner: bool, proven: bool) -> object:
    if node.is_member:
        raise CommandError("this node is already a member of a group")
    holds_credentials = bool(node.identity.secret or node.config.requirepass)
    if holds_credentials and not proven:
        # It would send its password and secret to whatever address it was given.
        raise CommandError(
            "this node has a cluster secret or password: an invitation must come from a "
            "node that proved the cluster secret (PEER AUTH)"
        ).with_prefix("NOPERM")
    if not holds_credentials and not _is_loopback(primary):
        raise CommandError(
            "an invitation to a non-loopback group needs --cluster-secret on this node"
        ).with_prefix("NOPERM")
    node.join_as = (witness, learner)
    node.start_joining(primary)
    return OK


def wants_to_join(node: Node) -> bool:
    conf = node.conf
    if _witness(node) or _learner(node):
        return not node.is_member
    return node.id not in conf.voters


_PRIMARY_IS = re.compile(r"primary is (\S+:\d+)")


async def join_loop(node: Node, primary: str) -> None:
    """Ask `primary` (or whoever it names as primary) to add us until we are in."""
    target = primary
    complained = ""
    while not node.stopped and wants_to_join(node):
        try:
            reply = await rpc.call(
                node.runtime, node.links.route(target), *_join_commands(node), tls=node.peer_tls()
            )
            _joined(node, reply[-1])
        except rpc.RpcError as error:
            message = str(error)
            found = _PRIMARY_IS.search(message)
            if found:
                target = found.group(1)
            elif message != complained:
                log.warning("joining the group through %s: %s", target, message)
                complained = message
        await asyncio.sleep(JOIN_RETRY_SECONDS)


def _join_commands(node: Node) -> list[list[bytes | str | int]]:
    # One way to authenticate, not both: with the secret, PEER AUTH; without it, the
    # client password (the primary then hands the secret over on loopback only).
    commands: list[list[bytes | str | int]] = []
    if node.identity.secret:
        commands.append(["PEER", "AUTH", node.identity.secret, node.id])
    elif node.config.requirepass:
        commands.append(["AUTH", node.config.requirepass])
    join_args: list[bytes | str | int] = ["PEER", "JOIN", node.advertise, node.id]
    if _witness(node):
        join_args.append("WITNESS")
    if _learner(node):
        join_args.append("LEARNER")
    commands.append(join_args)
    return commands


def _learner(node: Node) -> bool:
    if node.join_as is not None:
        return node.join_as[1]
    return node.config.learner or node.identity.learner


def _witness(node: Node) -> bool:
    if node.join_as is not None:
        return node.join_as[0]
    return node.config.role == "witness"


def _joined(node: Node, reply: object) -> None:
    if not isinstance(reply, list) or len(reply) < 5:
        raise rpc.RpcError(f"unexpected answer to PEER JOIN: {reply!r:.200}")
    secret, group, _state, leader_id, leader_address = reply[:5]
    if not isinstance(secret, bytes) or not isinstance(group, bytes):
        raise rpc.RpcError("unexpected answer to PEER JOIN")
    if isinstance(leader_id, int) and isinstance(leader_address, bytes):
        node.address_hints[leader_id] = leader_address.decode()
    identity = node.identity
    if secret.decode() != identity.secret or group.decode() != identity.group_name:
        node.identity = type(identity)(
            identity.node_id, group.decode(), secret.decode(), identity.learner
        )
        node.group_name = node.identity.group_name
        save_identity(node.store.datadir.fs, node.identity)
