"""Request limits: configured caps, the pre-AUTH caps, changing them between commands, and
that no declared size is ever allocated up front."""

from __future__ import annotations

import dataclasses
import time
import tracemalloc

import pytest

from tandemkv.protocol import DecoderLimits, encode_command

from .decoding import MakeDecoder, bytewise, chunkings, decode, failed, ok

MB = 1024 * 1024
TOO_BIG = "request larger than client-query-buffer-limit"


def test_defaults_are_redis_defaults() -> None:
    limits = DecoderLimits()
    assert limits.max_bulk_len == 512 * MB
    assert limits.max_multibulk_len == 2**31 - 1
    assert limits.max_inline_len == 64 * 1024
    assert limits.authenticated


def test_unauthenticated_limits_are_redis_pre_auth_caps() -> None:
    limits = DecoderLimits.unauthenticated()
    assert not limits.authenticated
    assert limits.multibulk_cap() == 10
    assert limits.bulk_cap() == 16384
    based = DecoderLimits.unauthenticated(DecoderLimits(max_bulk_len=1000))
    assert based.bulk_cap() == 1000


SMALL = DecoderLimits(max_bulk_len=10, max_multibulk_len=3, max_inline_len=16)

SMALL_CASES = {
    "bulk-at-cap": (encode_command([b"0123456789"]), ok([b"0123456789"])),
    "bulk-over-cap": (encode_command([b"0123456789a"]), failed("invalid bulk length")),
    "single-digit-bulk-over-cap": (b"*1\r\n$9\r\n", ok()),
    "count-at-cap": (encode_command([b"a", b"b", b"c"]), ok([b"a", b"b", b"c"])),
    "count-over-cap": (b"*4\r\n", failed("invalid multibulk length")),
    "inline-at-cap": (b"0123456789abcdef\r\n", ok([b"0123456789abcdef"])),
    "inline-over-cap": (b"0123456789abcdefg", failed("too big inline request")),
    "header-line-at-cap": (b"*" + b"1" * 15 + b"\r\n", failed("invalid multibulk length")),
    "header-line-over-cap": (b"*" + b"1" * 16, failed("too big mbulk count string")),
    "bulk-header-over-cap": (b"*1\r\n$" + b"1" * 16, failed("too big bulk count string")),
}


@pytest.mark.parametrize(("data", "expected"), SMALL_CASES.values(), ids=SMALL_CASES.keys())
def test_configured_limits(make_decoder: MakeDecoder, data: bytes, expected: object) -> None:
    for how, chunks in chunkings(data):
        assert decode(make_decoder, chunks, SMALL) == expected, how


# client-query-buffer-limit: each argument counts its bytes plus ARGUMENT_OVERHEAD (48).
REQUEST_CAP = DecoderLimits(max_request_len=200)

REQUEST_CASES = {
    "request-at-cap": (encode_command([b"SET", b"v" * 101]), ok([b"SET", b"v" * 101])),
    "request-over-cap": (encode_command([b"SET", b"v" * 102]), failed(TOO_BIG)),
    "many-empty-arguments": (b"*5\r\n" + b"$0\r\n\r\n" * 5, failed(TOO_BIG)),
    # Refused at the header that declares it, before any of the payload is held.
    "declared-not-sent": (b"*2\r\n$3\r\nSET\r\n$500\r\n", failed(TOO_BIG)),
    "second-request-alone-counts": (
        encode_command([b"SET", b"v" * 101]) * 2,
        ok([b"SET", b"v" * 101], [b"SET", b"v" * 101]),
    ),
}


@pytest.mark.parametrize(("data", "expected"), REQUEST_CASES.values(), ids=REQUEST_CASES.keys())
def test_request_size_limit(make_decoder: MakeDecoder, data: bytes, expected: object) -> None:
    """The same verdict however the bytes arrive: in one read or split anywhere."""
    for how, chunks in chunkings(data):
        assert decode(make_decoder, chunks, REQUEST_CAP) == expected, how


def test_request_size_limit_default_is_redis_client_query_buffer_limit() -> None:
    assert DecoderLimits().max_request_len == 1024 * MB


def test_single_digit_length_is_checked_against_a_tiny_cap(make_decoder: MakeDecoder) -> None:
    limits = DecoderLimits(max_bulk_len=2)
    assert decode(make_decoder, [encode_command([b"abc"])], limits) == failed("invalid bulk length")


UNAUTHENTICATED_CASES = {
    "ten-args": (encode_command([b"x"] * 10), ok([b"x"] * 10)),
    "eleven-args": (b"*11\r\n", failed("unauthenticated multibulk length")),
    "bulk-of-16kb": (encode_command([b"x" * 16384]), ok([b"x" * 16384])),
    "bulk-over-16kb": (b"*1\r\n$16385\r\n", failed("unauthenticated bulk length")),
    # Redis checks the absolute limits first, so these keep their usual texts.
    "count-over-int-max": (b"*3000000000\r\n", failed("invalid multibulk length")),
    "bulk-over-512mb": (b"*1\r\n$600000000\r\n", failed("invalid bulk length")),
    "inline-is-not-capped-further": (b"SET " + b"k " * 20 + b"\r\n", ok([b"SET"] + [b"k"] * 20)),
}


@pytest.mark.parametrize(
    ("data", "expected"), UNAUTHENTICATED_CASES.values(), ids=UNAUTHENTICATED_CASES.keys()
)
def test_unauthenticated_limits(make_decoder: MakeDecoder, data: bytes, expected: object) -> None:
    limits = DecoderLimits.unauthenticated()
    assert decode(make_decoder, [data], limits) == expected
    assert decode(make_decoder, bytewise(data), limits) == expected


AUTH = encode_command([b"AUTH", b"secret"])
BIG_SET = encode_command([b"SET", b"k", b"v" * 20000])


def test_auth_lifts_caps_for_the_next_command_of_the_same_pipeline(
    make_decoder: MakeDecoder,
) -> None:
    decoder = make_decoder(DecoderLimits.unauthenticated())
    decoder.feed(AUTH + BIG_SET)
    assert decoder.next_command() == [b"AUTH", b"secret"]
    decoder.set_limits(DecoderLimits())
    command = decoder.next_command()
    assert command is not None and command[2] == b"v" * 20000


def test_without_auth_the_same_pipeline_fails(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(DecoderLimits.unauthenticated())
    decoder.feed(AUTH + BIG_SET)
    assert decoder.next_command() == [b"AUTH", b"secret"]
    with pytest.raises(Exception, match="unauthenticated bulk length"):
        decoder.next_command()


def test_stricter_limits_apply_to_the_next_command(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    decoder.feed(AUTH + BIG_SET)
    assert decoder.next_command() == [b"AUTH", b"secret"]
    decoder.limits = DecoderLimits.unauthenticated()
    with pytest.raises(Exception, match="unauthenticated bulk length"):
        decoder.next_command()


def test_limits_object_changed_in_place_is_seen(make_decoder: MakeDecoder) -> None:
    limits = DecoderLimits()
    decoder = make_decoder(limits)
    decoder.feed(PING_TWICE)
    assert decoder.next_command() == [b"PING"]
    limits.max_multibulk_len = 0
    with pytest.raises(Exception, match="invalid multibulk length"):
        decoder.next_command()


PING_TWICE = encode_command([b"PING"]) * 2


def test_limits_are_a_mutable_dataclass() -> None:
    limits = DecoderLimits()
    assert dataclasses.replace(limits, max_bulk_len=5).max_bulk_len == 5
    limits.authenticated = False
    assert limits.bulk_cap() == 16384


# ---------------------------------------------------------------- nothing declared is allocated

DECLARED = {
    "bulk-of-512mb": b"*1\r\n$536870912\r\nabc",
    "int-max-elements": b"*2147483647\r\n$1\r\na\r\n",
    "a-million-elements-of-100mb": b"*1048576\r\n$100000000\r\nabc",
    "huge-invalid-bulk": b"*1\r\n$99999999999\r\n",
}


@pytest.mark.parametrize("data", DECLARED.values(), ids=DECLARED.keys())
def test_declared_sizes_are_not_allocated(make_decoder: MakeDecoder, data: bytes) -> None:
    tracemalloc.start()
    try:
        decode(make_decoder, [data])
        decode(make_decoder, bytewise(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MB, f"peak {peak} bytes while decoding {len(data)} bytes"


def test_a_big_bulk_in_small_chunks_is_linear(make_decoder: MakeDecoder) -> None:
    # Quadratic buffering (copying or rescanning everything per chunk) would take minutes.
    value = bytes(range(256)) * (32 * 1024)  # 8 MB
    data = encode_command([b"SET", b"k", value])
    decoder = make_decoder(None)
    started = time.perf_counter()
    for i in range(0, len(data), 1024):
        decoder.feed(data[i : i + 1024])
        command = decoder.next_command()
    elapsed = time.perf_counter() - started
    assert command == [b"SET", b"k", value]
    assert elapsed < 5, f"{elapsed:.1f}s for 8 MB in 1 KB chunks"


def test_a_long_inline_line_byte_by_byte_is_linear(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    started = time.perf_counter()
    for _ in range(64 * 1024):
        decoder.feed(b"a")
        assert decoder.next_command() is None
    decoder.feed(b"a")
    with pytest.raises(Exception, match="too big inline request"):
        decoder.next_command()
    assert time.perf_counter() - started < 5


def test_held_bytes_stay_bounded_by_one_element(make_decoder: MakeDecoder) -> None:
    # A command of many small arguments arriving slowly: decoded arguments are set aside,
    # so the buffer never holds more than the element being read.
    decoder = make_decoder(None)
    data = encode_command([b"RPUSH", b"list", *[b"item-%d" % i for i in range(2000)]])
    most = 0
    for i in range(0, len(data), 3):
        decoder.feed(data[i : i + 3])
        assert decoder.next_command() is None or i + 3 >= len(data)
        most = max(most, decoder.buffered_bytes)
    assert most < 32
