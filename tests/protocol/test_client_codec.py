"""The client side: encoding commands and decoding RESP2/RESP3 replies."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandemkv.protocol import (
    NEED_MORE,
    BigNumber,
    ErrorReply,
    NullArray,
    ProtocolError,
    Push,
    ReplyDecoder,
    ReplyProtocolError,
    SetReply,
    SimpleString,
    Verbatim,
    encode_command,
    encode_reply,
)

# ------------------------------------------------------------------ encode_command


def test_encode_command_exact_bytes() -> None:
    assert encode_command([b"SET", "clé", 42, -1]) == (
        b"*4\r\n$3\r\nSET\r\n$4\r\ncl\xc3\xa9\r\n$2\r\n42\r\n$2\r\n-1\r\n"
    )
    assert encode_command([b""]) == b"*1\r\n$0\r\n\r\n"
    assert encode_command([]) == b"*0\r\n"
    assert encode_command((bytearray(b"ab"),)) == b"*1\r\n$2\r\nab\r\n"  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, 1.5, None, [b"x"]])
def test_encode_command_refuses_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match="bytes, str or int"):
        encode_command([b"SET", bad])  # type: ignore[list-item]


# ------------------------------------------------------------------ ReplyDecoder

# wire bytes -> decoded value
REPLIES: list[tuple[str, bytes, object]] = [
    ("simple", b"+OK\r\n", SimpleString("OK")),
    ("error", b"-ERR bad thing\r\n", ErrorReply("ERR bad thing")),
    ("integer", b":-12\r\n", -12),
    ("bulk", b"$5\r\nhe\r\no\r\n", b"he\r\no"),
    ("empty-bulk", b"$0\r\n\r\n", b""),
    ("null-bulk", b"$-1\r\n", None),
    ("null-array", b"*-1\r\n", NullArray),
    ("array", b"*2\r\n:1\r\n$1\r\na\r\n", [1, b"a"]),
    ("empty-array", b"*0\r\n", []),
    ("null", b"_\r\n", None),
    ("double", b",1.5\r\n", 1.5),
    ("double-inf", b",-inf\r\n", -math.inf),
    ("true", b"#t\r\n", True),
    ("false", b"#f\r\n", False),
    ("blob-error", b"!8\r\nERR a\r\nb\r\n", ErrorReply("ERR a\r\nb")),
    ("verbatim", b"=15\r\ntxt:Some string\r\n", Verbatim("txt", b"Some string")),
    (
        "big-number",
        b"(3492890328409238509324850943850943825024385\r\n",
        BigNumber(3492890328409238509324850943850943825024385),
    ),
    ("map", b"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n#f\r\n", {SimpleString("a"): 1, b"b": False}),
    ("map-with-list-key", b"%1\r\n*2\r\n:1\r\n:2\r\n+v\r\n", {(1, 2): SimpleString("v")}),
    ("set", b"~2\r\n+a\r\n+b\r\n", SetReply((SimpleString("a"), SimpleString("b")))),
    ("push", b">2\r\n+pubsub\r\n:1\r\n", Push((SimpleString("pubsub"), 1))),
    ("attribute-dropped", b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n:7\r\n", 7),
    ("nested-attribute-dropped", b"*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n", [1, 2]),
    ("nested", b"*2\r\n*1\r\n~1\r\n_\r\n%0\r\n", [[SetReply((None,))], {}]),
]


def read_all(decoder: ReplyDecoder) -> list[object]:
    replies = []
    while (reply := decoder.next_reply()) is not NEED_MORE:
        replies.append(reply)
    return replies


@pytest.mark.parametrize(
    ("data", "expected"), [r[1:] for r in REPLIES], ids=[r[0] for r in REPLIES]
)
def test_reply_decodes_whole_and_byte_by_byte(data: bytes, expected: object) -> None:
    decoder = ReplyDecoder()
    decoder.feed(data)
    assert read_all(decoder) == [expected]

    decoder = ReplyDecoder()
    for i in range(len(data) - 1):
        decoder.feed(data[i : i + 1])
        assert decoder.next_reply() is NEED_MORE
    decoder.feed(data[-1:])
    assert read_all(decoder) == [expected]


def test_pipelined_replies_come_out_in_order() -> None:
    decoder = ReplyDecoder()
    decoder.feed(b"".join(data for _, data, _ in REPLIES))
    assert read_all(decoder) == [expected for _, _, expected in REPLIES]


@pytest.mark.parametrize(
    "data",
    [
        b"?\r\n",
        b":12x\r\n",
        b"#x\r\n",
        b",nope\r\n",
        b"$-2\r\n",
        b"*-2\r\n",
        b"$1\r\nabc\r\n",
        b"_x\r\n",
        b"=2\r\nab\r\n",
        b":" + b"9" * 5000 + b"\r\n",
    ],
)
def test_malformed_replies_raise(data: bytes) -> None:
    decoder = ReplyDecoder()
    decoder.feed(data)
    with pytest.raises(ReplyProtocolError):
        decoder.next_reply()
    with pytest.raises(ProtocolError):  # and again: the decoder is not usable afterwards
        decoder.next_reply()


# ------------------------------------------------------------------ encode -> decode round trip

# Status and error lines cannot carry CR or LF; lone surrogates are not text.
LINE_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n")

scalars = st.one_of(
    st.binary(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(LINE_CHARS, max_size=20).map(SimpleString),
    st.text(LINE_CHARS, max_size=20).map(ErrorReply),
    st.builds(Verbatim, st.sampled_from(["txt", "mkd"]), st.binary(max_size=30)),
    st.integers().map(BigNumber),
)
keys = st.one_of(
    st.binary(max_size=10),
    st.integers(),
    st.booleans(),
    st.text(LINE_CHARS, max_size=5).map(SimpleString),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=4),
        st.lists(children, max_size=4).map(lambda items: SetReply(tuple(items))),
        st.lists(children, max_size=4).map(lambda items: Push(tuple(items))),
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    replies=st.lists(values, min_size=1, max_size=5), chunk=st.integers(min_value=1, max_value=64)
)
def test_resp3_round_trip(replies: list[object], chunk: int) -> None:
    data = b"".join(encode_reply(reply, resp3=True) for reply in replies)
    decoder = ReplyDecoder()
    decoded: list[object] = []
    for i in range(0, len(data), chunk):
        decoder.feed(data[i : i + chunk])
        decoded.extend(read_all(decoder))
    assert decoded == replies


resp2_values = st.recursive(
    st.one_of(
        st.binary(max_size=30),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.none(),
        st.text(LINE_CHARS, max_size=20).map(SimpleString),
        st.text(LINE_CHARS, max_size=20).map(ErrorReply),
        st.just(NullArray),
    ),
    lambda children: st.lists(children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(reply=resp2_values)
def test_resp2_round_trip(reply: object) -> None:
    decoder = ReplyDecoder()
    decoder.feed(encode_reply(reply, resp3=False))
    assert read_all(decoder) == [reply]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=100), chunk=st.integers(min_value=1, max_value=16))
def test_garbage_replies_only_decode_or_raise_reply_protocol_error(data: bytes, chunk: int) -> None:
    decoder = ReplyDecoder()
    try:
        for i in range(0, len(data), chunk):
            decoder.feed(data[i : i + chunk])
            read_all(decoder)
    except ReplyProtocolError:
        pass
