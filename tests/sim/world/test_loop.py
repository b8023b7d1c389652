"""SimLoop: the stdlib loop machinery (timers, tasks, sleep, wait_for, Event) running on
the world's simulated clock, and unhandled errors recorded for the simulator to fail on."""

from __future__ import annotations

import asyncio
import time

import pytest

from tandemkv.testing.world import World


def test_callbacks_run_in_time_order_at_their_simulated_times() -> None:
    world = World(1)
    loop = world.spawn("p").loop
    fired: list[tuple[str, float]] = []
    loop.call_later(2.0, lambda: fired.append(("late", world.now)))
    loop.call_later(1.0, lambda: fired.append(("early", world.now)))
    loop.call_soon(lambda: fired.append(("soon", world.now)))
    loop.call_soon(lambda: fired.append(("soon2", world.now)))
    while world.step():
        pass
    assert fired == [("soon", 0.0), ("soon2", 0.0), ("early", 1.0), ("late", 2.0)]
    assert loop.time() == world.now == 2.0


def test_a_long_sleep_takes_simulated_not_wall_time() -> None:
    world = World(1)
    process = world.spawn("p")

    async def sleeper() -> float:
        await asyncio.sleep(10.0)
        return asyncio.get_running_loop().time()

    task = world.run(sleeper(), process)
    started = time.perf_counter()
    assert world.run_until(task.done, timeout=60.0)
    assert time.perf_counter() - started < 1.0
    assert task.result() == 10.0


def test_wait_for_times_out_on_the_simulated_clock() -> None:
    world = World(1)
    process = world.spawn("p")

    async def impatient() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(5.0), 1.5)
        return world.now

    task = world.run(impatient(), process)
    world.run_for(10.0)
    assert task.result() == 1.5
    assert process.loop.errors == []


def test_tasks_wait_on_an_event_set_by_a_timer() -> None:
    world = World(1)
    process = world.spawn("p")
    event = asyncio.Event()
    woke: list[float] = []

    async def waiter() -> None:
        await event.wait()
        woke.append(world.now)

    world.run(waiter(), process)
    world.run(waiter(), process)
    process.loop.call_later(3.0, event.set)
    world.run_for(5.0)
    assert woke == [3.0, 3.0]


def test_an_exception_in_a_callback_is_recorded_not_raised() -> None:
    world = World(1)
    process = world.spawn("p")

    def broken() -> None:
        raise ValueError("boom")

    process.loop.call_soon(broken)
    process.loop.call_later(1.0, lambda: None)
    world.run_for(2.0)  # the loop went on after the failure
    [(name, context)] = world.errors()
    assert name == "p"
    assert isinstance(context["exception"], ValueError)


def test_call_soon_threadsafe_is_an_ordinary_call_soon() -> None:
    world = World(1)
    process = world.spawn("p")
    fired: list[int] = []
    process.loop.call_soon_threadsafe(fired.append, 1)
    assert world.step()
    assert fired == [1]


def test_running_the_loop_by_hand_is_refused_rather_than_spinning() -> None:
    world = World(1)
    loop = world.spawn("p").loop

    async def nothing() -> None:
        pass

    coro = nothing()
    with pytest.raises(RuntimeError, match="stepped by its World"):
        loop.run_until_complete(coro)
    coro.close()
