"""A replication group of real tandemkv processes, wired for chaos.

Every node is a ``ChaosNode`` (the single-node harness's process handle with its client
proxy) listening on a port chosen before any node starts, because each node must be told
how to reach the others. Node-to-node traffic never goes straight to a peer: a node
sends its messages to a peer over its own outbound connection, and ``--peer-route
PEER=VIA`` makes it dial the proxy of that ordered pair instead. ``PeerMesh`` holds one
``FaultProxy`` per ordered pair, so cutting the link A->B silences what A tells B while
B can still talk to A.

Clients go through each node's client proxy (``ChaosNode.address``); the ``GroupRouter``
finds the primary for them by asking STATUS (ROLE as a fallback) of every node. The
harness's own probes and final reads bypass every proxy.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.nodes import ChaosNode
from chaos.proxy import BOTH, LOOPBACK, Address, FaultProxy, Mode
from chaos.workload import read_values
from helpers.resp import ConnectionClosed, RawClient, RespError
from helpers.servers import ServerGroup, ServerStartError, free_port

Link = tuple[int, int]  # (sender, receiver): the proxy carrying what sender tells receiver
PROBE_TIMEOUT = 0.3  # seconds a STATUS probe waits; a stopped node must not stall anyone
START_ATTEMPTS = 3
RESTART_ATTEMPTS = 8
VOTER_ROLES = ("primary", "backup")


def free_ports(count: int) -> list[int]:
    """Distinct ports the OS just handed out (racy: a start that cannot bind retries)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(LOOPBACK)
        if port not in ports:
            ports.append(port)
    return ports


def address_text(address: Address) -> str:
    return f"{address[0]}:{address[1]}"


# ---------------------------------------------------------------------- the peer mesh


class PeerMesh:
    """One fault proxy per ordered pair of nodes, ``(i, j)`` carrying i's messages to j.

    A proxy cannot mend a byte stream it punched a hole in, whereas TCP would retransmit
    once a real partition heals (or reset the connection if it lasted too long). So
    restoring a link that lost bytes also resets its connections (``reset_on_heal``):
    the nodes see an error and reconnect, as after a long outage, rather than talking
    into a connection that is silently dead forever.
    """

    def __init__(self, targets: Sequence[Address], seed: int, reset_on_heal: bool = True) -> None:
        self.size = len(targets)
        self.reset_on_heal = reset_on_heal
        self.proxies: dict[Link, FaultProxy] = {
            (i, j): FaultProxy(targets[j], seed=seed * 100 + i * 10 + j, name=f"link{i}to{j}")
            for i in range(self.size)
            for j in range(self.size)
            if i != j
        }
        self._damaged: set[Link] = set()

    def start(self) -> PeerMesh:
        for proxy in self.proxies.values():
            proxy.start()
        return self

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()

    def routes(self, sender: int, addresses: Sequence[str]) -> list[str]:
        """``--peer-route`` flags for ``sender``: every peer's address to its proxy."""
        flags: list[str] = []
        for (i, j), proxy in sorted(self.proxies.items()):
            if i == sender:
                flags += ["--peer-route", f"{addresses[j]}={address_text(proxy.address)}"]
        return flags

    def link(self, sender: int, receiver: int) -> FaultProxy:
        return self.proxies[(sender, receiver)]

    def around(self, node: int) -> list[Link]:
        """Every link to or from ``node``."""
        return sorted(link for link in self.proxies if node in link)

    def outgoing(self, node: int) -> list[Link]:
        return sorted(link for link in self.proxies if link[0] == node)

    def between(self, side: Iterable[int]) -> list[Link]:
        """Every link crossing from ``side`` to the other nodes, or back."""
        inside = set(side)
        return sorted(link for link in self.proxies if (link[0] in inside) != (link[1] in inside))

    def cut(self, links: Iterable[Link]) -> None:
        """Blackhole these links, existing connections and new ones alike."""
        for link in links:
            self._damaged.add(link)
            self.proxies[link].partition()

    def delay(self, links: Iterable[Link], ms: float, jitter_ms: float) -> None:
        for link in links:
            self.proxies[link].delay(ms, jitter_ms)

    def reset(self, links: Iterable[Link]) -> int:
        return sum(self.proxies[link].reset_all() for link in links)

    def restore(self, links: Iterable[Link]) -> None:
        """Let these links pass again; connections that lost bytes are reset."""
        for link in links:
            proxy = self.proxies[link]
            proxy.heal()  # first, so a reconnect after the reset is not swallowed
            if link in self._damaged and self.reset_on_heal:
                proxy.reset_all()
            self._damaged.discard(link)

    def heal_all(self) -> None:
        self.restore(sorted(self.proxies))

    def faulty(self) -> list[Link]:
        """Links that are cut or have a fault set (what ``heal_all`` must undo)."""
        return sorted(
            link
            for link, proxy in self.proxies.items()
            if proxy.partitioned or any(proxy.fault(d).mode is not Mode.PASS for d in BOTH)
        )


# ---------------------------------------------------------------------- what a node says


@dataclass(frozen=True)
class NodeView:
    """One node's answer to STATUS."""

    node_id: int
    address: str
    role: str
    term: int
    leader_id: int
    primary: str
    last_index: int
    commit_index: int
    applied_index: int
    ack_level: str
    members: tuple[Mapping[str, Any], ...]

    def describe(self) -> str:
        return (
            f"{self.address} id={self.node_id} {self.role} term={self.term} "
            f"primary={self.primary or '-'} last={self.last_index} "
            f"commit={self.commit_index} applied={self.applied_index}"
        )


def plain(value: Any) -> Any:
    """Bytes to text, all the way down (RESP2 sends most strings as bulk bytes)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode(errors="replace")
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def as_map(value: Any) -> dict[str, Any]:
    """A RESP3 map, or RESP2's flat list of alternating keys and values, as a dict."""
    value = plain(value)
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list) and len(value) % 2 == 0:
        return {str(value[n]): value[n + 1] for n in range(0, len(value), 2)}
    raise ValueError(f"not a map: {value!r}")


def parse_status(reply: Any) -> NodeView:
    fields = as_map(reply)
    return NodeView(
        node_id=int(fields["node_id"]),
        address=str(fields["address"]),
        role=str(fields["role"]),
        term=int(fields["term"]),
        leader_id=int(fields.get("leader_id") or 0),
        primary=str(fields.get("primary") or ""),
        last_index=int(fields["last_index"]),
        commit_index=int(fields["commit_index"]),
        applied_index=int(fields["applied_index"]),
        ack_level=str(fields.get("ack_level", "")),
        members=tuple(as_map(member) for member in fields.get("members") or ()),
    )


def parse_role(reply: Any) -> tuple[bool, str]:
    """Redis's ROLE: (True, "") for a master, (False, "HOST:PORT" of its master) else."""
    value = plain(reply)
    if not isinstance(value, list) or not value:
        raise ValueError(f"not a ROLE reply: {value!r}")
    if value[0] == "master":
        return True, ""
    if value[0] == "slave" and len(value) >= 3:
        return False, f"{value[1]}:{value[2]}" if value[1] and int(value[2]) else ""
    raise ValueError(f"not a ROLE reply: {value!r}")


def probe(address: Address, timeout: float = PROBE_TIMEOUT) -> NodeView | None:
    """STATUS of the node at ``address``; None if it does not answer in time."""
    try:
        with RawClient(*address, timeout=timeout) as conn:
            reply = conn.call("STATUS")
    except (OSError, ConnectionClosed):
        return None
    if isinstance(reply, RespError):
        return None
    try:
        return parse_status(reply)
    except (KeyError, ValueError, TypeError):
        return None


def probe_role(address: Address, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str] | None:
    try:
        with RawClient(*address, timeout=timeout) as conn:
            return parse_role(conn.call("ROLE"))
    except (OSError, ConnectionClosed, ValueError, TypeError):
        return None


def choose_primary(views: Iterable[NodeView | None]) -> str | None:
    """Where writes should go, going by what the nodes say.

    A node that claims to be primary in the highest term wins (an old primary that was
    frozen or cut off may still claim a lower one); failing that, the primary named by
    the node with the highest term; None while nobody knows."""
    known = [view for view in views if view is not None]
    claims = [view for view in known if view.role == "primary"]
    if claims:
        return max(claims, key=lambda view: view.term).address
    named = [view for view in known if view.primary]
    if named:
        return max(named, key=lambda view: view.term).primary
    return None


class GroupRouter:
    """A workload ``Router`` for a group: follows a READONLY hint, else asks the nodes.

    ``members`` maps each node's advertised "HOST:PORT" (what STATUS and READONLY errors
    name) to where clients connect to it (its client proxy). Probes go through the
    client proxies too: a client cut off from a node cannot ask it either."""

    def __init__(self, members: Mapping[str, Address], timeout: float = PROBE_TIMEOUT) -> None:
        self.members = dict(members)
        self.timeout = timeout
        # A scripted scenario may keep every client on one node, whatever it says.
        self.pinned: Address | None = None

    def locate(self, hint: str | None) -> Address | None:
        if self.pinned is not None:
            return self.pinned
        if hint is not None and hint in self.members:
            return self.members[hint]
        chosen = choose_primary(probe(address, self.timeout) for address in self.members.values())
        if chosen is None:
            chosen = self._by_role()
        return self.members.get(chosen) if chosen else None

    def _by_role(self) -> str | None:
        """For a server without STATUS: the first node ROLE calls master, or the one named."""
        named: str | None = None
        for advertised, address in self.members.items():
            answer = probe_role(address, self.timeout)
            if answer is None:
                continue
            is_master, primary = answer
            if is_master:
                return advertised
            named = named or primary or None
        return named


# ---------------------------------------------------------------------- the group


@dataclass(frozen=True)
class ClusterSpec:
    size: int = 3
    ack: str = "majority"
    fsync: str = "always"
    heartbeat_ms: int = 50
    election_ms: int = 300
    secret: str = "chaos-cluster-secret"
    extra: tuple[str, ...] = ()

    @property
    def election_s(self) -> float:
        return self.election_ms / 1000

    def flags(self) -> list[str]:
        return [
            "--fsync",
            self.fsync,
            "--ack",
            self.ack,
            "--heartbeat-ms",
            str(self.heartbeat_ms),
            "--election-ms",
            str(self.election_ms),
            "--cluster-secret",
            self.secret,
            *self.extra,
        ]


def node_args(
    spec: ClusterSpec, me: int, addresses: Sequence[str], routes: Sequence[str]
) -> list[str]:
    """A node's server flags: node 0 founds the group, the others join it. A restart uses
    the same flags (``--primary`` is harmless for a node that is already a member).

    ``--address`` comes after the ``127.0.0.1:0`` the process helper puts first; the
    last one wins."""
    role = ["--role", "primary"] if me == 0 else ["--role", "backup", "--primary", addresses[0]]
    return ["--address", addresses[me], *role, *spec.flags(), *routes]


class Cluster:
    """``size`` nodes, their client proxies and the peer mesh; ``close()`` stops all."""

    def __init__(
        self, base: Path, spec: ClusterSpec, seed: int, reset_on_heal: bool = True
    ) -> None:
        self.base = base
        self.spec = spec
        self.seed = seed
        self.reset_on_heal = reset_on_heal  # see PeerMesh
        self.group = ServerGroup(base / "runs")
        self.nodes: list[ChaosNode] = []
        self.addresses: list[str] = []
        self.mesh: PeerMesh | None = None
        self.restart_failures = 0
        self.retired: list[ChaosNode] = []  # nodes of start attempts that were given up

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> Cluster:
        """Start the founding primary, then the backups; wait until all are voters."""
        last: Exception | None = None
        for attempt in range(START_ATTEMPTS):
            try:
                self._start_once(attempt)
            except ServerStartError as exc:  # most likely a port taken meanwhile
                last = exc
                self._discard()
                continue
            problems = self.wait_converged(timeout)
            if problems:
                raise RuntimeError("the group did not form:\n" + "\n".join(problems))
            return self
        raise RuntimeError(f"could not start the group: {last}")

    def _start_once(self, attempt: int) -> None:
        ports = free_ports(self.spec.size)
        self.addresses = [f"{LOOPBACK}:{port}" for port in ports]
        targets = [(LOOPBACK, port) for port in ports]
        self.mesh = PeerMesh(targets, self.seed, self.reset_on_heal).start()
        for me in range(self.spec.size):
            args = node_args(self.spec, me, self.addresses, self.mesh.routes(me, self.addresses))
            node = ChaosNode(
                f"node{me}",
                self.group,
                self.base / f"try{attempt}-node{me}-data",
                args,
                self.seed * 10 + me,
            )
            self.nodes.append(node)
            node.start()

    def _discard(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.close()
        self.retired += self.nodes
        self.nodes = []
        if self.mesh is not None:
            self.mesh.stop()
            self.mesh = None

    def close(self) -> list[str]:
        """Stop everything by pid (stopped processes are continued first); returns the
        nodes whose server did not exit cleanly on SIGTERM."""
        problems: list[str] = []
        for node in self.nodes:
            try:
                code = node.close()
            except Exception as exc:
                problems.append(f"{node.name}: close failed: {exc!r}")
                continue
            if code not in (None, 0):
                details = node.running().describe()
                problems.append(f"{node.name} exited {code} on SIGTERM:\n{details}")
        for node in self.retired:
            with contextlib.suppress(Exception):
                node.close()
        self.group.stop_all()
        if self.mesh is not None:
            self.mesh.stop()
        return problems

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ looking

    @property
    def peers(self) -> PeerMesh:
        assert self.mesh is not None, "the group was not started"
        return self.mesh

    def router(self) -> GroupRouter:
        return GroupRouter({self.addresses[n]: node.address for n, node in enumerate(self.nodes)})

    def index_of(self, address: str) -> int | None:
        return self.addresses.index(address) if address in self.addresses else None

    def direct(self, n: int) -> Address:
        host, port = self.addresses[n].rsplit(":", 1)
        return host, int(port)

    def status(self, n: int, timeout: float = PROBE_TIMEOUT) -> NodeView | None:
        return probe(self.direct(n), timeout)

    def statuses(self, timeout: float = PROBE_TIMEOUT) -> list[NodeView | None]:
        return [self.status(n, timeout) for n in range(len(self.nodes))]

    def primary(self, wait: float = 0.0) -> int | None:
        """The node the others follow (see ``choose_primary``), waiting up to ``wait``."""
        deadline = time.monotonic() + wait
        while True:
            chosen = choose_primary(self.statuses())
            index = self.index_of(chosen) if chosen else None
            if index is not None or time.monotonic() >= deadline:
                return index
            time.sleep(0.05)

    # ------------------------------------------------------------------ process faults

    def kill(self, n: int) -> None:
        self.nodes[n].kill()

    def pause(self, n: int) -> None:
        self.nodes[n].pause()

    def resume(self, n: int) -> None:
        self.nodes[n].resume()

    def restart(self, n: int) -> None:
        """Start node ``n`` again on its data directory and port; while another socket
        holds the port (an ephemeral client port, say), try again a little later."""
        node = self.nodes[n]
        for attempt in range(RESTART_ATTEMPTS):
            try:
                node.restart()
                return
            except ServerStartError:
                self.restart_failures += 1
                if attempt == RESTART_ATTEMPTS - 1:
                    raise
                time.sleep(0.25)

    def heal(self) -> None:
        """Undo every fault: links pass, stopped nodes continue, dead nodes restart."""
        self.peers.heal_all()
        for n, node in enumerate(self.nodes):
            node.resume()
            if not node.running().alive():
                self.restart(n)
            if node.proxy is not None:
                node.proxy.heal()

    def crash_reports(self) -> list[str]:
        return [f"{node.name}: {line}" for node in self.nodes for line in node.crash_reports()]

    # ------------------------------------------------------------------ settling

    def wait_converged(self, timeout: float) -> list[str]:
        """Poll STATUS until the group agrees (see ``convergence_problems``); returns
        what was still wrong when ``timeout`` ran out (empty: converged)."""
        deadline = time.monotonic() + timeout
        while True:
            problems = convergence_problems(self.statuses(timeout=1.0), self.spec.size)
            if not problems or time.monotonic() >= deadline:
                return problems
            time.sleep(0.1)

    def read_contents(
        self, n: int, keys: Sequence[str], timeout: float = 5.0
    ) -> dict[str, str | None]:
        """Every key's value as node ``n`` holds it (READONLY, straight to the node):
        names as the workload's (``read_values``), so hash fields and lists too."""
        with self.nodes[n].direct_client(timeout=timeout) as conn:
            conn.call("READONLY")  # lets a backup answer reads; the primary ignores it
            try:
                return read_values(conn, keys)
            except ValueError as exc:
                raise RuntimeError(f"{self.nodes[n].name} answered reads with {exc}") from exc


def convergence_problems(views: Sequence[NodeView | None], size: int) -> list[str]:
    """What keeps the group from being settled: every node answers, one primary whose
    term everyone shares, every member a voter, and all nodes at the same commit index
    with nothing left unapplied or uncommitted."""
    problems = [f"node{n} does not answer STATUS" for n, view in enumerate(views) if view is None]
    known = [view for view in views if view is not None]
    if problems or not known:
        return problems or ["no node answers"]
    primaries = [view for view in known if view.role == "primary"]
    if len(primaries) != 1:
        return [
            f"{len(primaries)} nodes claim to be primary: "
            + "; ".join(view.describe() for view in known)
        ]
    leader = primaries[0]
    roles = sorted(str(member.get("role")) for member in leader.members)
    if len(roles) != size or any(role not in VOTER_ROLES for role in roles):
        problems.append(f"the primary's members are {roles}, not {size} voters")
    for view in known:
        if view.term != leader.term or view.primary != leader.address:
            problems.append(f"not following the primary: {view.describe()}")
        if not view.applied_index == view.commit_index == view.last_index == leader.commit_index:
            problems.append(f"not caught up with commit={leader.commit_index}: {view.describe()}")
    return problems


def divergence(contents: Sequence[Mapping[str, str | None]], names: Sequence[str]) -> list[str]:
    """Keys on which the nodes' final contents differ, naming who holds what."""
    if not contents:
        return []
    problems = []
    for key in sorted(set().union(*contents)):
        held = [content.get(key) for content in contents]
        if len(set(held)) > 1:
            parts = ", ".join(f"{name}={value!r}" for name, value in zip(names, held, strict=True))
            problems.append(f"{key}: {parts}")
    return problems
