"""World: processes interleave by simulated time, pause and kill act on one process, and a
run is a function of its seed alone."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from sim.world.recorder import Recorder
from tandemkv.testing.world import Livelock, SimNetwork, SimProcess, World


def _ticker(world: World, name: str, period: float, trace: list[tuple[float, str]]) -> None:
    process = world.spawn(name)

    async def tick() -> None:
        while True:
            await asyncio.sleep(period)
            trace.append((world.now, name))

    world.run(tick(), process)


def test_processes_interleave_by_time_with_ties_to_the_first_spawned() -> None:
    world = World(1)
    trace: list[tuple[float, str]] = []
    _ticker(world, "b", 1.0, trace)
    _ticker(world, "a", 0.4, trace)
    world.run_for(2.0)
    assert trace == [
        (0.4, "a"), (0.8, "a"), (1.0, "b"), (1.2000000000000002, "a"),
        (1.6, "a"), (2.0, "b"), (2.0, "a"),
    ]  # fmt: skip
    assert world.now == 2.0


def test_a_paused_process_runs_its_overdue_timers_when_it_resumes() -> None:
    world = World(1)
    slow, other = world.spawn("slow"), world.spawn("other")
    fired: list[tuple[str, float]] = []
    slow.loop.call_later(1.0, lambda: fired.append(("slow", world.now)))
    slow.loop.call_later(2.0, lambda: fired.append(("slow2", world.now)))
    other.loop.call_later(1.0, lambda: fired.append(("other", world.now)))
    world.pause(slow, 5.0)
    world.run_for(10.0)
    assert fired == [("other", 1.0), ("slow", 5.0), ("slow2", 5.0)]


def test_a_killed_process_never_runs_again() -> None:
    world = World(1)
    doomed, survivor = world.spawn("doomed"), world.spawn("survivor")
    fired: list[str] = []
    doomed.loop.call_later(1.0, fired.append, "doomed")
    survivor.loop.call_later(1.0, fired.append, "survivor")
    world.kill(doomed)
    world.run_for(2.0)
    assert fired == ["survivor"]
    assert not doomed.alive and doomed.loop.is_closed()

    async def nothing() -> None:
        pass

    with pytest.raises(RuntimeError, match="dead"):
        world.run(nothing(), doomed)
    assert world.errors() == []


def test_close_ends_the_run_with_every_loop_closed() -> None:
    world = World(1)
    processes = [world.spawn("a"), world.spawn("b")]
    processes[0].loop.call_later(1.0, lambda: None)
    world.close()
    assert all(p.loop.is_closed() and not p.alive for p in processes)
    assert not world.step()


def test_step_reports_when_nothing_is_left() -> None:
    world = World(1)
    world.spawn("idle")
    assert not world.step()
    assert world.run_until(lambda: False, timeout=3.0) is False
    assert world.now == 3.0


def test_a_process_rescheduling_itself_forever_at_one_instant_is_a_livelock() -> None:
    world = World(1, livelock_limit=1000)
    loop = world.spawn("spinner").loop

    def spin() -> None:
        loop.call_soon(spin)

    loop.call_soon(spin)
    with pytest.raises(Livelock):
        world.run_for(1.0)


async def _chat(network: SimNetwork, client: SimProcess, recorder: Recorder, n: int) -> None:
    world = network.world
    transport = await network.connect(client, lambda: recorder, "127.0.0.1", 7000)
    for i in range(5):
        transport.write(f"{n}:{i};".encode())
        await asyncio.sleep(world.fork_rng(f"{n}/{i}").random() / 100)


def _echo_trace(seed: int) -> list[tuple[float, str, object]]:
    """Three clients talk to an echo server over random latencies."""
    world = World(seed)
    network = SimNetwork(world)
    server = world.spawn("server")
    network.listen(server, lambda: Recorder(world, echo=True), "127.0.0.1", 7000)
    recorders = []
    for n in range(3):
        client = world.spawn(f"client{n}")
        network.place(client, f"127.0.0.{10 + n}")
        recorders.append(Recorder(world))
        world.run(_chat(network, client, recorders[-1], n), client)
    world.run_for(1.0)
    return [event for r in recorders for event in r.events]


def test_the_same_seed_gives_the_same_trace_and_another_seed_another() -> None:
    first = _echo_trace(5)
    assert len(first) == 3 * 6  # each client: connected, then its five echoes
    assert _echo_trace(5) == first
    assert _echo_trace(6) != first


def test_forked_generators_do_not_depend_on_the_hash_seed() -> None:
    # str hashes differ per interpreter run; a fork must not.
    code = "from tandemkv.testing.world import World; print(World(3).fork_rng('net').random())"
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert World(3).fork_rng("net").random() != World(3).fork_rng("disk").random()
