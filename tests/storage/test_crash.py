"""Crash property on the simulated disk: recovery yields a prefix that holds everything synced.

Each seed drives a random schedule of appends (some overwriting a suffix, as a follower
does), syncs, truncations, snapshots + compactions and crashes in every mode, against a
model of what the log should hold. After each crash:

- recovery returns exactly a prefix of the model log (no stale, reordered or altered entry);
- that prefix contains every entry that was synced;
- after a DROP_UNSYNCED crash it contains nothing appended after the last fsync of any kind;
- after a FLIP crash recovery may refuse to start (damage with intact unsynced records
  behind it looks like corruption), but the operator's truncation then still keeps
  everything synced: the refusal never points into synced data.

Replay one seed with `--sim-seed N`; run more with `--sim-seeds N`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from tandemkv.storage.errors import CorruptLogError
from tandemkv.storage.log import SegmentedLog
from tandemkv.storage.record import LogEntry
from tandemkv.storage.recovery import recover
from tandemkv.storage.simfs import CrashMode, SimFileSystem
from tandemkv.storage.snapshot import SnapshotMeta, write_snapshot

SEGMENT_SIZE = 300
DEFAULT_SEEDS = 1000
STEPS = 80


@dataclass
class Model:
    entries: list[LogEntry] = field(default_factory=list)  # entries[i] has index i + 1
    base: int = 0  # snapshot / compaction boundary
    synced: int = 0  # every entry up to here is durable
    written_at_last_fsync: int = 0  # nothing after this can survive a DROP crash

    def __repr__(self) -> str:
        return (
            f"Model(last={self.last}, base={self.base}, synced={self.synced}, "
            f"written_at_last_fsync={self.written_at_last_fsync})"
        )

    @property
    def last(self) -> int:
        return len(self.entries)

    def term(self) -> int:
        return self.entries[-1].term if self.entries else 0


def new_entries(rng: random.Random, start: int, count: int, term: int) -> list[LogEntry]:
    return [
        LogEntry(term, start + i, rng.choice((0, 0, 0, 1, 2)), rng.randbytes(rng.randint(0, 40)))
        for i in range(count)
    ]


def step(rng: random.Random, fs: SimFileSystem, wal: SegmentedLog, model: Model) -> None:
    action = rng.choices(
        ["append", "overwrite", "sync", "truncate", "compact"], weights=[8, 1, 4, 1, 1]
    )[0]
    if action == "append":
        batch = new_entries(
            rng, model.last + 1, rng.randint(1, 6), model.term() + rng.randint(0, 1)
        )
        wal.append(batch)
        model.entries += batch
    elif action == "overwrite" and model.last > model.base:
        start = rng.randint(model.base + 1, model.last)
        batch = new_entries(rng, start, rng.randint(1, 4), model.term() + 1)
        wal.append(batch)
        model.entries[start - 1 :] = batch
        model.synced = min(model.synced, start - 1)
    elif action == "sync":
        wal.sync()
        model.synced = model.last
    elif action == "truncate" and model.last > model.base:
        cut = rng.randint(model.base, model.last - 1)
        wal.truncate_after(cut)
        del model.entries[cut:]
        model.synced = min(model.synced, cut)
    elif action == "compact" and model.synced > model.base:
        index = rng.randint(model.base + 1, model.synced)
        term = model.entries[index - 1].term
        write_snapshot(fs, SnapshotMeta(index, term, 0), [])
        wal.compact_through(index, term)
        model.base = index


def recover_after_crash(
    seed: int, fs: SimFileSystem, mode: CrashMode, model: Model
) -> SegmentedLog:
    fs.crash(mode)
    try:
        got = recover(fs, segment_size=SEGMENT_SIZE)
    except CorruptLogError:
        assert mode is CrashMode.FLIP, f"seed {seed}: refused after a {mode} crash"
        got = recover(fs, segment_size=SEGMENT_SIZE, truncate_corrupt=True)
    recovered = list(got.replay())
    kept = got.log.last_index
    context = f"seed {seed}, {mode}: recovered through {kept}, model {model}"
    assert got.log.first_index == model.base + 1, context
    assert recovered == model.entries[model.base : kept], context
    assert kept >= model.synced, context
    if mode is CrashMode.DROP_UNSYNCED:
        assert kept <= max(model.written_at_last_fsync, model.base), context
    del model.entries[kept:]
    model.synced = model.written_at_last_fsync = kept
    return got.log


def run_schedule(seed: int) -> None:
    rng = random.Random(seed)
    fs = SimFileSystem(random.Random(seed * 7919 + 1))
    wal = recover(fs, segment_size=SEGMENT_SIZE).log
    model = Model()
    for _ in range(STEPS):
        if rng.random() < 0.08:
            wal = recover_after_crash(seed, fs, rng.choice(list(CrashMode)), model)
            continue
        fsyncs = fs.fsync_count + fs.fsync_dir_count
        step(rng, fs, wal, model)
        if fs.fsync_count + fs.fsync_dir_count != fsyncs:
            model.written_at_last_fsync = model.last
    recover_after_crash(seed, fs, rng.choice(list(CrashMode)), model)


def seeds(config: pytest.Config) -> list[int]:
    one = config.getoption("--sim-seed")
    if one is not None:
        return [int(one)]
    count = config.getoption("--sim-seeds")
    return list(range(DEFAULT_SEEDS if count is None else int(count)))


def test_recovery_after_random_crashes_keeps_exactly_a_synced_prefix(
    pytestconfig: pytest.Config,
) -> None:
    for seed in seeds(pytestconfig):
        run_schedule(seed)


@pytest.mark.parametrize("mode", list(CrashMode))
def test_each_crash_mode_right_after_a_sync(mode: CrashMode) -> None:
    for seed in range(30):
        rng = random.Random(seed)
        fs = SimFileSystem(random.Random(seed))
        wal = recover(fs, segment_size=SEGMENT_SIZE).log
        model = Model()
        synced = new_entries(rng, 1, 25, 1)
        wal.append(synced)
        wal.sync()
        model.entries = list(synced)
        model.synced = model.written_at_last_fsync = 25
        fsyncs = fs.fsync_count
        pending = new_entries(rng, 26, 10, 2)
        wal.append(pending)
        model.entries += pending
        if fs.fsync_count != fsyncs:  # a segment rotated: the sealed one was fsynced
            model.written_at_last_fsync = 35
        recover_after_crash(seed, fs, mode, model)
