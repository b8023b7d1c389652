"""Request decoding: what a client's bytes become, however the bytes are chunked.

Error texts and the leniencies accepted here were checked against redis-server 7.0.15.
"""

from __future__ import annotations

import pytest

from tandemkv.protocol import encode_command

from .decoding import MakeDecoder, Outcome, chunkings, decode, failed, ok

SET = encode_command([b"SET", b"key", b"value"])
PING = encode_command([b"PING"])

# name -> (bytes, what they decode to)
SAMPLES: dict[str, tuple[bytes, Outcome]] = {
    "set": (SET, ok([b"SET", b"key", b"value"])),
    "name-not-case-folded": (b"*1\r\n$4\r\npInG\r\n", ok([b"pInG"])),
    "empty-bulk": (b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", ok([b"GET", b""])),
    "binary-payload": (
        b"*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\x00*$\xff\r\n",
        ok([b"ECHO", b"\r\n\x00*$\xff"]),
    ),
    "long-args": (
        encode_command([b"SET", b"k" * 100, b"v" * 20000]),
        ok([b"SET", b"k" * 100, b"v" * 20000]),
    ),
    "many-args": (
        encode_command([b"MSET", *[b"%d" % i for i in range(25)]]),
        ok([b"MSET", *[b"%d" % i for i in range(25)]]),
    ),
    "pipeline": (
        SET + PING + SET,
        ok([b"SET", b"key", b"value"], [b"PING"], [b"SET", b"key", b"value"]),
    ),
    "inline-crlf": (b"PING\r\n", ok([b"PING"])),
    "inline-lf": (b"PING\n", ok([b"PING"])),
    "inline-quoted": (b'PUT mykey "hello world"\r\n', ok([b"PUT", b"mykey", b"hello world"])),
    "inline-blanks": (b"  SET \t k  \x0bv \r\n", ok([b"SET", b"k", b"v"])),
    # \v and \f are blanks between arguments but do not end an unquoted one (sdssplitargs).
    "inline-vt-inside-argument": (b"SET k\x0b v\r\n", ok([b"SET", b"k\x0b", b"v"])),
    "inline-empty-quoted-arg": (b'SET k ""\r\n', ok([b"SET", b"k", b""])),
    "inline-then-multibulk": (
        b"PING\r\n" + SET + b"ECHO x\n",
        ok([b"PING"], [b"SET", b"key", b"value"], [b"ECHO", b"x"]),
    ),
    "empty-requests-skipped": (b"\r\n\n*0\r\n   \r\n*-1\r\n*-5\r\nPING\r\n", ok([b"PING"])),
    "nul-ends-inline-line": (b"GET a\x00b c\r\nPING\r\n", ok([b"GET", b"a"], [b"PING"])),
    # Redis skips the byte after a header's \r and the two bytes after a payload unseen.
    "lenient-line-ends": (b"*1\rX$4\r\nPINGxx*1\r\n$4\rXPING\r\n", ok([b"PING"], [b"PING"])),
    "incomplete-header": (b"*3\r\n$3\r\nSET\r\n$3", ok()),
    "incomplete-payload": (b"*2\r\n$3\r\nGET\r\n$100\r\nabc", ok()),
    "header-cr-without-next-byte": (b"*1\r", ok()),
    "incomplete-inline": (b"SET k v", ok()),
    "big-count-waits-for-its-elements": (b"*2147483647\r\n$1\r\na\r\n", ok()),
    "largest-bulk-waits-for-its-payload": (b"*1\r\n$536870912\r\nabc", ok()),
}

PROTOCOL_ERRORS: dict[str, tuple[bytes, Outcome]] = {
    "count-not-a-number": (b"*abc\r\n", failed("invalid multibulk length")),
    "count-over-int-max": (b"*2147483648\r\n", failed("invalid multibulk length")),
    "count-huge": (b"*99999999999\r\n", failed("invalid multibulk length")),
    "count-leading-zero": (b"*01\r\n$4\r\nPING\r\n", failed("invalid multibulk length")),
    "count-plus-sign": (b"*+1\r\n", failed("invalid multibulk length")),
    "count-minus-zero": (b"*-0\r\n", failed("invalid multibulk length")),
    "count-empty": (b"*\r\n", failed("invalid multibulk length")),
    "count-with-nul": (b"*1\x00\r\n", failed("invalid multibulk length")),
    "bulk-length-not-a-number": (b"*1\r\n$x\r\n", failed("invalid bulk length")),
    "bulk-length-negative": (b"*1\r\n$-5\r\n", failed("invalid bulk length")),
    "bulk-length-minus-one": (b"*1\r\n$-1\r\n", failed("invalid bulk length")),
    "bulk-length-over-512mb": (b"*1\r\n$536870913\r\n", failed("invalid bulk length")),
    "bulk-length-huge": (b"*1\r\n$99999999999\r\n", failed("invalid bulk length")),
    "bulk-length-2-to-the-40": (b"*1\r\n$1099511627776\r\n", failed("invalid bulk length")),
    "bulk-length-leading-zero": (b"*1\r\n$04\r\nPING\r\n", failed("invalid bulk length")),
    "bulk-length-space": (b"*1\r\n$ 4\r\nPING\r\n", failed("invalid bulk length")),
    "bulk-length-empty": (b"*1\r\n$\r\n", failed("invalid bulk length")),
    # A header line ends at \r only: here it runs "$4\nPING".
    "header-ended-by-lf-alone": (b"*1\r\n$4\nPING\r\n", failed("invalid bulk length")),
    "integer-where-bulk-expected": (b"*1\r\n:3\r\nGET\r\n", failed("expected '$', got ':'")),
    "simple-string-element": (b"*2\r\n$3\r\nGET\r\n+key\r\n", failed("expected '$', got '+'")),
    "nested-array": (b"*1\r\n*1\r\n$4\r\nPING\r\n", failed("expected '$', got '*'")),
    "empty-element-line": (b"*1\r\n\r\n", failed("expected '$', got ' '")),
    "non-ascii-element": (b"*1\r\n\xff\r\n", failed("expected '$', got '\udcff'")),
    "error-after-good-command": (
        SET + b"*1\r\n:1\r\n",
        failed("expected '$', got ':'", [b"SET", b"key", b"value"]),
    ),
    "unbalanced-double-quote": (b'SET k "abc\r\n', failed("unbalanced quotes in request")),
    "unbalanced-single-quote": (b"SET k 'abc\r\n", failed("unbalanced quotes in request")),
    "closing-quote-then-text": (b'ECHO "a"b\r\n', failed("unbalanced quotes in request")),
    "inline-line-over-64kb": (b"a" * (64 * 1024 + 1), failed("too big inline request")),
    "multibulk-header-over-64kb": (b"*" + b"1" * (64 * 1024), failed("too big mbulk count string")),
    "bulk-header-over-64kb": (b"*1\r\n$" + b"1" * (64 * 1024), failed("too big bulk count string")),
}

LIMIT_EDGES: dict[str, tuple[bytes, Outcome]] = {
    "inline-line-of-exactly-64kb": (b"a" * (64 * 1024) + b"\n", ok([b"a" * (64 * 1024)])),
    "inline-line-of-exactly-64kb-crlf": (b"a" * (64 * 1024) + b"\r\n", ok([b"a" * (64 * 1024)])),
    "inline-64kb-and-cr-waits-for-lf": (b"a" * (64 * 1024) + b"\r", ok()),
    "inline-64kb-and-cr-then-more": (b"a" * (64 * 1024) + b"\rb", failed("too big inline request")),
    "inline-line-over-64kb-with-its-newline": (
        b"a" * (64 * 1024 + 1) + b"\n",
        failed("too big inline request"),
    ),
    "bulk-of-exactly-512mb-declared": (b"*1\r\n$536870912\r\n", ok()),
}


def _check_every_chunking(make: MakeDecoder, data: bytes, expected: Outcome) -> None:
    for how, chunks in chunkings(data):
        assert decode(make, chunks) == expected, how


@pytest.mark.parametrize(("data", "expected"), SAMPLES.values(), ids=SAMPLES.keys())
def test_sample_decodes_the_same_in_any_chunks(
    make_decoder: MakeDecoder, data: bytes, expected: Outcome
) -> None:
    _check_every_chunking(make_decoder, data, expected)


@pytest.mark.parametrize(("data", "expected"), PROTOCOL_ERRORS.values(), ids=PROTOCOL_ERRORS.keys())
def test_bad_request_raises_redis_error_text(
    make_decoder: MakeDecoder, data: bytes, expected: Outcome
) -> None:
    _check_every_chunking(make_decoder, data, expected)


@pytest.mark.parametrize(("data", "expected"), LIMIT_EDGES.values(), ids=LIMIT_EDGES.keys())
def test_limit_edges(make_decoder: MakeDecoder, data: bytes, expected: Outcome) -> None:
    assert decode(make_decoder, [data]) == expected
    assert decode(make_decoder, [data[:-1], data[-1:]]) == expected


GOOD = {name: case for name, case in SAMPLES.items() if case[1].commands}


@pytest.mark.parametrize(("data", "expected"), GOOD.values(), ids=GOOD.keys())
def test_command_followed_by_another(
    make_decoder: MakeDecoder, data: bytes, expected: Outcome
) -> None:
    followed = Outcome((*expected.commands, (b"PING",)))
    _check_every_chunking(make_decoder, data + PING, followed)


@pytest.mark.parametrize(
    "garbage", [b"\x00\xff*x\r\n", b"*1\r\n$-2\r\n", b'"open', b"$3\r\nabc\r\n"]
)
@pytest.mark.parametrize(("data", "expected"), GOOD.values(), ids=GOOD.keys())
def test_trailing_garbage_does_not_change_earlier_commands(
    make_decoder: MakeDecoder, data: bytes, expected: Outcome, garbage: bytes
) -> None:
    outcome = decode(make_decoder, [data + garbage])
    assert outcome.commands[: len(expected.commands)] == expected.commands
    assert decode(make_decoder, [data, garbage]) == outcome


def test_pipeline_of_many_commands_in_one_feed(make_decoder: MakeDecoder) -> None:
    commands = []
    for i in range(3000):
        if i % 3 == 0:
            commands.append([b"SET", b"key:%d" % i, b"v" * (i % 150)])
        elif i % 3 == 1:
            commands.append([b"GET", b"key:%d" % i])
        else:
            commands.append([b"MSET", *[b"%d" % j for j in range(i % 30)]])
    data = b"".join(encode_command(c) for c in commands) + b"PING\r\n"
    expected = ok(*commands, [b"PING"])
    assert decode(make_decoder, [data]) == expected
    assert decode(make_decoder, [data[i : i + 4096] for i in range(0, len(data), 4096)]) == expected
    assert decode(make_decoder, [data[i : i + 7] for i in range(0, len(data), 7)]) == expected


def test_no_command_before_the_whole_command_arrived(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    for byte in SET[:-1]:
        decoder.feed(bytes([byte]))
        assert decoder.next_command() is None
    decoder.feed(SET[-1:])
    assert decoder.next_command() == [b"SET", b"key", b"value"]
    assert decoder.next_command() is None


def test_error_is_raised_again_and_later_bytes_are_ignored(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    decoder.feed(b"*1\r\n:1\r\n")
    with pytest.raises(Exception, match="expected '\\$', got ':'") as first:
        decoder.next_command()
    decoder.feed(PING)
    with pytest.raises(type(first.value), match="expected '\\$', got ':'"):
        decoder.next_command()


def test_buffered_bytes_counts_what_is_not_yet_a_command(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    assert decoder.buffered_bytes == 0
    decoder.feed(SET + PING[:5])
    assert decoder.next_command() == [b"SET", b"key", b"value"]
    assert decoder.next_command() is None
    assert decoder.buffered_bytes <= 5
    decoder.feed(PING[5:])
    assert decoder.next_command() == [b"PING"]
    assert decoder.buffered_bytes == 0


def test_accepts_bytearray_and_memoryview_chunks(make_decoder: MakeDecoder) -> None:
    decoder = make_decoder(None)
    decoder.feed(bytearray(SET[:10]))
    decoder.feed(memoryview(SET)[10:])
    assert decoder.next_command() == [b"SET", b"key", b"value"]
