"""maxmemory on the engine: the settings, the memory estimate, noeviction's OOM, each
eviction policy on a crafted keyspace, and evictions logged as deletes that replay.

Hypothesis checks the running estimate against a recount of every value after random
writes of every type, and that the all-keys policies keep memory at the limit while the
volatile ones never touch a key without a deadline."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tandemkv.commands.engine import EVICT_BATCH
from tandemkv.commands.settings import Settings
from tandemkv.commands.table import lookup
from tandemkv.protocol.types import OK, QUEUED
from tandemkv.storage import memory as mem
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.eviction import LFU_INIT, Evictor, KeySampler, lfu_touched
from tandemkv.storage.keyspace import ACCESS_LFU, ACCESS_LRU, ACCESS_OFF, Keyspace
from tandemkv.storage.mutation import Delete, Mutation
from tandemkv.storage.store import keyspace_items, load_items

from .harness import EXECABORT, Client, World, contents, err, replay

OOM = err("OOM command not allowed when used memory > 'maxmemory'.")
MINUTE = 60_000


def recount(keyspace: Keyspace) -> int:
    """The estimate's running part, recounted from scratch."""
    return sum(mem.blob(len(k)) + mem.value_cost(v) for k, v, _ in keyspace.items())


def assert_recovers(world: World) -> list[Mutation]:
    logged = [decode_mutation(encode_mutation(m)) for m in world.mutations()]
    assert contents(replay(logged)) == world.state()
    restored = Keyspace()
    load_items(restored, keyspace_items(world.engine.keyspace))
    assert contents(restored) == world.state()
    return logged


def limit_to(c: Client, world: World, spare: int) -> None:
    """Set maxmemory to what the keyspace holds now plus `spare` bytes."""
    assert c("CONFIG", "SET", "maxmemory", world.engine.used_memory() + spare) == OK


def evicted(logged: list[Mutation]) -> set[bytes]:
    return {key for m in logged if type(m) is Delete for key in m.keys}


# ----------------------------------------------------------------- settings


def test_config_set_takes_redis_units_policies_and_samples(c: Client) -> None:
    assert c("CONFIG", "SET", "maxmemory", "100mb", "maxmemory-policy", "ALLKEYS-LRU") == OK
    assert c("CONFIG", "SET", "maxmemory-samples", "10") == OK
    assert c("CONFIG", "GET", "maxmemory*") == {
        b"maxmemory": b"104857600",
        b"maxmemory-policy": b"allkeys-lru",
        b"maxmemory-samples": b"10",
    }
    assert c("CONFIG", "SET", "maxmemory", "2gb") == OK
    assert c("CONFIG", "GET", "maxmemory") == {b"maxmemory": str(2 * 1024**3).encode()}
    assert c("CONFIG", "SET", "maxmemory", "1k") == OK
    assert c("CONFIG", "GET", "maxmemory") == {b"maxmemory": b"1000"}


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("maxmemory", "abc", "argument must be a memory value"),
        ("maxmemory", "-1", "argument must be a memory value"),
        ("maxmemory", "1.5mb", "argument must be a memory value"),
        (
            "maxmemory-policy",
            "bogus",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
            "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
            "noeviction",
        ),
        ("maxmemory-samples", "0", "argument must be between 1 and 2147483647 inclusive"),
    ],
)
def test_config_set_refuses_bad_values_with_redis_texts(
    c: Client, name: str, value: str, reason: str
) -> None:
    assert c("CONFIG", "SET", name, value) == err(
        f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    )
    assert c("CONFIG", "GET", "maxmemory") == {b"maxmemory": b"0"}


def test_the_denyoom_flags_are_redis_s() -> None:
    for name in (b"set", b"append", b"incr", b"lpush", b"sadd", b"zadd", b"hset", b"xadd"):
        spec = lookup(name)
        assert spec is not None and "denyoom" in spec.flags, name
    for name in (b"get", b"del", b"lpop", b"expire", b"srem", b"flushall", b"config"):
        spec = lookup(name)
        assert spec is not None and "denyoom" not in spec.flags, name


# ----------------------------------------------------------------- estimate


def test_the_estimate_follows_writes_and_returns_to_zero(world: World, c: Client) -> None:
    ks = world.engine.keyspace
    assert ks.used_memory() == 0
    c("SET", "k", "x" * 1000)
    one = ks.used_memory()
    assert 1000 < one < 1200
    c("SET", "k", "x" * 10)
    assert ks.used_memory() < one - 900
    c("HSET", "h", "f", "v", "g", "w")
    c("RPUSH", "l", "a", "b", "c")
    c("SADD", "s", "a", "b")
    c("ZADD", "z", "1", "a", "2", "b")
    c("XADD", "x", "1-1", "f", "v")
    c("PEXPIRE", "k", "100000")
    assert ks._used == recount(ks)
    assert ks.used_memory() > ks._used + 5 * mem.KEY_SLOT + mem.EXPIRY_ENTRY
    c("DEL", "k", "h", "l", "s", "z", "x")
    assert ks._used == 0 and ks._sizes == {}


def test_a_snapshot_load_estimates_close_to_a_recount(world: World, c: Client) -> None:
    c("SET", "s", "v" * 100)
    c("HSET", "h", *[f"f{i}" for i in range(3000) for _ in range(2)])
    c("RPUSH", "l", *[f"item-{i}" for i in range(3000)])
    c("SADD", "set", *[f"m{i}" for i in range(3000)])
    c("ZADD", "z", *[str(x) for i in range(3000) for x in (i, f"m{i}")])
    c("XADD", "x", "1-1", "f", "v")
    restored = Keyspace()
    load_items(restored, keyspace_items(world.engine.keyspace))
    exact = recount(restored)
    assert abs(restored._used - exact) < exact * 0.1


def test_rename_copy_and_overwrites_keep_the_estimate_exact(world: World, c: Client) -> None:
    ks = world.engine.keyspace
    c("RPUSH", "l", "a", "bb", "ccc")
    c("SET", "s", "value")
    c("RENAME", "l", "s")  # a list replaces a string
    c("COPY", "s", "t")
    c("SET", "t", "again")  # a string replaces a list
    c("APPEND", "t", "more")
    c("SETRANGE", "u", "3", "xyz")
    c("LSET", "s", "0", "longer-item")
    c("LINSERT", "s", "BEFORE", "bb", "new")
    c("LREM", "s", "0", "bb")
    c("LTRIM", "s", "1", "1")
    c("HSET", "h", "f", "1")
    c("HINCRBY", "h", "f", "100000")
    c("ZADD", "z", "1", "a")
    c("ZINCRBY", "z", "2", "a")
    c("XADD", "x", "1-1", "a", "b")
    c("XADD", "x", "2-1", "c", "d")
    c("XDEL", "x", "1-1")
    c("XTRIM", "x", "MAXLEN", "0")
    assert ks._used == recount(ks)
    c("FLUSHALL")
    assert ks.used_memory() == 0


# ----------------------------------------------------------------- noeviction


def test_noeviction_refuses_denyoom_writes_and_changes_nothing(world: World, c: Client) -> None:
    c("SET", "a", "1")
    c("RPUSH", "l", "x", "y")
    world.mutations()
    limit_to(c, world, -1)
    before = world.state()
    for args in (("SET", "b", "2"), ("APPEND", "a", "x"), ("RPUSH", "l", "z"), ("INCR", "a")):
        assert c(*args) == OOM
    assert world.state() == before
    assert world.mutations() == []
    # Reads, deletes and commands that only shrink memory still run.
    assert c("GET", "a") == b"1"
    assert c("LPOP", "l") == b"x"
    assert c("EXPIRE", "a", "100") == 1
    assert c("DEL", "a") == 1
    assert world.engine.stats.evicted_keys == 0


def test_the_cron_never_evicts_under_noeviction(world: World, c: Client) -> None:
    """The active-expiry step goes on evicting past the limit: under noeviction it evicted
    keys too (the integration test saw an OOM'd write succeed a moment later)."""
    for i in range(20):
        c("SET", f"k{i}", "v" * 50)
    world.mutations()
    limit_to(c, world, -1)
    before = world.state()
    for _ in range(5):
        world.advance(100)
        world.engine.active_expire()
    assert world.state() == before
    assert world.mutations() == []
    assert world.engine.stats.evicted_keys == 0
    assert c("SET", "more", "x") == OOM


def test_oom_in_multi_refuses_every_queued_command_and_exec_aborts(world: World, c: Client) -> None:
    c("SET", "a", "1")
    limit_to(c, world, -1)
    assert c("MULTI") == OK
    assert c("GET", "a") == OOM  # Redis refuses any command queued while over the limit
    assert c("EXEC") == EXECABORT


def test_exec_holding_a_denyoom_command_is_refused_past_the_limit(world: World, c: Client) -> None:
    other = world.client()
    c("SET", "a", "1")
    assert c("MULTI") == OK
    assert c("SET", "b", "2") == QUEUED
    limit_to(other, world, -1)
    assert c("EXEC") == err(
        "EXECABORT Transaction discarded because of: "
        "OOM command not allowed when used memory > 'maxmemory'."
    )
    assert c("MULTI") == OK
    limit_to(other, world, 1000)
    assert c("GET", "a") == QUEUED
    limit_to(other, world, -1)
    assert c("EXEC") == [b"1"]  # reads only: EXEC runs


def test_a_backup_never_evicts_it_refuses(world: World, c: Client) -> None:
    c("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    c("SET", "a", "1")
    world.engine.keyspace.owns_expiry = False
    limit_to(c, world, -1)
    assert c("SET", "b", "2") == OOM
    assert c("GET", "a") == b"1"


# ----------------------------------------------------------------- policies


def crafted(world: World, c: Client, policy: str) -> None:
    """Ten keys k0..k9 written a second apart; k5..k9 have deadlines, the later keys the
    sooner ones; a limit of 1 GB (so the access clock runs) and samples enough to see all."""
    assert c("CONFIG", "SET", "maxmemory-policy", policy, "maxmemory", "1gb") == OK
    assert c("CONFIG", "SET", "maxmemory-samples", "64") == OK
    for i in range(10):
        world.advance(1000)
        c("SET", f"k{i}", "v" * 100)
        if i >= 5:
            c("PEXPIRE", f"k{i}", 1_000_000 - i * 10_000)


def key_cost(world: World, key: bytes) -> int:
    # Not through `get`, which would count as an access.
    (value, deadline) = next((v, d) for k, v, d in world.engine.keyspace.items() if k == key)
    assert type(value) is bytes
    timed = deadline is not None
    return (
        mem.blob(len(key))
        + mem.blob(len(value))
        + mem.KEY_SLOT
        + (mem.EXPIRY_ENTRY + mem.HEAP_ENTRY if timed else 0)
    )


def evict_some(world: World, c: Client, expected: set[bytes]) -> set[bytes]:
    """Lower the limit so that the `expected` keys' worth must go (plus a little for the
    sampler's list), write one; what was evicted."""
    freed = sum(key_cost(world, key) for key in expected)
    limit_to(c, world, -freed + 2 * 8 * 10)
    assert c("SET", "new", "v" * 100) == OK
    logged = assert_recovers(world)
    return evicted(logged)


def test_allkeys_lru_evicts_the_least_recently_used(world: World, c: Client) -> None:
    crafted(world, c, "allkeys-lru")
    world.advance(1000)
    for key in ("k0", "k1", "k2"):
        c("GET", key)
    assert evict_some(world, c, {b"k3", b"k4", b"k5"}) == {b"k3", b"k4", b"k5"}
    assert world.engine.stats.evicted_keys == 3


def test_volatile_lru_evicts_only_keys_with_a_deadline(world: World, c: Client) -> None:
    crafted(world, c, "volatile-lru")
    world.advance(1000)
    c("GET", "k5")
    assert evict_some(world, c, {b"k6", b"k7"}) == {b"k6", b"k7"}


def test_volatile_ttl_evicts_the_soonest_deadline(world: World, c: Client) -> None:
    crafted(world, c, "volatile-ttl")
    assert evict_some(world, c, {b"k9", b"k8"}) == {b"k9", b"k8"}


def test_allkeys_lfu_keeps_the_frequently_used(world: World, c: Client) -> None:
    crafted(world, c, "allkeys-lfu")
    for _ in range(20):
        for i in range(10):
            if i not in (2, 7):
                c("GET", f"k{i}")
    assert evict_some(world, c, {b"k2", b"k7"}) == {b"k2", b"k7"}


def test_volatile_lfu_evicts_the_least_used_with_a_deadline(world: World, c: Client) -> None:
    crafted(world, c, "volatile-lfu")
    for _ in range(20):
        for i in range(10):
            if i != 8:
                c("GET", f"k{i}")
    assert evict_some(world, c, {b"k8"}) == {b"k8"}


def test_volatile_random_spares_keys_without_deadline_then_refuses(world: World, c: Client) -> None:
    crafted(world, c, "volatile-random")
    limit_to(c, world, -world.engine.used_memory() + 1)
    assert c("SET", "new", "v" * 100) == OOM  # every volatile key went, still over
    gone = evicted(assert_recovers(world))
    assert gone == {b"k5", b"k6", b"k7", b"k8", b"k9"}
    assert c("GET", "k0") == b"v" * 100


def test_allkeys_random_evicts_until_under_the_limit(world: World, c: Client) -> None:
    crafted(world, c, "allkeys-random")
    gone = evict_some(world, c, {b"k0", b"k1", b"k2", b"k3"})
    assert len(gone) >= 3  # keys with deadlines cost more: three may do
    assert world.engine.used_memory() <= world.engine.settings.maxmemory + 300


def test_eviction_goes_on_in_the_cron_after_a_batch(world: World, c: Client) -> None:
    e = world.engine
    c("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    for i in range(3 * EVICT_BATCH):
        c("SET", f"key:{i}", "v")
    c("CONFIG", "SET", "maxmemory", "1")
    assert c("SET", "x", "y") == OK  # a batch went and more remain: it runs
    assert e.stats.evicted_keys == EVICT_BATCH
    while e.active_expire() == 0 and len(e.keyspace):
        pass
    assert len(e.keyspace) == 0
    assert e.stats.evicted_keys == 3 * EVICT_BATCH + 1
    assert_recovers(world)


def test_the_access_clock_runs_only_under_a_limit_with_lru_or_lfu(world: World, c: Client) -> None:
    ks = world.engine.keyspace
    c("SET", "a", "1")
    assert ks.access_mode == ACCESS_OFF
    c("CONFIG", "SET", "maxmemory", "1gb", "maxmemory-policy", "allkeys-lfu")
    c("GET", "a")
    assert ks.access_mode == ACCESS_LFU
    assert ks.lfu_counter(b"a", world.now) == LFU_INIT
    c("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    c("GET", "a")
    assert ks.access_mode == ACCESS_LRU and ks.idle_ms(b"a", world.now) == 0
    c("CONFIG", "SET", "maxmemory", "0")
    world.engine.active_expire()
    assert ks.access_mode == ACCESS_OFF


def test_lfu_counter_grows_logarithmically_and_decays_by_the_minute() -> None:
    always = 0.0
    stamp = (0 << 8) | LFU_INIT
    stamp = lfu_touched(stamp, 0, lambda: always)
    assert stamp & 0xFF == LFU_INIT + 1
    # At counter 6 an access counts with probability 1/11: a draw of 0.5 does not.
    assert lfu_touched(stamp, 0, lambda: 0.5) & 0xFF == LFU_INIT + 1
    assert lfu_touched(stamp, 3 * MINUTE, None) & 0xFF == LFU_INIT - 2
    assert lfu_touched(stamp, 100 * MINUTE, None) & 0xFF == 0
    assert lfu_touched(255, 0, lambda: always) & 0xFF == 255


def test_the_sampler_drops_gone_keys_and_rebuilds_when_stale() -> None:
    import random

    source = dict.fromkeys([b"a", b"b", b"c"])
    sampler = KeySampler()
    rng = random.Random(1)
    assert set(sampler.sample(source, 20, rng)) <= {b"a", b"b", b"c"}
    del source[b"a"]
    assert b"a" not in sampler.sample(source, 20, rng)
    assert sampler.sample({}, 5, rng) == []
    assert Evictor().pick(Keyspace(), "allkeys-lru", 5, 0, rng) is None


# ----------------------------------------------------------------- properties

KEYS = st.sampled_from([f"k{i}" for i in range(6)])
SMALL = st.text("abcxyz", min_size=0, max_size=12)
WRITES = st.one_of(
    st.tuples(st.just("SET"), KEYS, SMALL),
    st.tuples(st.just("APPEND"), KEYS, SMALL),
    st.tuples(st.just("DEL"), KEYS),
    st.tuples(st.just("PEXPIRE"), KEYS, st.integers(1, 50)),
    st.tuples(st.just("HSET"), KEYS, SMALL, SMALL),
    st.tuples(st.just("HDEL"), KEYS, SMALL),
    st.tuples(st.sampled_from(["LPUSH", "RPUSH"]), KEYS, SMALL),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), KEYS),
    st.tuples(st.just("LTRIM"), KEYS, st.integers(-3, 3), st.integers(-3, 3)),
    st.tuples(st.just("LREM"), KEYS, st.integers(-2, 2), SMALL),
    st.tuples(st.just("SADD"), KEYS, SMALL),
    st.tuples(st.just("SREM"), KEYS, SMALL),
    st.tuples(st.just("ZADD"), KEYS, st.integers(0, 5), SMALL),
    st.tuples(st.just("ZREM"), KEYS, SMALL),
    st.tuples(st.just("XADD"), KEYS, st.just("*"), SMALL, SMALL),
    st.tuples(st.just("XTRIM"), KEYS, st.just("MAXLEN"), st.integers(0, 2)),
    st.tuples(st.sampled_from(["RENAME", "COPY"]), KEYS, KEYS),
    st.tuples(st.just("ADVANCE"), st.integers(1, 30)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(WRITES, max_size=40))
def test_the_running_estimate_equals_a_recount(script: list[tuple[object, ...]]) -> None:
    world = World()
    c = world.client()
    ks = world.engine.keyspace
    for step in script:
        if step[0] == "ADVANCE":
            world.advance(int(str(step[1])))
            world.engine.active_expire()
            continue
        c(*[str(a) for a in step])
        assert ks._used == recount(ks)
        assert set(ks._sizes) == {k for k, v, _ in ks.items() if type(v) is not bytes}


@settings(max_examples=100, deadline=None)
@example(  # a sampler whose listed keys were all gone answered OOM with keys left
    "allkeys-lru",
    1000,
    [
        (0, 84, False, False),
        (1, 0, False, False),
        (2, 0, False, False),
        (5, 7, True, False),
        (3, 60, False, False),
        (4, 0, False, False),
        (2, 0, False, False),
        (0, 0, False, False),
        (1, 0, False, False),
        (0, 0, False, False),
    ],
)
@given(
    st.sampled_from(["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-ttl"]),
    st.integers(1000, 4000),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 200), st.booleans(), st.booleans()),
        max_size=60,
    ),
)
def test_policies_hold_the_limit_and_volatile_ones_spare_persistent_keys(
    policy: str, limit: int, writes: list[tuple[int, int, bool, bool]]
) -> None:
    world = World(Settings(maxmemory=limit, maxmemory_policy=policy, maxmemory_samples=3))
    c = world.client()
    e = world.engine
    persistent: set[bytes] = set()
    for key, size, expiring, read in writes:
        name = f"key{key}"
        world.advance(7)
        if read:
            c("GET", name)
            continue
        reply = c("SET", name, "v" * size, *(["PX", "1000000"] if expiring else []))
        if reply == OK:
            (persistent.add if not expiring else persistent.discard)(name.encode())
        else:
            assert reply == OOM and policy.startswith("volatile")
        if policy.startswith("volatile"):
            assert persistent <= set(e.keyspace.keys_view())
        else:  # eviction ran before this write: only its own value may be over
            # Its key, value, deadline and access record, and the sampler's list, which
            # may have grown meanwhile.
            slack = mem.blob(len(name)) + mem.blob(size) + mem.KEY_SLOT + mem.ACCESS_ENTRY
            slack += mem.EXPIRY_ENTRY + mem.HEAP_ENTRY + e.evictor.overhead_bytes()
            assert e.used_memory() <= limit + slack
    logged = [decode_mutation(encode_mutation(m)) for m in world.mutations()]
    assert contents(replay(logged)) == world.state()
