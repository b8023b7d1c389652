"""Turning one seed into a whole simulation configuration.

A profile fixes what a family of runs explores; the seed picks everything else (group
shape, fault rates, timings, read mode) with a random.Random seeded from the seed and
profile name only, so a seed replays exactly whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from tandemkv.replication import AckLevel, ReadMode


@dataclass(frozen=True, slots=True)
class SimConfig:
    seed: int
    profile: str = "default"
    voters: int = 3
    witnesses: int = 0  # extra voters that store no values
    learners: int = 0
    ack_level: AckLevel = AckLevel.MAJORITY
    read_mode: ReadMode = ReadMode.INDEX
    pre_vote: bool = True
    check_quorum: bool = True
    election_ticks: int = 10
    heartbeat_ticks: int = 2
    tick_ms: int = 10
    clock_skew_ms: int = 0  # each node's tick period is tick_ms + randint(0, skew)
    eager_commit: bool = True  # RaftConfig.eager_commit (the cluster node runs with False)
    delay_min: int = 1  # ms
    delay_max: int = 12
    drop_rate: float = 0.02
    dup_rate: float = 0.01
    chaos_ticks: int = 200
    calm_ticks: int = 300  # the bound on convergence after faults stop
    leader_bound_ticks: int = 150  # a leader must emerge this soon after faults stop
    fault_every: tuple[int, int] = (8, 30)  # ticks between fault actions
    crashes: bool = True
    partitions: bool = True
    membership: bool = True
    transfers: bool = True
    clients: int = 3
    keys: int = 3
    think_ms: tuple[int, int] = (1, 25)
    client_timeout_ms: int = 400
    compact_every: int = 24  # entries applied beyond the snapshot before compacting
    max_nodes: int = 6  # node ids ever created, including replacements
    snapshot_chunk_bytes: int = 64
    max_msg_bytes: int = 512  # small values split appends, widening commit-rule windows
    max_inflight: int = 4
    bug: str = ""  # "send_before_sync": a shell that sends before persisting (tests only)


PROFILES = (
    "default",
    "small",
    "witness",
    "lease",
    "stress",
    "leader_ack",
    "majority_ack",
    "send_before_sync",
)


def make_config(seed: int, profile: str = "default") -> SimConfig:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    rng = random.Random(f"tandemkv-scenario-{profile}-{seed}")
    cfg = _specialise(_random_config(seed, profile, rng), profile, rng)
    # Drawn from its own generator so adding it left every older seed's scenario as it was.
    lazy = random.Random(f"tandemkv-scenario-lazy-commit-{profile}-{seed}").random() < 0.5
    return replace(cfg, eager_commit=not lazy)


def _random_config(seed: int, profile: str, rng: random.Random) -> SimConfig:
    read_mode = ReadMode.LEASE if rng.random() < 0.25 else ReadMode.INDEX
    return SimConfig(
        seed=seed,
        profile=profile,
        voters=rng.choice((1, 2, 3, 3, 3, 4, 5, 5)),
        learners=rng.choice((0, 0, 0, 1)),
        read_mode=read_mode,
        pre_vote=rng.random() < 0.85,
        check_quorum=read_mode is ReadMode.LEASE or rng.random() < 0.85,
        delay_min=rng.randint(1, 3),
        delay_max=rng.randint(4, 25),
        drop_rate=rng.choice((0.0, 0.01, 0.03, 0.08)),
        dup_rate=rng.choice((0.0, 0.01, 0.05)),
        chaos_ticks=rng.randint(120, 220),
        crashes=rng.random() < 0.8,
        partitions=rng.random() < 0.85,
        membership=rng.random() < 0.5,
        transfers=rng.random() < 0.5,
        clients=rng.randint(2, 4),
        keys=rng.randint(1, 4),
        compact_every=rng.choice((8, 24, 64)),
        max_msg_bytes=rng.choice((1, 64, 512, 4096)),
        max_inflight=rng.choice((1, 2, 4, 16)),
        snapshot_chunk_bytes=rng.choice((16, 64, 1024)),
        clock_skew_ms=rng.choice((0, 0, 1)),  # up to 10%: inside the lease margin
    )


def _specialise(cfg: SimConfig, profile: str, rng: random.Random) -> SimConfig:
    if profile == "small":
        return replace(cfg, voters=rng.choice((1, 2, 3)), learners=0, membership=False)
    if profile == "witness":
        return replace(cfg, voters=2, witnesses=1, learners=rng.choice((0, 1)))
    if profile == "lease":
        return replace(cfg, read_mode=ReadMode.LEASE, check_quorum=True, voters=rng.choice((3, 5)))
    if profile in ("leader_ack", "majority_ack"):
        level = AckLevel.LEADER if profile == "leader_ack" else AckLevel.MAJORITY
        # The shape where async acknowledgement loses writes: a leader cut off from its
        # followers keeps acknowledging until check-quorum or a newer leader stops it.
        return replace(
            cfg,
            ack_level=level,
            voters=3,
            learners=0,
            membership=False,
            partitions=True,
            drop_rate=0.0,
            dup_rate=0.0,
            check_quorum=True,
            clients=3,
            keys=1,
        )
    if profile == "stress":
        return replace(
            cfg,
            voters=rng.choice((3, 5)),
            drop_rate=0.1,
            dup_rate=0.05,
            fault_every=(3, 12),
            crashes=True,
            partitions=True,
            membership=True,
            transfers=True,
            clients=5,
            keys=2,
            compact_every=8,
            max_msg_bytes=rng.choice((1, 64)),
        )
    if profile == "send_before_sync":
        return replace(cfg, bug=profile, crashes=True, voters=3, membership=False)
    return cfg
