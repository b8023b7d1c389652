"""SimRuntime: the clocks, entropy and sockets a node gets in the simulated world."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from sim.world.recorder import Recorder
from tandemkv.runtime import Runtime
from tandemkv.storage.simfs import SimFileSystem
from tandemkv.testing.world import SimNetwork, SimRuntime, World
from tandemkv.testing.world.runtime import EPOCH_SECONDS


def _runtime(world: World, network: SimNetwork, name: str, host: str) -> SimRuntime:
    fs = SimFileSystem(world.fork_rng(f"fs/{name}"))
    return SimRuntime(world, world.spawn(name), network, fs, host)


def test_clocks_follow_the_world_and_a_clock_jump_moves_only_the_wall() -> None:
    world = World(1)
    runtime: Runtime = _runtime(world, SimNetwork(world), "n1", "127.0.0.1")
    world.run_for(2.5)
    assert runtime.monotonic() == 2.5
    assert runtime.wall_ns() == (EPOCH_SECONDS + 2.5) * 10**9
    assert isinstance(runtime, SimRuntime)
    runtime.process.clock_offset = -3600.0
    assert runtime.monotonic() == 2.5
    assert runtime.wall_ns() == (EPOCH_SECONDS + 2.5 - 3600) * 10**9
    assert runtime.can_fork is False
    assert runtime.loop is runtime.process.loop


def test_entropy_replays_by_seed_and_differs_per_spawned_process() -> None:
    def draws(seed: int) -> list[float]:
        world = World(seed)
        network = SimNetwork(world)
        first = _runtime(world, network, "n1", "127.0.0.1")
        restarted = _runtime(world, network, "n1", "127.0.0.1")  # same name, new process
        return [first.entropy().random(), restarted.entropy().random()]

    once = draws(7)
    assert once == draws(7)
    assert once[0] != once[1]
    assert once != draws(8)


def test_listen_and_connect_through_runtimes() -> None:
    world = World(1)
    network = SimNetwork(world)
    server = _runtime(world, network, "server", "127.0.0.1")
    client = _runtime(world, network, "client", "127.0.0.2")
    accepted: list[Recorder] = []

    def accept() -> Recorder:
        accepted.append(Recorder(world))
        return accepted[-1]

    listening = world.run(server.listen(accept, "127.0.0.1", 0), server.process)
    world.run_for(0.01)
    _, (host, port) = listening.result()
    dialled = Recorder(world)
    connect = client.connect(lambda: dialled, host, port, None)
    connecting = world.run(connect, client.process)
    world.run_for(0.01)
    transport = connecting.result()
    assert isinstance(transport, asyncio.Transport)
    transport.write(b"hi")
    world.run_for(0.01)
    assert accepted[0].data == b"hi"
    assert transport.get_extra_info("sockname")[0] == "127.0.0.2"


def test_tls_is_refused_rather_than_silently_skipped() -> None:
    world = World(1)
    runtime = _runtime(world, SimNetwork(world), "n1", "127.0.0.1")
    context = ssl.create_default_context()
    task = world.run(
        runtime.connect(lambda: Recorder(world), "127.0.0.1", 1, context), runtime.process
    )
    world.run_for(0.1)
    with pytest.raises(NotImplementedError):
        task.result()
