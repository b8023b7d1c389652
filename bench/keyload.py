"""Filling a server with N keys of one value size, fast: pipelined MSETs on one connection."""

from __future__ import annotations

import time

from bench.resp import Connection, ReplyError, Word, encode

BATCH = 1000  # pairs per MSET
PIPELINE = 8  # MSETs in flight


def key_name(index: int) -> bytes:
    return b"key:%09d" % index


def load_keys(port: int, keys: int, value_size: int) -> float:
    """Set key:000000000 .. key:<keys-1> to ``value_size`` bytes each; returns the seconds it
    took. Checks DBSIZE afterwards, so a server that dropped writes is caught here."""
    value = b"v" * value_size
    started = time.perf_counter()
    with Connection(port) as conn:
        in_flight = 0
        for start in range(0, keys, BATCH):
            words: list[Word] = ["MSET"]
            for index in range(start, min(keys, start + BATCH)):
                words += [key_name(index), value]
            conn.send(encode(*words))
            in_flight += 1
            if in_flight == PIPELINE:
                _expect_ok(conn.reply())
                in_flight -= 1
        for _ in range(in_flight):
            _expect_ok(conn.reply())
        took = time.perf_counter() - started
        size = conn.call("DBSIZE")
    if size != keys:
        raise ReplyError(f"DBSIZE is {size} after loading {keys} keys")
    return took


def _expect_ok(reply: object) -> None:
    if reply != "OK":
        raise ReplyError(f"MSET answered {reply!r}")
