"""One seeded run of production nodes under faults, and its checks.

    run_seed(seed, size=3) -> Outcome       everything drawn from the seed
    Outcome.problems                         empty when every check passed

A run: form the group, run clients and the nemesis for a few simulated seconds, heal
everything, then require (liveness) a primary that serves a write within a bound, read
every key once more, wait for the nodes to converge and check:

- the history (with the final reads) is linearizable: an acknowledged write that was
  lost shows up as a read that no order explains;
- no two nodes were primary in the same term;
- every node holds the same keys and values as the primary;
- no node stopped itself and no callback raised (an internal error).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from tandemkv.server.app import Server
from tandemkv.storage.simfs import SimFileSystem
from tandemkv.testing.history import History, Operation, Status
from tandemkv.testing.kv_model import changes_nothing
from tandemkv.testing.linearizability import check
from tandemkv.testing.nodesim.bugs import injected
from tandemkv.testing.nodesim.client import Client, Request
from tandemkv.testing.nodesim.cluster import ClusterSettings, Promotion, SimCluster
from tandemkv.testing.nodesim.nemesis import Fault, Nemesis, draw_faults
from tandemkv.testing.world import SimNetwork, SimProcess, SimRuntime, World

KEYS = 6
CLIENTS = 3
FORM_TIMEOUT = 20.0
LIVENESS_BOUND = 10.0  # simulated seconds after healing for a primary to serve a write
CONVERGE_TIMEOUT = 10.0
REMOVAL_TIMEOUT = 10.0  # REMOVE_NODE's own bound on committing
# A run takes some 25,000 loop iterations; far more means the nodes are busy doing
# something without end (resending a log a follower keeps refusing...).
MAX_STEPS = 250_000


class Stalled(Exception):
    """The run exceeded MAX_STEPS."""


def _never() -> bool:
    return False


def _until(world: World, predicate: Callable[[], bool], timeout: float) -> bool:
    """world.run_until within the run's step budget."""
    budget = MAX_STEPS

    def done() -> bool:
        if world.steps > budget:
            raise Stalled(f"more than {budget} loop iterations by t={world.now:.3f}")
        return predicate()

    return world.run_until(done, timeout)


@dataclass
class Outcome:
    seed: int
    size: int
    faults: list[Fault]
    fsync: str = "always"
    problems: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    ops: int = 0
    ops_ok: int = 0
    terms: int = 0
    sim_seconds: float = 0.0
    steps: int = 0

    def report(self) -> str:
        head = (
            f"seed {self.seed} ({self.size} nodes, fsync {self.fsync}): {self.ops} ops "
            f"({self.ops_ok} ok), "
            f"{len(self.faults)} faults, {self.terms} primaries, "
            f"{self.sim_seconds:.1f} simulated s, {self.steps} steps"
        )
        if not self.problems:
            return head + ": ok"
        return "\n".join([head + ": FAILED", *self.problems, "trace:", *self.trace[-40:]])


def replay_command(
    seed: int, size: int, faults: list[int] | None = None, bug: str | None = None
) -> str:
    subset = f" --faults {','.join(map(str, faults))}" if faults is not None else ""
    subset += f" --bug {bug}" if bug else ""
    pure = "TANDEMKV_PURE=1 " if bug else ""
    return (
        f"{pure}PYTHONPATH=src python3 -m tandemkv.testing.nodesim --seed {seed} "
        f"--nodes {size}{subset}"
    )


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Nodes log as in production; thousands of lines per run would drown the report."""
    logger = logging.getLogger("tandemkv")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def run_seed(
    seed: int,
    size: int = 3,
    only: list[int] | None = None,
    workload_seconds: float = 4.0,
    settings: ClusterSettings | None = None,
    bug: str | None = None,
) -> Outcome:
    """Run one seed; `only`: the indexes of the drawn faults to keep (replay, minimise);
    `bug`: one of bugs.BUGS injected into the node (the checks must catch it)."""
    world = World(seed)
    network = SimNetwork(world)
    if settings is None:
        # One seed in four runs --fsync everysec, whose writes survive process crashes.
        settings = ClusterSettings(size=size, fsync="everysec" if seed % 4 == 3 else "always")
    cluster = SimCluster(world, network, settings)
    rng = world.fork_rng("nemesis")
    power_cuts = settings.fsync == "always"
    faults = draw_faults(rng, size, 1.0, 1.0 + workload_seconds, power_cuts)
    if only is not None:
        faults = [faults[i] for i in only if i < len(faults)]
    outcome = Outcome(seed, size, faults, fsync=settings.fsync)
    with quiet_logs(), injected(bug):
        try:
            _run(world, cluster, faults, outcome, workload_seconds)
        except Stalled as error:
            outcome.problems.append(f"stalled: {error}")
    outcome.sim_seconds, outcome.steps = world.now, world.steps
    return outcome


def _run(
    world: World, cluster: SimCluster, faults: list[Fault], outcome: Outcome, seconds: float
) -> None:
    trace, problems = outcome.trace, outcome.problems
    cluster.start(cluster.nodes[0])
    if not _until(world, lambda: cluster.primary() is not None, FORM_TIMEOUT):
        problems.append("the first node never became primary")
        return
    for node in cluster.nodes[1:]:
        cluster.start(node)
    if not _until(world, cluster.formed, FORM_TIMEOUT):
        problems.append(f"the group of {cluster.settings.size} did not form")
        return
    trace.append(f"{world.now:.3f} group formed")
    history = History()
    clients = [_client(world, cluster, history, n) for n in range(CLIENTS)]
    tasks = [world.run(c.run(), process) for c, process in clients]
    nemesis = Nemesis(cluster, _shifted(faults, world.now - 1.0), trace)
    nemesis.start()
    _until(world, _never, seconds)
    nemesis.heal()
    for client, _ in clients:
        client.stopping = True
    _until(world, _never, 0.5)
    for (client, _), task in zip(clients, tasks, strict=True):
        if task.done() and not task.cancelled() and task.exception() is not None:
            outcome.problems.append(f"client {client.number} failed: {task.exception()!r}")
        task.cancel()
        outcome.problems.extend(client.anomalies[:3])
    outcome.problems.extend(_phantoms(history, [c for c, _ in clients]))
    history.close()
    _settle(world, cluster, history, outcome, nemesis)
    _check(world, cluster, history, outcome)


def _shifted(faults: list[Fault], by: float) -> list[Fault]:
    """Fault times are drawn relative to a group formed at t=1."""
    return [replace(f, at=f.at + by) for f in faults]


def _client(
    world: World, cluster: SimCluster, history: History, number: int
) -> tuple[Client, SimProcess]:
    process = world.spawn(f"client{number}")
    runtime = SimRuntime(
        world,
        process,
        cluster.network,
        SimFileSystem(world.fork_rng("none")),
        f"10.0.0.{number + 1}",
    )
    addresses = [node.address for node in cluster.nodes]
    rng = world.fork_rng(f"client{number}")
    client = Client(number, runtime, addresses, history, rng, KEYS, cluster.served_by)
    client.target = number % len(addresses)
    return client, process


def _settle(
    world: World, cluster: SimCluster, history: History, outcome: Outcome, nemesis: Nemesis
) -> None:
    """Liveness, then one more read of every key, then convergence."""
    problems = outcome.problems
    probe, process = _client(world, cluster, history, 99)
    written: list[bool] = []

    async def probe_write() -> None:
        deadline = world.now + LIVENESS_BOUND
        while world.now < deadline:
            op = await probe.perform(Request("put", "k0", ["SET", "k0", "final"], value="final"))
            if op.status is Status.OK:
                written.append(True)
                return
            await asyncio.sleep(0.05)

    world.run(probe_write(), process)
    if not _until(world, lambda: bool(written), LIVENESS_BOUND + 1):
        problems.append(f"liveness: no primary served a write within {LIVENESS_BOUND}s of healing")
        return
    outcome.trace.append(f"{world.now:.3f} a write succeeded after healing")
    done: list[bool] = []

    async def final_reads() -> None:
        for key in range(KEYS):
            await probe.perform(Request("get", f"k{key}", ["GET", f"k{key}"]))
        done.append(True)

    world.run(final_reads(), process)
    _until(world, lambda: bool(done), 10.0)

    def settled() -> bool:
        # A REMOVE_NODE may commit after healing: the node is then wiped and rejoins.
        undecided = nemesis.settle_removals()
        return not undecided and cluster.members() and cluster.converged()

    if not _until(world, settled, CONVERGE_TIMEOUT + REMOVAL_TIMEOUT):
        problems.append("the nodes did not converge on the primary's commit index")


def _check(world: World, cluster: SimCluster, history: History, outcome: Outcome) -> None:
    problems = outcome.problems
    outcome.ops = len(history.ops)
    outcome.ops_ok = sum(op.status.value == "ok" for op in history.ops)
    for name, error in world.errors():
        problems.append(
            f"unhandled error on {name}: {error.get('message')} {error.get('exception')!r}"
        )
    ops = history.ops
    if cluster.promotions:
        problems.extend(_unfenced(cluster, history))
        ops = _from_checkpoint(cluster.promotions[0], history)
    result = check(ops, max_seconds=5.0)
    if result.verdict.value != "ok":
        problems.append("history: " + result.explain(30))
    by_term: dict[tuple[int, int], set[int]] = {}
    for term, node_id, when in cluster.leaders:
        by_term.setdefault((_lineage(cluster, node_id, when), term), set()).add(node_id)
    outcome.terms = len(by_term)
    for (lineage, term), leaders in sorted(by_term.items()):
        if len(leaders) > 1:
            where = " after PROMOTE FORCE" if lineage else ""
            problems.append(f"term {term}{where} had {len(leaders)} primaries: {sorted(leaders)}")
    problems.extend(_divergence(cluster))


def _lineage(cluster: SimCluster, node_id: int, when: float) -> int:
    """1 for the group a forced promotion started (its survivor, and members that joined
    it), 0 for the group it left behind: PROMOTE FORCE forks the history, and the two
    count terms apart (the old one is fenced, not stopped: see _unfenced)."""
    for promotion in cluster.promotions:
        if when >= promotion.at and node_id not in promotion.deposed_ids:
            return 1
    return 0


def _phantoms(history: History, clients: list[Client]) -> list[str]:
    """READONLY reads may be stale, never invented: a value no client ever wrote."""
    written = {op.value for op in history.ops if op.kind in ("put", "set_ifeq")} | {"final"}
    found = []
    for client in clients:
        for key, value in client.stale_reads:
            if value is not None and value not in written and not value.lstrip("-").isdigit():
                found.append(f"a READONLY read of {key} returned {value!r}, which nobody wrote")
    return found[:3]


def _unfenced(cluster: SimCluster, history: History) -> list[str]:
    """Writes acknowledged after a forced promotion by a member it left behind (before
    that member was wiped): the old membership elected a primary of its own."""
    found = []
    for promotion in cluster.promotions:
        for op in history.ops:
            index = cluster.served_by.get(op.id, -1)
            if index not in promotion.deposed or op.status is not Status.OK:
                continue
            wiped = cluster.wiped_at.get(index, float("inf"))
            late = op.ret is not None and promotion.at < op.ret and op.call < wiped
            if late and not changes_nothing(op):
                name = cluster.nodes[index].name
                found.append(f"{name}, left behind by PROMOTE FORCE, acknowledged {op.describe()}")
    return found[:5]


def _from_checkpoint(promotion: Promotion, history: History) -> list[Operation]:
    """The history a forced promotion leaves checkable: the survivor's keys as read at the
    checkpoint (synthetic writes), then what came after. Writes still in flight then may
    or may not have happened (unknown outcome); anything earlier is history it may lose."""
    at = promotion.checkpoint_at
    if at < 0:
        return []  # the survivor never served: nothing after it to check
    checked = History()
    for key, value in sorted(promotion.checkpoint.items()):
        op = checked.invoke(-2, "put", key, at - 1e-6, value)
        History.ok(op, None, at - 1e-6)
    for key in {op.key for op in history.ops} - set(promotion.checkpoint):
        History.ok(checked.invoke(-2, "del", key, at - 1e-6), None, at - 1e-6)
    for op in history.ops:
        if op.call >= at:
            checked.ops.append(replace(op, id=len(checked.ops)))
        elif not changes_nothing(op) and (op.ret is None or op.ret > at):
            unknown = replace(op, id=len(checked.ops), call=at, status=Status.INFO, ret=None)
            checked.ops.append(unknown)
    return checked.ops


def _divergence(cluster: SimCluster) -> list[str]:
    primary = cluster.primary()
    if primary is None or primary.server is None:
        return []
    now_ms = primary.server.engine.now_ms
    expected = _contents(primary.server, now_ms)
    found = []
    for node in cluster.nodes:
        if node.server is not None and node is not primary and not node.witness:
            held = _contents(node.server, now_ms)
            for key in sorted(set(held) | set(expected)):
                if held.get(key) != expected.get(key):
                    found.append(
                        f"{node.name} holds {key!r} = {held.get(key)!r:.300}, the primary "
                        f"{primary.name} {expected.get(key)!r:.300}"
                    )
    return found


def _contents(server: Server, now_ms: int) -> dict[bytes, object]:
    keyspace = server.store.keyspace
    return {key: keyspace.get(key, now_ms) for key in sorted(keyspace.live_keys(now_ms))}


def seeds_per_second(seeds: range, size: int = 3) -> float:
    started = time.perf_counter()
    for seed in seeds:
        run_seed(seed, size)
    return len(seeds) / (time.perf_counter() - started)
