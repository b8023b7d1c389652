"""A group of production nodes in the simulated world.

Each node is the real `Server` + `Node` (+ `Engine`, `Keyspace`, `Store`), built by
`server.assemble` as the process does, on a `SimRuntime`: its own simulated process
(an event loop), host `127.0.0.N`, and a `SimFileSystem` that outlives the process, so a
crash loses exactly what was not fsynced and a restart recovers from what is left.

A node is started with the same flags every time, as a service manager would: the first
as `--role primary`, the others `--role backup --primary <first>`. What it does on a
restart is decided by its data directory, as in production.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from tandemkv.config import Config, load_config
from tandemkv.node.history import RoleChange, RoleHistory
from tandemkv.replication import NONE
from tandemkv.server.app import Server
from tandemkv.server.assemble import assemble
from tandemkv.storage.simfs import CrashMode, SimFileSystem
from tandemkv.testing.world import SimNetwork, SimProcess, SimRuntime, World

PORT = 6379

log = logging.getLogger("tandemkv.nodesim")


@dataclass(eq=False)
class SimNode:
    index: int
    host: str
    fs: SimFileSystem
    flags: dict[str, object]
    process: SimProcess | None = None
    runtime: SimRuntime | None = None
    server: Server | None = None  # None until started, and while down
    starts: int = 0
    wipes: int = 0
    fatal: str = ""  # why the node stopped itself, if it did

    @property
    def name(self) -> str:
        return f"n{self.index + 1}"

    @property
    def address(self) -> tuple[str, int]:
        return self.host, PORT

    @property
    def up(self) -> bool:
        return self.server is not None and self.process is not None and self.process.alive

    @property
    def witness(self) -> bool:
        return self.flags.get("role") == "witness"


class WatchedHistory(RoleHistory):
    """A node's role history that also tells the cluster who became primary in which
    term (the deque a node keeps holds only its last few changes)."""

    def __init__(self, own_id: int, sink: list[tuple[int, int, float]], now: World) -> None:
        super().__init__()
        self._own_id = own_id
        self._sink = sink
        self._world = now

    def record(self, change: RoleChange, own_id: int, previous_primary: int) -> None:
        super().record(change, own_id, previous_primary)
        if change.primary_id == own_id:
            self._sink.append((change.term, own_id, self._world.now))


@dataclass
class Promotion:
    """A PROMOTE FORCE: when, the node promoted, and the members it left behind."""

    at: float
    survivor: int
    deposed: frozenset[int]  # node indexes
    deposed_ids: frozenset[int] = frozenset()  # their node ids then (a wipe gives new ones)
    # When the survivor's keyspace was read, and what it held: the state the history is
    # checked from (acknowledged writes it lacked are lost by design).
    checkpoint_at: float = -1.0
    checkpoint: dict[str, str | None] = field(default_factory=dict)


@dataclass
class ClusterSettings:
    size: int = 3
    fsync: str = "always"
    ack: str = "majority"
    heartbeat_ms: int = 50
    election_ms: int = 300
    extra: Mapping[str, object] = field(default_factory=dict)


class SimCluster:
    def __init__(self, world: World, network: SimNetwork, settings: ClusterSettings) -> None:
        self.world = world
        self.network = network
        self.settings = settings
        self.nodes: list[SimNode] = []
        # (term, node id, when) for every time a node became primary, across restarts.
        self.leaders: list[tuple[int, int, float]] = []
        self.incarnations: list[Server] = []  # every server ever started
        self.promotions: list[Promotion] = []
        self.wiped_at: dict[int, float] = {}  # node index -> when it was last wiped
        self.served_by: dict[int, int] = {}  # client operation id -> node index sent to
        for index in range(settings.size):
            host = f"127.0.0.{index + 1}"
            fs = SimFileSystem(world.fork_rng(f"disk/n{index + 1}"))
            node = SimNode(index, host, fs, self._flags(index, host))
            self.nodes.append(node)

    def _flags(self, index: int, host: str) -> dict[str, object]:
        settings = self.settings
        flags: dict[str, object] = {
            "db_path": f"/sim/n{index + 1}",
            "address": f"{host}:{PORT}",
            "fsync": settings.fsync,
            "ack": settings.ack,
            "heartbeat_ms": settings.heartbeat_ms,
            "election_ms": settings.election_ms,
            "save": "",
            "backup_scheduling": "normal",
            **settings.extra,
        }
        if settings.size > 1:
            flags["role"] = "primary" if index == 0 else "backup"
            if index:
                flags["primary"] = f"127.0.0.1:{PORT}"
        return flags

    def config(self, node: SimNode) -> Config:
        return load_config(node.flags, env={})

    # --- lifecycle --------------------------------------------------------------------

    def start(self, node: SimNode) -> None:
        """Start the node's process: assemble and listen, as `tandemkv server` does."""
        assert not node.up
        node.starts += 1
        process = self.world.spawn(f"{node.name}.{node.starts}")
        node.process = process
        node.runtime = SimRuntime(self.world, process, self.network, node.fs, node.host)
        node.fatal = ""
        self.world.run(self._boot(node, node.runtime), process)

    async def _boot(self, node: SimNode, runtime: SimRuntime) -> None:
        server = assemble(self.config(node), runtime)
        await server.start()
        server.node.history = WatchedHistory(server.node.id, self.leaders, self.world)
        if server.node.is_leader:  # a group of one elects itself during start()
            self.leaders.append((server.node.replica.term, server.node.id, self.world.now))
        node.server = server
        self.incarnations.append(server)
        await server.stopping.wait()
        # The server stopped itself (a storage failure, an internal error): the process
        # exits, as run.py's does, and the harness restarts it like any crashed node.
        node.fatal = server.fatal_message or "the server stopped"
        self.crash(node, None)

    def crash(self, node: SimNode, mode: CrashMode | None) -> None:
        """kill -9 (`mode` None: what was written survives in the OS's cache) or a power
        cut: the disk keeps what `mode` says a real one could (DROP_UNSYNCED: exactly the
        fsynced data; TORN: a torn tail too)."""
        if node.process is not None:
            self.world.kill(node.process)
        node.process = node.runtime = node.server = None
        if mode is not None:
            node.fs.crash(mode)

    def wipe(self, node: SimNode, role: str, primary: SimNode) -> None:
        """Replace a removed node by a new one on the same address: a fresh disk, asking
        `primary` to join (as a backup or a witness)."""
        if node.process is not None:
            self.world.kill(node.process)
        node.process = node.runtime = node.server = None
        node.wipes += 1
        self.wiped_at[node.index] = self.world.now
        node.fs = SimFileSystem(self.world.fork_rng(f"disk/{node.name}/{node.wipes}"))
        node.flags = {**node.flags, "role": role, "primary": f"{primary.host}:{PORT}"}
        self.start(node)

    def removed(self) -> list[SimNode]:
        """Nodes up that know they were removed from the group (they must be wiped)."""
        return [n for n in self.nodes if n.server is not None and n.server.node.removed]

    def down(self) -> list[SimNode]:
        return [node for node in self.nodes if node.process is None]

    # --- reading the state ------------------------------------------------------------

    def primary(self) -> SimNode | None:
        """The node serving writes, if exactly one does."""
        writable = [
            n for n in self.nodes if n.up and n.server is not None and n.server.node.writable
        ]
        return writable[0] if len(writable) == 1 else None

    def formed(self) -> bool:
        """Every node is up and a voter of the primary's membership."""
        primary = self.primary()
        if primary is None or primary.server is None:
            return False
        voters = primary.server.node.conf.voters
        return len(voters) == self.settings.size and all(n.up for n in self.nodes)

    def members(self) -> bool:
        """Every node up is a voter of the primary's membership (a rejoined node has
        been promoted)."""
        primary = self.primary()
        if primary is None or primary.server is None:
            return False
        voters = primary.server.node.conf.voters
        return all(n.up and n.server is not None and n.server.node.id in voters for n in self.nodes)

    def converged(self) -> bool:
        """Every node up has applied everything the primary has committed."""
        primary = self.primary()
        if primary is None or primary.server is None:
            return False
        committed = primary.server.node.replica.log.committed
        for node in self.nodes:
            if not node.up or node.server is None:
                return False
            if node.server.node.replica.log.applied < committed:
                return False
            if node.server.node.leader_id == NONE:
                return False
        return True
