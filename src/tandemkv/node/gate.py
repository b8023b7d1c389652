"""Which commands this node may run now, by its place in the group.

Writes run only on a primary that has applied its whole log and is not handing over
leadership. Reads run on the primary (linearizable) or, after READONLY, on a backup that
heard from a primary within the configured lag. Everything else (PING, INFO, ROLE,
CONFIG, the peer commands...) runs anywhere: so do SUBSCRIBE and the other pub/sub commands
but PUBLISH, a write (the primary logs it, every member delivers it: commands/pubsub.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError, ReadOnly
from tandemkv.commands.session import Session
from tandemkv.commands.table import CommandSpec, lookup

if TYPE_CHECKING:
    from tandemkv.node.node import Node


class MasterDown(CommandError):
    prefix = "MASTERDOWN"


def make_gate(node: Node) -> CommandGate:
    return CommandGate(node)


class CommandGate:
    def __init__(self, node: Node) -> None:
        self.node = node
        # Kept by the node: True while it is a primary in service (see Engine.execute).
        self.open = False

    def __call__(self, session: Session, spec: CommandSpec) -> CommandError | None:
        node = self.node
        if node.writable and not node.removed:
            return None  # a primary in service runs everything: the path of every request
        flags = spec.flags
        if node.removed and ("write" in flags or "readonly" in flags):
            return ReadOnly(
                "this node was removed from its group; wipe its data directory to use it again"
            )
        if "write" in flags or (spec.name == "exec" and _queues_writes(session)):
            return None if self.node.writable else self._refuse_write()
        if "readonly" in flags and not session.peer_id:
            return self._check_read(session)
        return None

    def _check_read(self, session: Session) -> CommandError | None:
        node = self.node
        if node.writable:
            return None
        if node.is_witness:
            return ReadOnly(
                "this node is a witness: it votes but holds no data; read from the primary "
                f"({self._primary()})"
            )
        if node.is_leader:
            if node.transferring:
                return ReadOnly(
                    "a failover is in progress: this node is handing the primary role over; retry"
                )
            return ReadOnly("this node was just elected primary and is applying its log; retry")
        if not session.read_stale:
            return ReadOnly(
                "this node is a backup; reads go to the primary "
                f"({self._primary()}), or send READONLY first to read possibly stale "
                "data here"
            )
        silence = node.ms_since_leader_contact()
        if silence is None or silence > node.config.replica_max_lag_ms:
            return MasterDown(
                "this backup has not heard from a primary for "
                f"{'ever' if silence is None else f'{silence} ms'} "
                f"(replica-max-lag-ms is {node.config.replica_max_lag_ms}); its data may be "
                "too stale to serve"
            )
        return None

    def _refuse_write(self) -> CommandError:
        node = self.node
        if node.is_leader:
            reason = "a failover is in progress" if node.transferring else "it is applying its log"
            return ReadOnly(f"You can't write against this node now: {reason}; retry")
        return ReadOnly(
            f"You can't write against a read only replica. The primary is {self._primary()}"
        )

    def _primary(self) -> str:
        return self.node.primary_address() or "not known yet (an election is under way)"


def _queues_writes(session: Session) -> bool:
    for args in session.queued or ():
        spec = lookup(args[0])
        if spec is not None and "write" in spec.flags:
            return True
    return False
