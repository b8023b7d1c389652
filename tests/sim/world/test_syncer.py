"""SimSyncer against a real Store on the simulated disk: what it reports synced survives a
crash that drops everything unsynced; requests are never lost; failures are reported."""

from __future__ import annotations

from dataclasses import dataclass, field

from tandemkv.storage.datadir import DataDir
from tandemkv.storage.mutation import SetValue
from tandemkv.storage.simfs import CrashMode, SimFileSystem
from tandemkv.storage.store import Store
from tandemkv.testing.world import SLOW_DISK, SimNetwork, SimProcess, SimRuntime, World

PATH = "/sim/node1"


@dataclass
class Disk:
    world: World
    process: SimProcess
    fs: SimFileSystem
    runtime: SimRuntime
    store: Store
    synced: list[tuple[float, int]] = field(default_factory=list)
    timed: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self, interval: float | None = None) -> None:
        self.syncer = self.runtime.start_syncer(
            self.store,
            interval,
            lambda index: self.synced.append((self.world.now, index)),
            self.errors.append,
            self.timed.append,
        )

    def write(self, count: int) -> int:
        return self.store.append([SetValue(b"k%d" % i, b"v") for i in range(count)])


def _disk(seed: int = 1) -> Disk:
    world = World(seed)
    process = world.spawn("node1")
    fs = SimFileSystem(world.fork_rng("fs"))
    runtime = SimRuntime(world, process, SimNetwork(world), fs, "127.0.0.1")
    store = Store.open(PATH, datadir=runtime.open_datadir(PATH), replay=False)
    return Disk(world, process, fs, runtime, store)


def _reopen(fs: SimFileSystem) -> Store:
    return Store.open(PATH, datadir=DataDir.over(PATH, fs), replay=False)


def test_what_is_reported_synced_survives_a_crash_and_the_rest_may_not() -> None:
    disk = _disk()
    disk.start()
    written = disk.write(5)
    disk.syncer.request()
    disk.world.run_for(0.1)
    [(when, index)] = disk.synced
    assert index == written == 5
    assert 0.0001 <= when <= 0.001  # a fast disk's latency
    assert len(disk.timed) == 1 and 100_000 <= disk.timed[0] <= 1_000_000
    disk.write(3)  # never synced
    disk.fs.crash(CrashMode.DROP_UNSYNCED)
    assert _reopen(disk.fs).last_index == 5


def test_without_a_request_or_an_interval_nothing_is_synced() -> None:
    disk = _disk()
    disk.start()
    disk.write(4)
    disk.world.run_for(5.0)
    assert disk.synced == []
    disk.fs.crash(CrashMode.DROP_UNSYNCED)
    assert _reopen(disk.fs).last_index == 0


def test_the_interval_syncs_new_writes_and_skips_idle_ticks() -> None:
    disk = _disk()
    disk.start(interval=1.0)
    disk.write(2)
    disk.world.run_for(1.5)
    disk.world.run_for(2.0)  # two idle ticks
    disk.write(1)
    disk.world.run_for(1.0)
    assert [index for _, index in disk.synced] == [2, 3]
    assert [int(when) for when, _ in disk.synced] == [1, 4]
    disk.syncer.set_interval(None)
    disk.write(1)
    disk.world.run_for(5.0)
    assert len(disk.synced) == 2


def test_a_request_during_an_fsync_causes_another_after_it() -> None:
    disk = _disk()
    disk.process.disk = SLOW_DISK
    disk.start()
    disk.write(1)
    disk.syncer.request()
    disk.world.run_for(0.01)  # the first fsync (20-200 ms) is under way
    disk.write(1)
    disk.syncer.request()
    disk.syncer.request()
    disk.world.run_for(1.0)
    assert [index for _, index in disk.synced] == [1, 2]
    assert disk.synced[0][0] >= 0.02


def test_an_fsync_failure_is_reported_and_stops_the_syncer() -> None:
    disk = _disk()
    disk.start(interval=0.5)
    disk.syncer.fail_next = True
    disk.write(1)
    disk.syncer.request()
    disk.world.run_for(3.0)
    [message] = disk.errors
    assert "failed" in message and PATH in message
    assert disk.synced == []


def test_stop_cancels_what_was_scheduled() -> None:
    disk = _disk()
    disk.start(interval=0.5)
    disk.write(1)
    disk.syncer.request()  # an fsync under way
    disk.syncer.stop()
    disk.syncer.request()
    disk.world.run_for(2.0)
    assert disk.synced == []
    assert not disk.world.step()  # no timer left behind
