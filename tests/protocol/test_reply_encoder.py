"""Reply encoding: the exact bytes for every value type, in RESP2 and RESP3."""

from __future__ import annotations

import enum
import math
from collections.abc import Generator

import pytest

from tandemkv.protocol import (
    OK,
    BigNumber,
    ErrorReply,
    NullArray,
    Push,
    SetReply,
    SimpleString,
    Verbatim,
    encode_replies,
    encode_reply,
)
from tandemkv.protocol.encoder import (
    ENCODE_BYTES,
    ENCODE_SLICE,
    encode_in_slices,
    reply_size,
)
from tandemkv.protocol.types import EncodedParts

# value -> (RESP2 bytes, RESP3 bytes)
CASES: list[tuple[str, object, bytes, bytes]] = [
    ("ok", OK, b"+OK\r\n", b"+OK\r\n"),
    ("simple", SimpleString("PONG"), b"+PONG\r\n", b"+PONG\r\n"),
    ("empty-simple", SimpleString(""), b"+\r\n", b"+\r\n"),
    ("error", ErrorReply("ERR no"), b"-ERR no\r\n", b"-ERR no\r\n"),
    ("bulk", b"hello", b"$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    ("empty-bulk", b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    ("binary-bulk", b"a\r\n\x00", b"$4\r\na\r\n\x00\r\n", b"$4\r\na\r\n\x00\r\n"),
    (
        "big-bulk",
        b"x" * 5000,
        b"$5000\r\n" + b"x" * 5000 + b"\r\n",
        b"$5000\r\n" + b"x" * 5000 + b"\r\n",
    ),
    ("bytearray", bytearray(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
    ("str-is-utf8-bulk", "héllo", b"$6\r\nh\xc3\xa9llo\r\n", b"$6\r\nh\xc3\xa9llo\r\n"),
    ("zero", 0, b":0\r\n", b":0\r\n"),
    ("minus-one", -1, b":-1\r\n", b":-1\r\n"),
    ("small-int", 1022, b":1022\r\n", b":1022\r\n"),
    ("int", 1023, b":1023\r\n", b":1023\r\n"),
    ("negative", -42, b":-42\r\n", b":-42\r\n"),
    ("int64-max", 2**63 - 1, b":9223372036854775807\r\n", b":9223372036854775807\r\n"),
    ("true", True, b":1\r\n", b"#t\r\n"),
    ("false", False, b":0\r\n", b"#f\r\n"),
    ("none", None, b"$-1\r\n", b"_\r\n"),
    ("null-array", NullArray, b"*-1\r\n", b"_\r\n"),
    ("empty-list", [], b"*0\r\n", b"*0\r\n"),
    ("list", [b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
    ("tuple", (b"a",), b"*1\r\n$1\r\na\r\n", b"*1\r\n$1\r\na\r\n"),
    (
        "dict",
        {b"k": 1, b"j": [True]},
        b"*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n*1\r\n:1\r\n",
        b"%2\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n*1\r\n#t\r\n",
    ),
    ("empty-dict", {}, b"*0\r\n", b"%0\r\n"),
    (
        "set",
        SetReply((b"a", b"b")),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"~2\r\n$1\r\na\r\n$1\r\nb\r\n",
    ),
    (
        "push",
        Push((b"message", b"ch", b"hi")),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
    ),
    (
        "verbatim",
        Verbatim("txt", b"Some string"),
        b"$11\r\nSome string\r\n",
        b"=15\r\ntxt:Some string\r\n",
    ),
    ("verbatim-short-format", Verbatim("md", b"# x"), b"$3\r\n# x\r\n", b"=7\r\nmd :# x\r\n"),
    ("verbatim-long-format", Verbatim("text", b"x"), b"$1\r\nx\r\n", b"=5\r\ntex:x\r\n"),
    (
        "big-number",
        BigNumber(3492890328409238509324850943850943825024385),
        b"$43\r\n3492890328409238509324850943850943825024385\r\n",
        b"(3492890328409238509324850943850943825024385\r\n",
    ),
    (
        "negative-big-number",
        BigNumber(-(2**70)),
        b"$23\r\n-1180591620717411303424\r\n",
        b"(-1180591620717411303424\r\n",
    ),
    # Doubles: %.17g, as Redis 7.0 prints them.
    ("double", 1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    ("double-tenth", 0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
    ("double-integral", 3.0, b"$1\r\n3\r\n", b",3\r\n"),
    (
        "double-exponent",
        1e300,
        b"$23\r\n1.0000000000000001e+300\r\n",
        b",1.0000000000000001e+300\r\n",
    ),
    (
        "double-tiny",
        -2.5e-10,
        b"$23\r\n-2.5000000000000002e-10\r\n",
        b",-2.5000000000000002e-10\r\n",
    ),
    (
        "double-power-of-two",
        2.0**100,
        b"$22\r\n1.2676506002282294e+30\r\n",
        b",1.2676506002282294e+30\r\n",
    ),
    ("negative-zero", -0.0, b"$2\r\n-0\r\n", b",-0\r\n"),
    ("inf", math.inf, b"$3\r\ninf\r\n", b",inf\r\n"),
    ("minus-inf", -math.inf, b"$4\r\n-inf\r\n", b",-inf\r\n"),
    ("nan", math.nan, b"$3\r\nnan\r\n", b",nan\r\n"),
    (
        "nested",
        [[b"a", [SetReply((1,))]], {b"m": {b"n": None}}],
        b"*2\r\n*2\r\n$1\r\na\r\n*1\r\n*1\r\n:1\r\n*2\r\n$1\r\nm\r\n*2\r\n$1\r\nn\r\n$-1\r\n",
        b"*2\r\n*2\r\n$1\r\na\r\n*1\r\n~1\r\n:1\r\n%1\r\n$1\r\nm\r\n%1\r\n$1\r\nn\r\n_\r\n",
    ),
]


@pytest.mark.parametrize(
    ("value", "resp2", "resp3"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_exact_bytes(value: object, resp2: bytes, resp3: bytes) -> None:
    assert encode_reply(value, resp3=False) == resp2
    assert encode_reply(value, resp3=True) == resp3


def test_batch_is_the_concatenation() -> None:
    values = [c[1] for c in CASES]
    for resp3 in (False, True):
        assert encode_replies(values, resp3) == b"".join(encode_reply(v, resp3) for v in values)
    assert encode_replies([], resp3=True) == b""


@pytest.mark.parametrize("resp3", [False, True])
def test_cr_and_lf_in_error_and_status_text_become_spaces(resp3: bool) -> None:
    assert encode_reply(ErrorReply("ERR bad\r\nthing\n"), resp3) == b"-ERR bad  thing \r\n"
    assert encode_reply(SimpleString("a\rb"), resp3) == b"+a b\r\n"


def test_raw_bytes_in_error_text_go_out_unchanged() -> None:
    # Protocol errors quote the byte they met, which may not be UTF-8.
    message = (
        "ERR Protocol error: expected '$', got '" + b"\xff".decode("utf-8", "surrogateescape") + "'"
    )
    assert (
        encode_reply(ErrorReply(message), False)
        == b"-ERR Protocol error: expected '$', got '\xff'\r\n"
    )


def test_error_messages_are_not_mistaken_for_cached_status_lines() -> None:
    assert encode_reply(SimpleString("x\ny"), False) == b"+x y\r\n"
    assert encode_reply("OK", False) == b"$2\r\nOK\r\n"


class Color(enum.IntEnum):
    RED = 7


class Key(bytes):
    pass


class Status(SimpleString):
    pass


def test_subclasses_encode_as_their_base() -> None:
    assert encode_reply(Color.RED, False) == b":7\r\n"
    assert encode_reply(Key(b"k"), True) == b"$1\r\nk\r\n"
    assert encode_reply(Status("OK"), True) == b"+OK\r\n"


@pytest.mark.parametrize("value", [object(), {1, 2}, 1j, frozenset(), [b"ok", object()]])
@pytest.mark.parametrize("resp3", [False, True])
def test_values_outside_the_vocabulary_are_a_type_error(value: object, resp3: bool) -> None:
    with pytest.raises(TypeError, match="cannot encode"):
        encode_reply(value, resp3)


def test_text_with_a_lone_surrogate_still_encodes() -> None:
    assert encode_reply("a\ud800", True) == b"$7\r\na\\ud800\r\n"
    assert encode_reply("a\udcff", True) == b"$2\r\na\xff\r\n"


# ------------------------------------------------------------------ encoding in slices


def _steps(job: Generator[None, None, object]) -> tuple[int, object]:
    steps = 0
    while True:
        try:
            next(job)
        except StopIteration as done:
            return steps, done.value
        steps += 1


@pytest.mark.parametrize("resp3", [False, True])
def test_long_arrays_encode_in_slices_to_the_same_bytes(resp3: bool) -> None:
    keys: list[object] = [b"k%d" % i for i in range(2 * ENCODE_SLICE + 1)]
    exec_reply: list[object] = [keys, OK, keys[:10], [keys, 5], keys]  # EXEC of KEYS...
    # EXEC's: 2 steps per long KEYS reply ([keys, 5], a short array, is one item, as before).
    for value, least_steps in [(keys, 2), (exec_reply, 4)]:
        steps, encoded = _steps(encode_in_slices(value, resp3))
        assert isinstance(encoded, EncodedParts)
        assert b"".join(encoded.parts) == encode_reply(value, resp3)
        assert encode_reply(encoded, resp3) == encode_reply(value, resp3)
        assert steps >= least_steps


def test_short_values_are_left_for_the_connection() -> None:
    for value in [[b"a"] * ENCODE_SLICE, [[b"a"] * (ENCODE_SLICE - 1)], b"x", 7]:
        assert _steps(encode_in_slices(value, resp3=False)) == (0, value)


MiB = 1024 * 1024


def _bounded_parts(encoded: object) -> tuple[bytes, ...]:
    """The parts, each checked to hold at most the byte budget plus one item."""
    assert isinstance(encoded, EncodedParts)
    for part in encoded.parts:
        assert len(part) <= ENCODE_BYTES + MiB + 64
    return encoded.parts


@pytest.mark.parametrize("resp3", [False, True])
def test_few_big_items_are_encoded_in_steps_bounded_by_bytes(resp3: bool) -> None:
    """Regression: steps were bounded by item count only, so 20,000 members of 64 KiB (a
    1.3 GB SRANDMEMBER reply) were copied in one step, and a shorter array of big items in
    one go by the connection."""
    items: list[object] = [b"%c" % (65 + i % 26) * MiB for i in range(100)]
    steps, encoded = _steps(encode_in_slices(items, resp3))
    assert steps >= 100 * MiB // ENCODE_BYTES - 1
    assert b"".join(_bounded_parts(encoded)) == encode_reply(items, resp3)


@pytest.mark.parametrize("resp3", [False, True])
def test_sets_maps_and_nested_arrays_of_big_items_are_bounded_by_bytes(resp3: bool) -> None:
    big = [b"%06d" % i + b"x" * MiB for i in range(40)]
    values: list[object] = [
        SetReply(tuple(big)),
        {key: key[:6] for key in big},
        [OK, list(big), [b"a", 1], list(big)],  # EXEC of two big replies
    ]
    for value in values:
        steps, encoded = _steps(encode_in_slices(value, resp3))
        assert steps >= 8, type(value)
        assert b"".join(_bounded_parts(encoded)) == encode_reply(value, resp3)


def test_a_short_array_of_small_items_is_left_for_the_connection() -> None:
    value = [b"x" * 1024] * (ENCODE_BYTES // 2048)  # half the byte budget
    assert _steps(encode_in_slices(value, resp3=True)) == (0, value)


def test_reply_size_counts_strings_inside_arrays_sets_and_maps() -> None:
    assert reply_size([b"abc", b"de"]) == 5
    assert reply_size([b"abc", None, 7]) == 3 + 8 + 8  # as the hard limit estimated
    assert reply_size([[b"abc"] * 10, b"x"]) == 31  # EXEC's: the arrays' strings
    assert reply_size({b"key": b"value"}) == 8
    assert reply_size(SetReply((b"ab", b"cd"))) == 4
