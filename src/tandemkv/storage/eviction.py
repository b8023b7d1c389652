"""Which key to evict when memory is over `maxmemory`: Redis's sampled approximation.

Pure: the time and the random source come from the caller (the engine's `now_ms` and its
seeded `random`). Each pick samples `samples` keys from the candidates (every key, or the
keys with a deadline for the volatile-* policies), scores them, and merges them into a
pool of the best candidates seen so far (Redis's eviction pool), from which the best key
still present is evicted. The scores, higher evicts first:

    *-lru     idle time, from the keyspace's access clock
    *-lfu     255 minus the decayed logarithmic use counter
    volatile-ttl  the sooner the deadline the higher
    *-random  none: the first sampled key goes

Sampling needs random access to the keys, which a dict does not give, so the sampler keeps
a list of them taken at C speed and draws from it, dropping keys it finds gone. It takes
a new list once the keyspace has changed by a quarter of its size since the last one; in
between, keys added after the list was taken cannot be drawn (for LRU, LFU and TTL such
new keys are rarely the best choice anyway). The list is the only memory eviction adds:
a pointer per key, counted in `overhead_bytes`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from typing import Protocol

POLICIES = (
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
)
POOL_SIZE = 16

# Redis's LFU: an 8-bit logarithmic counter that new keys start at 5, raised with
# probability 1 / ((counter - 5) * log_factor + 1) per access, and lowered by one per
# `decay_minutes` without access. Packed with the minute it was last decayed:
# (minute << 8) | counter.
LFU_INIT = 5
LFU_LOG_FACTOR = 10
LFU_DECAY_MINUTES = 1


def lfu_touched(stamp: int, now_ms: int, random: Callable[[], float] | None) -> int:
    """The packed LFU record after decaying `stamp` to now and, given a random source,
    counting one access."""
    minute = now_ms // 60_000
    counter = stamp & 0xFF
    periods = (minute - (stamp >> 8)) // LFU_DECAY_MINUTES
    if periods > 0:
        counter = max(0, counter - periods)
    if random is not None and counter < 255:
        base = max(0, counter - LFU_INIT)
        if random() < 1.0 / (base * LFU_LOG_FACTOR + 1):
            counter += 1
    return (minute << 8) | counter


class RandomSource(Protocol):
    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int: ...


class Candidates(Protocol):
    """The keyspace as eviction sees it (storage/keyspace.py)."""

    def candidates(self, volatile: bool) -> Mapping[bytes, object]: ...

    def idle_ms(self, key: bytes, now_ms: int) -> int: ...

    def lfu_counter(self, key: bytes, now_ms: int) -> int: ...

    def expire_at(self, key: bytes) -> int | None: ...


class KeySampler:
    """Draws keys at random from a dict's keys through a list of them taken now and then."""

    __slots__ = ("_built", "_changes", "_keys")

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._built = 0  # how many keys the source held when the list was taken
        self._changes = 0  # keys removed through `removed` since then

    def __len__(self) -> int:
        return len(self._keys)

    def sample(self, source: Mapping[bytes, object], count: int, rng: RandomSource) -> list[bytes]:
        """Up to `count` keys present in `source` (fewer only if it is nearly empty)."""
        if self._stale(len(source)):
            self._rebuild(source)
        found = self._draw(source, count, rng)
        if not found and source:
            # Every listed key was gone (a small keyspace replaced by new keys drifts too
            # little to look stale): without this, allkeys-lru answered OOM with keys left.
            self._rebuild(source)
            found = self._draw(source, count, rng)
        return found

    def _rebuild(self, source: Mapping[bytes, object]) -> None:
        self._keys = list(source)
        self._built, self._changes = len(self._keys), 0

    def _draw(self, source: Mapping[bytes, object], count: int, rng: RandomSource) -> list[bytes]:
        keys = self._keys
        found: list[bytes] = []
        tries = 0
        while keys and len(found) < count and tries < 4 * count:
            tries += 1
            i = rng.randrange(len(keys))
            key = keys[i]
            if key in source:
                found.append(key)
            else:  # gone since the list was taken: drop it (swap with the last)
                keys[i] = keys[-1]
                keys.pop()
        return found

    def removed(self) -> None:
        """Note a key evicted from the source."""
        self._changes += 1

    def clear(self) -> None:
        self._keys = []
        self._built = self._changes = 0

    def _stale(self, size: int) -> bool:
        drift = abs(size - self._built) + self._changes
        return not self._keys or drift > max(64, self._built // 4)


class Evictor:
    """Chooses keys to evict under a policy; keeps the pool and the samplers between calls."""

    __slots__ = ("_all", "_policy", "_pool", "_volatile")

    def __init__(self) -> None:
        self._all = KeySampler()
        self._volatile = KeySampler()
        self._pool: list[tuple[float, bytes]] = []  # ascending score: the best is last
        self._policy = ""

    def overhead_bytes(self) -> int:
        """The samplers' key lists (a pointer a key)."""
        return 8 * (len(self._all) + len(self._volatile))

    def reset(self) -> None:
        """Forget everything (the keyspace was replaced or flushed)."""
        self._all.clear()
        self._volatile.clear()
        self._pool.clear()

    def any_key(self, keyspace: Candidates, rng: RandomSource) -> bytes | None:
        """A key drawn at random (RANDOMKEY), from the same list of keys as allkeys-*
        eviction: taking a random place in a dict's keys is a walk of up to all of them."""
        keys = self._all.sample(keyspace.candidates(False), 1, rng)
        return keys[0] if keys else None

    def pick(
        self,
        keyspace: Candidates,
        policy: str,
        samples: int,
        now_ms: int,
        rng: RandomSource,
    ) -> bytes | None:
        """The key to evict next under `policy`, or None if it has no candidate left."""
        if policy != self._policy:
            self._pool.clear()  # scores of another policy, or keys of another set
            self._policy = policy
        volatile = policy.startswith("volatile-")
        source = keyspace.candidates(volatile)
        sampler = self._volatile if volatile else self._all
        for _ in range(4):  # a few rounds in case the pool held only keys now gone
            keys = sampler.sample(source, samples, rng)
            if not keys:
                return None
            if policy.endswith("-random"):
                sampler.removed()
                return keys[0]
            self._merge(keyspace, policy, keys, now_ms)
            while self._pool:
                _, key = self._pool.pop()
                if key in source:
                    sampler.removed()
                    return key
        return None

    def _merge(self, keyspace: Candidates, policy: str, keys: list[bytes], now_ms: int) -> None:
        pool = self._pool
        pooled = {key for _, key in pool}
        for key in keys:
            if key in pooled:
                continue
            score = _score(keyspace, policy, key, now_ms)
            if len(pool) >= POOL_SIZE:
                if score <= pool[0][0]:
                    continue
                pool.pop(0)
            bisect.insort(pool, (score, key))
            pooled.add(key)


def _score(keyspace: Candidates, policy: str, key: bytes, now_ms: int) -> float:
    if policy.endswith("-lru"):
        return float(keyspace.idle_ms(key, now_ms))
    if policy.endswith("-lfu"):
        return float(255 - keyspace.lfu_counter(key, now_ms))
    deadline = keyspace.expire_at(key)  # volatile-ttl: sooner goes first
    return -float(deadline) if deadline is not None else float("-inf")
