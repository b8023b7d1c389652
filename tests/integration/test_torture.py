"""Crash torture: SIGKILL a server at random moments while clients write; restart it on the
same directory and check that no acknowledged write was lost.

Each writer thread owns its keys and one connection, and pipelines a window of SETs (each
key's values carry an increasing sequence number) and APPENDs. A connection's commands are
executed and logged in order, so after a crash the writer's keys must look exactly as if
some prefix of its commands had run: at least every acknowledged one, perhaps a few more
(a write can land without its reply getting out). Small automatic-snapshot thresholds make
snapshots and log compaction happen between (and during) crashes too.

The kill schedule comes from one seeded random.Random; the seed is printed, and
TANDEMKV_TEST_TORTURE_SEED=N replays the same schedule (timing still varies).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.resp import ConnectionClosed, encode_command
from helpers.servers import ServerGroup, ServerProcess

pytestmark = pytest.mark.tandemkv_only("crash recovery of tandemkv's data directory")

SEED_ENV = "TANDEMKV_TEST_TORTURE_SEED"
WRITERS = 2
KEYS_PER_WRITER = 16
WINDOW = 8
APPENDS_PER_KEY = 200
SNAPSHOT_LOG_BYTES = "40000"

Op = tuple[str, bytes, bytes]  # ("set" | "append", key, argument)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


# ------------------------------------------------------------------ the model


def apply(state: dict[bytes, bytes], op: Op) -> None:
    kind, key, arg = op
    state[key] = arg if kind == "set" else state.get(key, b"") + arg


def matching_prefix(
    base: dict[bytes, bytes], ops: list[Op], acked: int, observed: dict[bytes, bytes]
) -> int | None:
    """The L in [acked, len(ops)] such that base + ops[:L] == observed, if there is one."""
    state = dict(base)
    for op in ops[:acked]:
        apply(state, op)
    for length in range(acked, len(ops) + 1):
        if state == observed:
            return length
        if length < len(ops):
            apply(state, ops[length])
    return None


def test_the_checker_allows_unacknowledged_extras_and_refuses_anything_else() -> None:
    ops: list[Op] = [
        ("set", b"a", b"1"),
        ("set", b"b", b"1"),
        ("append", b"c", b"x"),
        ("set", b"a", b"2"),
    ]
    assert matching_prefix({}, ops, 2, {b"a": b"1", b"b": b"1"}) == 2
    assert matching_prefix({}, ops, 2, {b"a": b"1", b"b": b"1", b"c": b"x"}) == 3
    assert matching_prefix({}, ops, 2, {b"a": b"2", b"b": b"1", b"c": b"x"}) == 4
    assert matching_prefix({}, ops, 2, {b"a": b"1"}) is None, "an acknowledged write lost"
    assert matching_prefix({}, ops, 2, {b"a": b"2", b"b": b"1"}) is None, "not a prefix"
    assert matching_prefix({b"c": b"w"}, ops, 3, {b"a": b"1", b"b": b"1", b"c": b"wx"}) == 3


@dataclass
class Writer:
    """One connection's history since the last verified restart."""

    number: int
    base: dict[bytes, bytes] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    acked: int = 0
    total_acked: int = 0
    next_seq: int = 0
    failure: str | None = None

    def keys(self) -> list[bytes]:
        return sorted(set(self.base) | {key for _, key, _ in self.ops})

    def next_op(self, rng: random.Random) -> Op:
        self.next_seq += 1
        seq = self.next_seq
        if rng.random() < 0.25:
            key = f"w{self.number}:log:{seq // APPENDS_PER_KEY}".encode()
            return ("append", key, f"{seq},".encode())
        key = f"w{self.number}:k{rng.randrange(KEYS_PER_WRITER)}".encode()
        return ("set", key, f"{seq}:".encode().ljust(60, b"."))

    def run(self, server: ServerProcess, rng: random.Random) -> None:
        """Write until the connection dies; count a command acknowledged on its reply."""
        state = dict(self.base)
        try:
            with server.raw(timeout=30) as conn:
                while True:
                    window = [self.next_op(rng) for _ in range(WINDOW)]
                    self.ops.extend(window)
                    conn.send(
                        b"".join(
                            encode_command("SET" if kind == "set" else "APPEND", key, arg)
                            for kind, key, arg in window
                        )
                    )
                    for op in window:
                        reply = conn.read_reply()
                        apply(state, op)
                        expected = "OK" if op[0] == "set" else len(state[op[1]])
                        if reply != expected:
                            self.failure = f"{op!r} answered {reply!r}, expected {expected!r}"
                            return
                        self.acked += 1
        except (OSError, ConnectionClosed):
            return  # the server was killed

    def settle(self, observed: dict[bytes, bytes]) -> str | None:
        """Check what survived the crash; on success it becomes the next cycle's base."""
        length = matching_prefix(self.base, self.ops, self.acked, observed)
        if length is None:
            return self._describe_loss(observed)
        self.total_acked += self.acked
        self.base, self.ops, self.acked = observed, [], 0
        return None

    def _describe_loss(self, observed: dict[bytes, bytes]) -> str:
        """Name the keys whose value no allowed prefix gives them."""
        state = dict(self.base)
        for op in self.ops[: self.acked]:
            apply(state, op)
        allowed = {key: {state.get(key)} for key in set(state) | set(observed)}
        for op in self.ops[self.acked :]:
            apply(state, op)
            allowed.setdefault(op[1], {None}).add(state[op[1]])
        wrong = [
            f"{key!r} is {observed.get(key)!r:.40}, allowed: "
            f"{sorted(repr(v)[:40] for v in allowed[key])}"
            for key in sorted(allowed)
            if observed.get(key) not in allowed[key]
        ]
        head = (
            f"writer {self.number}: no prefix of its {len(self.ops)} commands with at "
            f"least the {self.acked} acknowledged ones explains the data"
        )
        if not wrong:
            return f"{head}: each key alone is plausible, but not all at one point in time"
        return f"{head}; {len(wrong)} keys hold a value no such prefix gives: {wrong[:3]}"


# ------------------------------------------------------------------ the crash loop


def start(servers: ServerGroup, data_dir: Path, policy: str) -> ServerProcess:
    """Start on `data_dir` at once: a background-save child of the killed server dies with
    it, so the directory's lock is free (test_durability checks this directly)."""
    env = {"TANDEMKV_SNAPSHOT_LOG_BYTES": SNAPSHOT_LOG_BYTES}
    return servers.start(data_dir, "--fsync", policy, env=env)


def observe(server: ServerProcess, writers: list[Writer]) -> list[dict[bytes, bytes]]:
    with server.raw(timeout=30) as conn:
        seen = []
        for writer in writers:
            keys = writer.keys()
            values = conn.call("MGET", *keys) if keys else []
            seen.append({k: v for k, v in zip(keys, values, strict=True) if v is not None})
        dbsize = conn.call("DBSIZE")
    assert dbsize == sum(len(s) for s in seen), "keys nobody wrote appeared"
    return seen


def torture(
    servers: ServerGroup, data_dir: Path, policy: str, cycles: int, budget_seconds: float
) -> None:
    seed = int(os.environ.get(SEED_ENV) or random.SystemRandom().randrange(2**32))
    print(
        f"torture: seed={seed} policy={policy} cycles={cycles} "
        f"(replay the schedule with {SEED_ENV}={seed})",
        flush=True,
    )
    rng = random.Random(seed)
    writers = [Writer(n) for n in range(WRITERS)]
    server = start(servers, data_dir, policy)
    deadline = time.monotonic() + budget_seconds
    done = 0
    while done < cycles and (done < 2 or time.monotonic() < deadline):
        rngs = [random.Random(rng.getrandbits(64)) for _ in writers]
        threads = [
            threading.Thread(target=w.run, args=(server, r), daemon=True)
            for w, r in zip(writers, rngs, strict=True)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.05, 0.6))
        server.stop(signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads), f"seed={seed}: a writer hung"
        for writer in writers:
            assert writer.failure is None, f"seed={seed} cycle={done}: {writer.failure}"

        server = start(servers, data_dir, policy)
        for writer, observed in zip(writers, observe(server, writers), strict=True):
            problem = writer.settle(observed)
            assert problem is None, (
                f"seed={seed} cycle={done} policy={policy}: {problem}\n{server.describe()}"
            )
        done += 1
    with server.raw() as conn:
        info = conn.call("INFO", "persistence")
    assert b"\r\nsnapshot_index:0\r\n" not in info, "no snapshot was taken: coverage is lost"
    acked = sum(w.total_acked for w in writers)
    print(f"torture: seed={seed} {done} kill cycles, {acked} acknowledged writes, none lost")
    assert acked > 0, "the writers never got a write acknowledged"


@pytest.mark.timeout(120)
def test_sigkill_loses_no_acknowledged_write_with_fsync_always(
    servers: ServerGroup, tmp_path: Path
) -> None:
    torture(servers, tmp_path / "db", "always", cycles=8, budget_seconds=30)


@pytest.mark.timeout(90)
def test_a_process_crash_loses_no_acknowledged_write_with_fsync_everysec(
    servers: ServerGroup, tmp_path: Path
) -> None:
    """everysec fsyncs lazily, but a reply goes out only once its write reached the OS,
    which keeps it through a crash of the process (not of the machine)."""
    torture(servers, tmp_path / "db", "everysec", cycles=4, budget_seconds=15)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_a_hundred_kill_cycles(
    servers: ServerGroup, tmp_path: Path, policy: str, request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a soak run: select it with -m slow")
    torture(servers, tmp_path / "db", policy, cycles=100, budget_seconds=600)
