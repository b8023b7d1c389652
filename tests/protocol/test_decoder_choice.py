"""Choosing a decoder, and the hiredis decoder's hand-offs to the Python one."""

from __future__ import annotations

import pytest

from tandemkv.protocol import (
    DecoderLimits,
    PythonRequestDecoder,
    encode_command,
    hiredis_available,
    make_request_decoder,
)

from .decoding import decode, hiredis_decoder, python_decoder

needs_hiredis = pytest.mark.skipif(not hiredis_available(), reason="hiredis is not installed")


def test_python_decoder_on_request() -> None:
    decoder = make_request_decoder(use_hiredis=False)
    assert isinstance(decoder, PythonRequestDecoder)


@needs_hiredis
def test_hiredis_decoder_when_installed() -> None:
    from tandemkv.protocol.hiredis_decoder import HiredisRequestDecoder

    assert isinstance(make_request_decoder(), HiredisRequestDecoder)
    assert isinstance(make_request_decoder(use_hiredis=True), HiredisRequestDecoder)


def test_limits_are_passed_on() -> None:
    limits = DecoderLimits(max_bulk_len=7)
    for use_hiredis in (False, *([True] if hiredis_available() else [])):
        decoder = make_request_decoder(limits, use_hiredis=use_hiredis)
        assert decoder.limits is limits


# Streams that make the hiredis decoder hand work to the Python decoder part-way through.
HAND_OFFS = {
    "inline-between-multibulks": encode_command([b"A"]) + b"B x\r\n" + encode_command([b"C"]),
    "command-larger-than-a-window": encode_command([b"SET", b"k", b"v" * 50_000])
    + encode_command([b"GET", b"k"]),
    "count-of-ten-thousand": encode_command([b"x"] * 10_000) + encode_command([b"PING"]),
    "big-count-digits-in-a-payload": encode_command([b"SET", b"k", b"*12345 ~99999"])
    + encode_command([b"PING"]),
    "lenient-line-ends": b"*1\rX$4\r\nPINGxx" + encode_command([b"PING"]),
    "empty-requests": b"*0\r\n*-1\r\n"
    + encode_command([b"PING"])
    + b"\r\n"
    + encode_command([b"PING"]),
}


@needs_hiredis
@pytest.mark.parametrize("data", HAND_OFFS.values(), ids=HAND_OFFS.keys())
def test_hiredis_decoder_matches_python_across_hand_offs(data: bytes) -> None:
    expected = decode(python_decoder, [data])
    assert expected.error is None and expected.commands
    for size in (len(data), 4096, 1000, 7):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert decode(hiredis_decoder, chunks) == expected, size


@needs_hiredis
def test_hiredis_decoder_resumes_after_a_pause_mid_buffer() -> None:
    # The server may stop taking commands (back-pressure) and feed more before resuming.
    decoder = make_request_decoder(use_hiredis=True)
    first = b"".join(encode_command([b"SET", b"k%d" % i, b"v"]) for i in range(50))
    decoder.feed(first)
    assert decoder.next_command() == [b"SET", b"k0", b"v"]
    decoder.feed(encode_command([b"PING"]))
    rest = []
    while (command := decoder.next_command()) is not None:
        rest.append(command)
    assert rest == [[b"SET", b"k%d" % i, b"v"] for i in range(1, 50)] + [[b"PING"]]
