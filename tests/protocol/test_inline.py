"""Inline request lines split exactly as Redis's sdssplitargs does.

Every case here was also sent to redis-server 7.0.15 (as `RPUSH k <line>` / `LRANGE`), and
a few hundred random lines over the same alphabet gave identical results.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandemkv.protocol import ProtocolError, split_inline

from .decoding import MakeDecoder, chunkings, decode, failed, ok

SPLITS: list[tuple[bytes, list[bytes] | None]] = [
    (b"", []),
    (b"   \t ", []),
    (b"GET key", [b"GET", b"key"]),
    (b"  GET   key  ", [b"GET", b"key"]),
    (b'PUT mykey "hello world"', [b"PUT", b"mykey", b"hello world"]),
    (b'"" x', [b"", b"x"]),
    (b"''", [b""]),
    (b'"\\n\\r\\t\\b\\a\\\\\\"\\q"', [b'\n\r\t\b\x07\\"q']),
    (b'"\\x41\\x4g\\x" b', [b"Ax4gx", b"b"]),
    (b'"\\x7e\\xFF\\x00"', [b"~\xff\x00"]),
    (b"'it\\'s' x", [b"it's", b"x"]),
    (b"'a\\b\\n'", [b"a\\b\\n"]),
    (b'a"b c"', [b"ab c"]),
    (b"a'b c'd", None),
    (b'a"b c" d', [b"ab c", b"d"]),
    (b"a\x0bb \x0cc", [b"a\x0bb", b"c"]),
    (b"\x0b a \x0c", [b"a"]),
    (b'"a\x0bb"\x0b', [b"a\x0bb"]),
    (b"a\rb", [b"a", b"b"]),
    (b"GET a\x00b c", [b"GET", b"a"]),
    (b'"a"b', None),
    (b"'a'b", None),
    (b'"abc', None),
    (b"'abc", None),
    (b'"abc\\"', None),
    (b'"a\x00b"', None),
]


@pytest.mark.parametrize(("line", "expected"), SPLITS, ids=[repr(line) for line, _ in SPLITS])
def test_split_inline(line: bytes, expected: list[bytes] | None) -> None:
    if expected is None:
        with pytest.raises(ProtocolError, match=r"^unbalanced quotes in request$"):
            split_inline(line)
    else:
        assert split_inline(line) == expected


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_line_endings(make_decoder: MakeDecoder, ending: bytes) -> None:
    data = b'SET "a b" c' + ending + b"PING" + ending
    for how, chunks in chunkings(data):
        assert decode(make_decoder, chunks) == ok([b"SET", b"a b", b"c"], [b"PING"]), how


def test_only_one_cr_is_part_of_the_line_ending(make_decoder: MakeDecoder) -> None:
    # "a\r\r\n": the line is "a\r", and \r is a blank between arguments.
    assert decode(make_decoder, [b"ECHO a\r\r\n"]) == ok([b"ECHO", b"a"])
    assert decode(make_decoder, [b'ECHO "a\r"\r\n']) == ok([b"ECHO", b"a\r"])


def test_unbalanced_quotes_stop_the_connection_after_earlier_commands(
    make_decoder: MakeDecoder,
) -> None:
    data = b"PING\r\nSET k 'v\r\nPING\r\n"
    assert decode(make_decoder, [data]) == failed("unbalanced quotes in request", [b"PING"])


def quote(arg: bytes) -> bytes:
    """arg as a double-quoted inline argument, escaping what must be (as redis-cli does)."""
    out = bytearray(b'"')
    for byte in arg:
        if byte in b'"\\':
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\x%02x" % byte
    return bytes(out + b'"')


@given(
    args=st.lists(st.binary(max_size=20), min_size=1, max_size=8),
    blanks=st.sampled_from([b" ", b"\t", b"  \x0b "]),
)
def test_quoted_arguments_split_back(args: list[bytes], blanks: bytes) -> None:
    assert split_inline(blanks.join(quote(arg) for arg in args)) == args


@given(
    words=st.lists(
        st.binary(min_size=1, max_size=10).filter(
            lambda w: not set(w) & set(b" \t\r\n\x0b\x0c\"'\x00")
        ),
        max_size=8,
    )
)
def test_plain_words_split_like_bytes_split(words: list[bytes]) -> None:
    assert split_inline(b" ".join(words)) == words
