"""The engine against a plain-dict model of Redis string semantics, driven by hypothesis.

The model maps key -> (value, deadline) and never removes a key when its deadline passes; a
key is live while `deadline is None or deadline > now`. After every step the engine's live
view (read without side effects through Keyspace.items()) must equal the model's, deadlines
included, and the engine must never hold a key the model does not know.
"""

from __future__ import annotations

import re

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tandemkv.protocol.types import OK

from .harness import NO_SUCH_KEY, NOT_INT, World, err

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
OVERFLOW = err("ERR increment or decrement would overflow")

KEYS = st.sampled_from([b"a", b"b", b"c", b"d"])
VALUES = st.sampled_from(
    [
        b"",
        b"0",
        b"1",
        b"-5",
        b"10",
        b"abc",
        b"01",
        b" 1",
        b"1.5",
        str(INT64_MAX).encode(),
        str(INT64_MIN).encode(),
    ]
)
AMOUNTS = st.one_of(st.integers(-3, 3), st.sampled_from([INT64_MAX, INT64_MIN, 2**62]))
CANONICAL_INT = re.compile(rb"0|-?[1-9][0-9]{0,18}")

Entry = tuple[bytes, int | None]


def as_int(value: bytes) -> int | None:
    """The value as Redis reads an integer: canonical decimal within int64, else None."""
    if not CANONICAL_INT.fullmatch(value):
        return None
    number = int(value)
    return number if INT64_MIN <= number <= INT64_MAX else None


class EngineVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.c = self.world.client()
        self.model: dict[bytes, Entry] = {}

    # ----------------------------------------------------------- model helpers

    @property
    def now(self) -> int:
        return self.world.now

    def live(self, key: bytes) -> Entry | None:
        entry = self.model.get(key)
        if entry is None or (entry[1] is not None and entry[1] <= self.now):
            return None
        return entry

    def value(self, key: bytes) -> bytes | None:
        entry = self.live(key)
        return None if entry is None else entry[0]

    def put(self, key: bytes, value: bytes, deadline: int | None) -> None:
        if deadline is not None and deadline <= self.now:
            self.model.pop(key, None)
        else:
            self.model[key] = (value, deadline)

    def live_model(self) -> dict[bytes, Entry]:
        return {k: e for k in self.model if (e := self.live(k)) is not None}

    # ----------------------------------------------------------- writes

    @rule(
        key=KEYS,
        value=VALUES,
        cond=st.sampled_from([None, "NX", "XX"]),
        expiry=st.one_of(
            st.none(),
            st.tuples(st.just("EX"), st.integers(1, 3)),
            st.tuples(st.just("PX"), st.integers(1, 3000)),
            st.tuples(st.just("PXAT"), st.integers(-100, 3000)),
            st.just(("KEEPTTL", 0)),
        ),
        get=st.booleans(),
    )
    def set(
        self, key: bytes, value: bytes, cond: str | None, expiry: tuple[str, int] | None, get: bool
    ) -> None:
        args: list[object] = ["SET", key, value]
        if cond:
            args.append(cond)
        old = self.live(key)
        deadline: int | None = None
        if expiry is not None:
            option, amount = expiry
            if option == "KEEPTTL":
                args.append("KEEPTTL")
                deadline = old[1] if old else None
            elif option == "PXAT":
                deadline = self.now + amount
                args += ["PXAT", deadline]
            else:
                deadline = self.now + amount * (1000 if option == "EX" else 1)
                args += [option, amount]
        if get:
            args.append("GET")
        reply = self.c(*args)
        blocked = (cond == "NX" and old is not None) or (cond == "XX" and old is None)
        old_value = old[0] if old else None
        assert reply == (old_value if get else (None if blocked else OK))
        if not blocked:
            self.put(key, value, deadline)

    @rule(key=KEYS, value=VALUES)
    def set_keepttl(self, key: bytes, value: bytes) -> None:
        """Plain SET KEEPTTL, the form that does not read the key first (its own rule so it
        often meets a key that is past its deadline but still stored)."""
        self.set(key, value, None, ("KEEPTTL", 0), False)

    @rule(key=KEYS)
    def getdel(self, key: bytes) -> None:
        assert self.c("GETDEL", key) == self.value(key)
        self.model.pop(key, None)

    @rule(key=KEYS, value=VALUES)
    def getset(self, key: bytes, value: bytes) -> None:
        assert self.c("GETSET", key, value) == self.value(key)
        self.model[key] = (value, None)

    @rule(pairs=st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=4))
    def mset(self, pairs: list[tuple[bytes, bytes]]) -> None:
        assert self.c("MSET", *[x for pair in pairs for x in pair]) == OK
        for key, value in pairs:
            self.model[key] = (value, None)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=4))
    def delete(self, keys: list[bytes]) -> None:
        present = {k for k in keys if self.live(k) is not None}
        assert self.c("DEL", *keys) == len(present)
        for key in keys:
            self.model.pop(key, None)

    @rule(key=KEYS, cmd=st.sampled_from(["INCR", "DECR", "INCRBY", "DECRBY"]), amount=AMOUNTS)
    def counter(self, key: bytes, cmd: str, amount: int) -> None:
        args: list[object] = [cmd, key] + ([amount] if cmd.endswith("BY") else [])
        delta = {"INCR": 1, "DECR": -1, "INCRBY": amount, "DECRBY": -amount}[cmd]
        entry = self.live(key)
        base = 0 if entry is None else as_int(entry[0])
        reply = self.c(*args)
        if cmd == "DECRBY" and amount == INT64_MIN:
            assert reply == err("ERR decrement would overflow")
        elif base is None:
            assert reply == NOT_INT
        elif not INT64_MIN <= base + delta <= INT64_MAX:
            assert reply == OVERFLOW
        else:
            assert reply == base + delta
            self.model[key] = (str(base + delta).encode(), entry[1] if entry else None)

    @rule(key=KEYS, suffix=VALUES)
    def append(self, key: bytes, suffix: bytes) -> None:
        entry = self.live(key)
        value = (entry[0] if entry else b"") + suffix
        assert self.c("APPEND", key, suffix) == len(value)
        self.model[key] = (value, entry[1] if entry else None)

    @rule(
        key=KEYS,
        unit=st.sampled_from(["EXPIRE", "PEXPIRE"]),
        amount=st.integers(-1, 3),
        flag=st.sampled_from([None, "NX", "XX", "GT", "LT"]),
    )
    def expire(self, key: bytes, unit: str, amount: int, flag: str | None) -> None:
        amount = amount * 700 if unit == "PEXPIRE" else amount
        deadline = self.now + amount * (1000 if unit == "EXPIRE" else 1)
        entry = self.live(key)
        reply = self.c(unit, key, amount, *([flag] if flag else []))
        if entry is None:
            assert reply == 0
            return
        current = entry[1]
        refused = (
            (flag == "NX" and current is not None)
            or (flag == "XX" and current is None)
            or (flag == "GT" and (current is None or deadline <= current))
            or (flag == "LT" and current is not None and deadline >= current)
        )
        assert reply == (0 if refused else 1)
        if not refused:
            self.put(key, entry[0], deadline)

    @rule(key=KEYS)
    def persist(self, key: bytes) -> None:
        entry = self.live(key)
        changed = entry is not None and entry[1] is not None
        assert self.c("PERSIST", key) == int(changed)
        if entry is not None:
            self.model[key] = (entry[0], None)

    @rule(src=KEYS, dst=KEYS)
    def rename(self, src: bytes, dst: bytes) -> None:
        entry = self.live(src)
        reply = self.c("RENAME", src, dst)
        if entry is None:
            assert reply == NO_SUCH_KEY
            return
        assert reply == OK
        del self.model[src]
        self.model[dst] = entry

    # ----------------------------------------------------------- reads

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        assert self.c("GET", key) == self.value(key)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=4))
    def mget_and_exists(self, keys: list[bytes]) -> None:
        assert self.c("MGET", *keys) == [self.value(k) for k in keys]
        assert self.c("EXISTS", *keys) == sum(self.live(k) is not None for k in keys)

    @rule(key=KEYS)
    def ttl(self, key: bytes) -> None:
        entry = self.live(key)
        if entry is None:
            expected_ms, expected_s = -2, -2
        elif entry[1] is None:
            expected_ms, expected_s = -1, -1
        else:
            expected_ms = entry[1] - self.now
            expected_s = (expected_ms + 500) // 1000
        assert self.c("PTTL", key) == expected_ms
        assert self.c("TTL", key) == expected_s

    @rule()
    def keys_star(self) -> None:
        assert sorted(self.c("KEYS", "*")) == sorted(self.live_model())  # type: ignore[type-var]

    @rule()
    def dbsize(self) -> None:
        size = self.c("DBSIZE")
        assert isinstance(size, int)
        assert len(self.live_model()) <= size <= len(self.model)  # expired keys may linger
        self.world.engine.active_expire(budget=1_000_000)
        assert self.c("DBSIZE") == len(self.live_model())

    # ----------------------------------------------------------- time

    @rule(ms=st.integers(0, 2500))
    def advance_clock(self, ms: int) -> None:
        self.world.advance(ms)

    @rule(key=KEYS, extra=st.integers(-1, 5))
    def advance_to_deadline(self, key: bytes, extra: int) -> None:
        """Jump to just around a key's deadline, so stale keys and exact-deadline edges are
        common rather than rare."""
        entry = self.live(key)
        if entry is not None and entry[1] is not None:
            self.world.advance(max(0, entry[1] - self.now + extra))

    @rule(key=KEYS, value=VALUES, late=st.integers(0, 20))
    def let_a_key_expire(self, key: bytes, value: bytes, late: int) -> None:
        """Store a key with a 10 ms TTL and let it lapse unobserved: the commands that follow
        then often meet a key that is past its deadline but still stored."""
        assert self.c("SET", key, value, "PX", 10) == OK
        self.model[key] = (value, self.now + 10)
        self.world.advance(10 + late)

    @rule(budget=st.integers(1, 3))
    def active_expire(self, budget: int) -> None:
        assert 0 <= self.world.engine.active_expire(budget) <= budget

    # ----------------------------------------------------------- invariants

    @invariant()
    def live_views_agree(self) -> None:
        now = self.now
        engine_live = {
            k: (v, d) for k, v, d in self.world.engine.keyspace.items() if d is None or d > now
        }
        assert engine_live == self.live_model()

    @invariant()
    def engine_holds_no_unknown_key(self) -> None:
        assert set(self.world.engine.keyspace.keys_view()) <= set(self.model)


EngineVersusModel.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None
)
test_engine_matches_the_model = EngineVersusModel.TestCase
