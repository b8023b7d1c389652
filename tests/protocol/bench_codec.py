"""Micro-benchmarks for the RESP codec (not a test; run by hand).

    PYTHONPATH=src python3 tests/protocol/bench_codec.py

Reports microseconds per command / reply, best of several runs.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from functools import partial

from tandemkv.protocol import (
    OK,
    encode_command,
    encode_replies,
    encode_reply,
    hiredis_available,
    make_request_decoder,
)

N = 100_000
SMALL = encode_command([b"SET", b"key", b"value"]) * N
MIXED = b"".join(
    encode_command([b"SET", b"key:%d" % i, b"v" * (i % 200)])
    if i % 2
    else encode_command([b"GET", b"key:%d" % i])
    for i in range(N)
)
CHUNK = 64 * 1024


def decode_all(use_hiredis: bool, data: bytes, chunk: int) -> int:
    decoder = make_request_decoder(use_hiredis=use_hiredis)
    next_command = decoder.next_command
    count = 0
    for start in range(0, len(data), chunk):
        decoder.feed(data[start : start + chunk])
        while next_command() is not None:
            count += 1
    return count


def encode_many(reply: object, resp3: bool) -> None:
    for _ in range(N):
        encode_reply(reply, resp3)


def best_us(run: Callable[[], object], per: int, repeat: int = 7) -> float:
    return min(timeit.repeat(run, number=1, repeat=repeat)) / per * 1e6


def main() -> None:
    kinds = [False, True] if hiredis_available() else [False]
    for use_hiredis in kinds:
        name = "hiredis" if use_hiredis else "python"
        for label, data in (("SET key value", SMALL), ("mixed SET/GET", MIXED)):
            for chunk in (len(data), CHUNK):
                assert decode_all(use_hiredis, data, chunk) == N
                us = best_us(partial(decode_all, use_hiredis, data, chunk), N)
                how = "one feed" if chunk == len(data) else "64 KB feeds"
                print(f"decode {name:8} {label:14} {how:12} {us:6.3f} us/command")
    replies: list[object] = [OK, 1, b"value", None, [b"a", b"b"], 3.5]
    for resp3 in (False, True):
        for reply in replies:
            us = best_us(partial(encode_many, reply, resp3), N)
            print(f"encode resp{3 if resp3 else 2} {reply!r:16} {us:6.3f} us/reply")
        batch = replies * (N // len(replies))
        us = best_us(partial(encode_replies, batch, resp3), len(batch))
        print(f"encode_replies resp{3 if resp3 else 2} mixed batch  {us:6.3f} us/reply")


if __name__ == "__main__":
    main()
