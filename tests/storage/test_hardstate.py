"""Hard state (term, vote, commit): exact round trips, damage detected, atomic under crashes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandemkv.storage.errors import CorruptHardStateError, DecodeError
from tandemkv.storage.hardstate import (
    HARD_STATE_FILE,
    HardState,
    decode_hard_state,
    encode_hard_state,
    load_hard_state,
    save_hard_state,
)
from tandemkv.storage.simfs import CrashMode, SimFileSystem

u64 = st.integers(0, 2**64 - 1)
votes = st.none() | u64 | st.text(max_size=20)


@given(st.builds(HardState, u64, votes, u64))
def test_round_trip(state: HardState) -> None:
    assert decode_hard_state(encode_hard_state(state)) == state


def test_missing_file_means_a_fresh_node() -> None:
    assert load_hard_state(SimFileSystem(random.Random(0))) == HardState(0, None, 0)


def test_every_bit_flip_and_truncation_is_detected() -> None:
    good = encode_hard_state(HardState(5, "node-2", 17))
    for bit in range(len(good) * 8):
        damaged = bytearray(good)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecodeError):
            decode_hard_state(bytes(damaged))
    for cut in range(len(good)):
        with pytest.raises(DecodeError):
            decode_hard_state(good[:cut])


def test_a_damaged_file_names_itself_and_the_way_out() -> None:
    fs = SimFileSystem(random.Random(0))
    save_hard_state(fs, HardState(3, 1, 2))
    fs.create(HARD_STATE_FILE)
    fs.append(HARD_STATE_FILE, b"TKVHS-garbage")
    with pytest.raises(CorruptHardStateError, match=r"hardstate.*checksum.*vote twice"):
        load_hard_state(fs)


def test_saving_is_atomic_under_every_crash_mode() -> None:
    for seed in range(30):
        fs = SimFileSystem(random.Random(seed))
        save_hard_state(fs, HardState(1, "a", 0))
        save_hard_state(fs, HardState(2, "b", 5))
        fs.crash(random.Random(seed).choice(list(CrashMode)))
        assert load_hard_state(fs) == HardState(2, "b", 5)  # durable once save returned
