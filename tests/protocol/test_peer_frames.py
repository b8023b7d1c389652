"""The peer-link frame codec (PEER STREAM): whole, byte by byte, every two-way split, against
a model, with keep-alives mixed in and lengths over the cap; plus the request decoders'
hand-over of what a peer pipelined after PEER STREAM."""

from __future__ import annotations

import struct
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandemkv.protocol.peer_frames import (
    MAX_FRAME_BYTES,
    PING_FRAME,
    FrameDecoder,
    FrameTooLarge,
    encode_frames,
)

from .decoding import MakeDecoder, bytewise, two_chunk_splits

MESSAGES = [b"\x01append", b"x", b"\x00" * 300, b"\r\n*3\r\n$4\r\nPING\r\n", bytes(range(256))]


def decode(
    chunks: Iterable[bytes | bytearray | memoryview], max_frame: int = MAX_FRAME_BYTES
) -> tuple[list[bytes], int]:
    """Feed the chunks one by one, reading after each: every payload and the ping count."""
    decoder = FrameDecoder(max_frame)
    payloads: list[bytes] = []
    pings = 0
    for chunk in chunks:
        decoder.feed(chunk)
        got, seen = decoder.read_frames()
        assert all(type(p) is bytes for p in got), got
        payloads += got
        pings += seen
    assert decoder.buffered_bytes == 0, "a whole stream leaves nothing behind"
    return payloads, pings


def frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


def test_round_trip() -> None:
    data = encode_frames(MESSAGES)
    assert data == b"".join(frame(m) for m in MESSAGES)
    assert decode([data]) == (MESSAGES, 0)


def test_the_wire_format_is_a_little_endian_u32_length_then_the_bytes() -> None:
    assert encode_frames([b"abc"]) == b"\x03\x00\x00\x00abc"
    assert encode_frames([b"y" * 258])[:4] == b"\x02\x01\x00\x00"
    assert encode_frames([]) == b""
    assert PING_FRAME == b"\x00\x00\x00\x00"


def test_byte_by_byte_and_every_two_way_split_give_the_same_payloads() -> None:
    data = PING_FRAME + encode_frames(MESSAGES[:3]) + PING_FRAME + encode_frames(MESSAGES[3:])
    expected = (MESSAGES, 2)
    assert decode(bytewise(data)) == expected
    for chunks in two_chunk_splits(data, limit=len(data)):
        assert decode(chunks) == expected, f"split at {len(chunks[0])}"


def test_chunks_may_be_bytearrays_or_memoryviews() -> None:
    data = encode_frames(MESSAGES)
    cut = len(data) // 2
    assert decode([bytearray(data[:cut]), memoryview(data)[cut:]]) == (MESSAGES, 0)


def test_keep_alives_between_messages_are_counted_not_returned() -> None:
    data = PING_FRAME * 3 + frame(b"a") + PING_FRAME + frame(b"b") + PING_FRAME * 2
    assert decode([data]) == ([b"a", b"b"], 6)
    decoder = FrameDecoder()
    decoder.feed(PING_FRAME + PING_FRAME[:2])
    assert decoder.read_frames() == ([], 1)
    decoder.feed(PING_FRAME[2:])
    assert decoder.read_frames() == ([], 1)


def test_nothing_comes_out_of_a_partial_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(frame(b"hello")[:-1])
    assert decoder.read_frames() == ([], 0)
    assert decoder.buffered_bytes == 8
    decoder.feed(b"o" + frame(b"next")[:2])
    assert decoder.read_frames() == ([b"hello"], 0)
    assert decoder.buffered_bytes == 2


def test_a_length_over_the_cap_is_refused_at_its_header() -> None:
    decoder = FrameDecoder(max_frame=100)
    decoder.feed(frame(b"z" * 100))
    assert decoder.read_frames() == ([b"z" * 100], 0)
    # Only the header of a 101-byte frame: refused without waiting for (or holding) it.
    decoder.feed(struct.pack("<I", 101))
    with pytest.raises(FrameTooLarge) as raised:
        decoder.read_frames()
    assert (raised.value.length, raised.value.cap) == (101, 100)
    assert decoder.buffered_bytes == 0
    # The stream cannot be resynchronised: what follows is ignored, the error stays.
    decoder.feed(b"z" * 101 + frame(b"ok"))
    assert decoder.buffered_bytes == 0
    with pytest.raises(FrameTooLarge):
        decoder.read_frames()


def test_the_default_cap_refuses_a_huge_length_and_accepts_the_cap() -> None:
    decoder = FrameDecoder()
    decoder.feed(struct.pack("<I", MAX_FRAME_BYTES) + b"partial")
    assert decoder.read_frames() == ([], 0)  # waits for a frame of exactly the cap
    decoder = FrameDecoder()
    decoder.feed(b"\xff\xff\xff\xff")
    with pytest.raises(FrameTooLarge):
        decoder.read_frames()


def test_an_over_cap_header_split_across_chunks_is_refused_once_whole() -> None:
    decoder = FrameDecoder(max_frame=10)
    decoder.feed(frame(b"ok") + b"\x0b\x00")
    assert decoder.read_frames() == ([b"ok"], 0)
    decoder.feed(b"\x00")
    assert decoder.read_frames() == ([], 0)
    decoder.feed(b"\x00")
    with pytest.raises(FrameTooLarge):
        decoder.read_frames()


def test_a_large_frame_in_many_chunks_comes_out_once_whole() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    data = frame(b"before") + frame(big) + frame(b"after")
    decoder = FrameDecoder()
    outputs: list[list[bytes]] = []
    for at in range(0, len(data), 1000):
        decoder.feed(data[at : at + 1000])
        payloads, pings = decoder.read_frames()
        assert pings == 0
        if payloads:
            outputs.append(payloads)
        assert decoder.buffered_bytes < len(big) + 4
    assert outputs == [[b"before"], [big, b"after"]]
    assert decoder.buffered_bytes == 0


def test_many_frames_in_one_chunk_come_out_in_one_read() -> None:
    blobs = [b"m%d" % i for i in range(5000)]
    decoder = FrameDecoder()
    decoder.feed(encode_frames(blobs))
    assert decoder.read_frames() == (blobs, 0)
    assert decoder.read_frames() == ([], 0)


def test_the_encoder_refuses_empty_and_over_cap_payloads() -> None:
    with pytest.raises(ValueError, match="keep-alive"):
        encode_frames([b"a", b""])
    with pytest.raises(FrameTooLarge):
        encode_frames([b"a" * 11], cap=10)
    assert encode_frames([b"a" * 10], cap=10) == frame(b"a" * 10)


# A stream is a list of frames; None stands for a keep-alive.
streams = st.lists(st.none() | st.binary(min_size=1, max_size=70), max_size=25)


def model(stream: list[bytes | None]) -> tuple[list[bytes], int]:
    return [p for p in stream if p is not None], sum(p is None for p in stream)


def wire(stream: list[bytes | None]) -> bytes:
    return b"".join(PING_FRAME if p is None else encode_frames([p]) for p in stream)


@given(stream=streams, data=st.data())
def test_any_chunking_of_any_stream_decodes_like_the_model(
    stream: list[bytes | None], data: st.DataObject
) -> None:
    raw = wire(stream)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=12)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert decode(chunks) == model(stream)


@given(stream=streams, cap=st.integers(1, 60), data=st.data())
def test_a_stream_with_frames_over_the_cap_fails_exactly_at_the_first(
    stream: list[bytes | None], cap: int, data: st.DataObject
) -> None:
    raw = wire(stream)
    cut = data.draw(st.integers(0, len(raw)))
    first_too_big = next((i for i, p in enumerate(stream) if p is not None and len(p) > cap), None)
    allowed = stream if first_too_big is None else stream[:first_too_big]
    decoder = FrameDecoder(cap)
    payloads: list[bytes] = []
    pings = 0
    try:
        for chunk in (raw[:cut], raw[cut:]):
            decoder.feed(chunk)
            got, seen = decoder.read_frames()
            payloads += got
            pings += seen
    except FrameTooLarge as error:
        assert first_too_big is not None
        assert error.length == len(stream[first_too_big] or b"")
        # Everything before it came out, possibly except the last chunk's share.
        expected_payloads, expected_pings = model(allowed)
        assert payloads == expected_payloads[: len(payloads)]
        assert pings <= expected_pings
    else:
        assert first_too_big is None
        assert (payloads, pings) == model(stream)


# ------------------------------------------------------------------ the RESP hand-over


def test_request_decoders_hand_back_what_follows_a_command(make_decoder: MakeDecoder) -> None:
    stream = encode_frames([b"\x01message"]) + PING_FRAME
    decoder = make_decoder(None)
    decoder.feed(b"*2\r\n$4\r\nPEER\r\n$6\r\nSTREAM\r\n" + stream[:5])
    assert decoder.next_command() == [b"PEER", b"STREAM"]
    decoder.feed(stream[5:])
    assert decoder.take_unread() == stream
    assert decoder.take_unread() == b""
    assert decoder.buffered_bytes == 0
    assert decoder.next_command() is None


def test_the_hand_over_works_after_a_pipelined_batch(make_decoder: MakeDecoder) -> None:
    # Long enough that the hiredis decoder takes its hiredis path.
    set_command = b"*3\r\n$3\r\nSET\r\n$3\r\nk%02d\r\n$3\r\nv%02d\r\n"
    sets = b"".join(set_command % (i, i) for i in range(30))
    stream = encode_frames([b"*1\r\n$4\r\nPING\r\n" * 40])
    decoder = make_decoder(None)
    decoder.feed(sets + b"*2\r\n$4\r\nPEER\r\n$6\r\nSTREAM\r\n" + stream)
    for _ in range(30):
        assert decoder.next_command() is not None
    assert decoder.next_command() == [b"PEER", b"STREAM"]
    assert decoder.take_unread() == stream


def test_the_hand_over_is_refused_in_the_middle_of_a_request(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    decoder.feed(b"*2\r\n$4\r\nPEER\r\n$6\r\nST")
    assert decoder.next_command() is None
    with pytest.raises(ValueError):
        decoder.take_unread()
    decoder.feed(b"REAM\r\n")
    assert decoder.next_command() == [b"PEER", b"STREAM"]
