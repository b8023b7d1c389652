"""Properties of request decoding over generated commands, chunkings and garbage."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tandemkv.protocol import DecoderLimits, encode_command, hiredis_available

from .decoding import MakeDecoder, Outcome, decode, hiredis_decoder, python_decoder

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

arguments = st.lists(st.binary(max_size=40), min_size=1, max_size=12)
commands = st.lists(arguments, min_size=1, max_size=20)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@SETTINGS
@given(commands=commands, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_encoded_commands_decode_back_whatever_the_chunking(
    make_decoder: MakeDecoder, commands: list[list[bytes]], cuts: list[int]
) -> None:
    data = b"".join(encode_command(command) for command in commands)
    expected = Outcome(tuple(tuple(command) for command in commands))
    assert decode(make_decoder, chunked(data, cuts)) == expected


# Fragments that look like RESP, so the fuzzer reaches deep into the parser.
FRAGMENTS = [
    b"*",
    b"$",
    b"\r\n",
    b"\r",
    b"\n",
    b"0",
    b"1",
    b"2",
    b"3",
    b"9",
    b"-",
    b"-1",
    b"+",
    b"*1\r\n",
    b"*2\r\n",
    b"*3\r\n",
    b"$0\r\n",
    b"$1\r\n",
    b"$3\r\n",
    b"$10\r\n",
    b"abc",
    b"PING",
    b" ",
    b"\t",
    b'"',
    b"'",
    b"\\",
    b"\\x4",
    b"\x00",
    b"\x0b",
    b"\xff",
    b":",
    b"~",
    b">",
    b"|",
    b"%",
    b"*99999\r\n",
    b"~12345\r\n",
    b"*-1\r\n",
    b"*0\r\n",
]
garbage = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(b"".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), arguments.map(encode_command)), max_size=12).map(
        b"".join
    ),
)
small_limits = st.sampled_from(
    [
        None,
        DecoderLimits.unauthenticated(),
        DecoderLimits(max_bulk_len=4, max_multibulk_len=3, max_inline_len=8),
    ]
)


@SETTINGS
@given(data=garbage, cuts=st.lists(st.integers(min_value=0), max_size=10), limits=small_limits)
def test_garbage_gives_commands_or_a_protocol_error_the_same_in_any_chunks(
    make_decoder: MakeDecoder, data: bytes, cuts: list[int], limits: DecoderLimits | None
) -> None:
    # decode() lets any exception but ProtocolError escape, and fails on empty commands.
    whole = decode(make_decoder, [data], limits)
    assert decode(make_decoder, chunked(data, cuts), limits) == whole
    assert decode(make_decoder, [data[i : i + 1] for i in range(len(data))], limits) == whole


@pytest.mark.skipif(not hiredis_available(), reason="hiredis is not installed")
@settings(max_examples=400, deadline=None)
@given(data=garbage, cuts=st.lists(st.integers(min_value=0), max_size=10), limits=small_limits)
# Nested arrays past the size where hiredis takes over: the compiled build once checked its
# items as bytes on the way into the acceptance checks (TypeError, not a protocol error).
@example(
    data=b"*1\r\n*1\r\n*2\r\n$0\r\n\r\n$1\r\n\x00\r\n" + b"$5\r\n" + b"\x00" * 600,
    cuts=[],
    limits=None,
)
@example(data=b"*2\r\n$3\r\nGET\r\n:1\r\n" + b"*1\r\n$4\r\nPING\r\n" * 60, cuts=[], limits=None)
def test_hiredis_decoder_agrees_with_python_decoder(
    data: bytes, cuts: list[int], limits: DecoderLimits | None
) -> None:
    chunks = chunked(data, cuts)
    assert decode(hiredis_decoder, chunks, limits) == decode(python_decoder, chunks, limits)
