"""The grammar on its own: pure and fast, no server.

The COMMAND INFO and COMMAND DOCS replies are built from tandemkv's own table by the same
functions the server answers with, then shaped as the RESP client decodes them.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from fuzz.exclusions import EXCLUDED_NAMES, EXCLUDED_SUBCOMMANDS
from fuzz.grammar import (
    Grammar,
    GrammarConfig,
    Request,
    inline_safe,
    key_positions,
)
from fuzz.table import OneOf, Repeat, Seq, Slot, Token, parse_argument, parse_fragment
from fuzz.values import ALLOCATION_CAP, MAX_STRING, TIMEOUTS, Kind, ValueConfig
from tandemkv.commands import engine  # noqa: F401  importing it fills the command table
from tandemkv.commands.introspection import describe, document
from tandemkv.commands.table import unique_specs
from tandemkv.protocol.types import SetReply

# No deep MULTI or giant requests: for tests that look at one command's requests.
QUICK = GrammarConfig(multi_chance=0.0, giant_chance=0.0)
# Operator and stream commands of tandemkv's table that the exclusions must keep out.
NEVER = {
    b"shutdown",
    b"save",
    b"add_backup",
    b"remove_node",
    b"failover",
    b"promote",
    *EXCLUDED_NAMES,
}


def plain(value: Any) -> Any:
    """A reply value as the RESP client decodes it (sets become lists, statuses str)."""
    if isinstance(value, SetReply):
        return [plain(item) for item in value.items]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    return value


def table_replies() -> tuple[list[Any], dict[bytes, Any]]:
    specs = unique_specs()
    info = plain([describe(spec) for spec in specs])
    docs = plain({spec.name.encode(): document(spec) for spec in specs})
    return info, docs


def grammar(
    extra_info: list[Any] | None = None,
    extra_docs: dict[bytes, Any] | None = None,
    config: GrammarConfig | None = None,
) -> Grammar:
    info, docs = table_replies()
    return Grammar.from_replies(
        [*info, *(extra_info or [])], {**docs, **(extra_docs or {})}, config or GrammarConfig()
    )


def drawn(g: Grammar, seed: int, batches: int) -> list[Request]:
    rng = random.Random(seed)
    return [request for _ in range(batches) for request in g.batch(rng)]


def test_every_command_in_the_table_is_described() -> None:
    g = grammar()
    assert set(g.all_shapes) == {spec.name.encode() for spec in unique_specs()}
    assert g.all_shapes[b"set"].tokens() >= {b"NX", b"XX", b"IFEQ", b"GET", b"EX", b"KEEPTTL"}
    assert g.all_shapes[b"mset"].first_key == 1 and g.all_shapes[b"mset"].key_step == 2


def test_requests_respect_arity_unless_drawn_to_break_it() -> None:
    g = grammar()
    requests = drawn(g, seed=11, batches=3000)
    assert {r.how for r in requests} >= {"grammar", "soup", "wrong-arity", "giant"}
    for request in requests:
        shape = g.all_shapes[request.args[0].lower()]
        allowed = shape.arity_allows(len(request.args))
        assert allowed == (request.how != "wrong-arity"), (request.how, request.literal())


def test_excluded_commands_are_never_drawn() -> None:
    g = grammar(config=GrammarConfig(multi_chance=0.05, multi_depth=(20, 60)))
    requests = drawn(g, seed=5, batches=3000)
    names = {r.args[0].lower() for r in requests}
    assert not names & NEVER
    for request in requests:
        pair = b"|".join(arg.lower() for arg in request.args[:2])
        assert pair not in EXCLUDED_SUBCOMMANDS, request.literal()
    # The exceptions to the admin flag, and the refused node-to-node commands, are in.
    assert names >= {b"config", b"sentinel", b"client", b"replicate", b"heartbeat", b"multi"}


def test_the_same_seed_draws_the_same_requests() -> None:
    first, second = grammar(), grammar()
    assert drawn(first, seed=99, batches=300) == drawn(second, seed=99, batches=300)
    assert drawn(first, seed=99, batches=300) != drawn(first, seed=100, batches=300)


def test_a_command_added_to_the_table_is_fuzzed_without_code_changes() -> None:
    info = [[b"zfrob", -3, ["write"], 1, 1, 1, ["@sortedset"], [], [], []]]
    docs = {
        b"zfrob": {
            b"summary": b"a command the fuzzer has never heard of",
            b"arguments": [
                {b"name": b"key", b"type": b"key"},
                {b"name": b"member", b"type": b"string", b"flags": ["multiple"]},
                {
                    b"name": b"WITHFROB",
                    b"type": b"pure-token",
                    b"token": b"WITHFROB",
                    b"flags": ["optional"],
                },
            ],
        }
    }
    g = grammar(info, docs, QUICK)
    frobs = [r for r in drawn(g, seed=3, batches=5000) if r.args[0].lower() == b"zfrob"]
    assert len(frobs) > 20
    assert any(b"WITHFROB" in (arg.upper() for arg in r.args) for r in frobs)
    keys = set(g.values.plain_keys)
    assert any(r.args[1] in keys for r in frobs)


def test_a_new_admin_command_is_excluded_by_its_flag() -> None:
    info = [[b"debug", -2, ["admin", "noscript"], 0, 0, 0, ["@admin"], [], [], []]]
    g = grammar(info, {})
    assert b"debug" in g.all_shapes
    assert all(r.args[0].lower() != b"debug" for r in drawn(g, seed=8, batches=3000))


def test_redis_style_nested_arguments_parse() -> None:
    expiration = {
        "name": "expiration",
        "type": "oneof",
        "flags": ["optional"],
        "arguments": [
            {"name": "seconds", "type": "integer", "token": "EX"},
            {"name": "keepttl", "type": "pure-token", "token": "KEEPTTL"},
        ],
    }
    assert parse_argument(expiration) == Repeat(
        OneOf((Seq((Token(b"EX"), Slot("seconds", Kind.INTEGER))), Token(b"KEEPTTL"))),
        optional=True,
        multiple=False,
    )


def test_tandemkv_syntax_fragments_parse_into_choices() -> None:
    assert parse_fragment("NX|XX|IFEQ comparison") == OneOf(
        (Token(b"NX"), Token(b"XX"), Seq((Token(b"IFEQ"), Slot("comparison", Kind.STRING))))
    )
    assert parse_fragment("cursor") == Slot("cursor", Kind.CURSOR)
    assert parse_fragment("key", "key") == Slot("key", Kind.KEY)
    assert parse_fragment("timeout") == Slot("timeout", Kind.TIMEOUT)


def test_timeouts_are_never_zero_or_long() -> None:
    """WAIT blocks for its timeout (0: for ever), so it is drawn only from its grammar."""
    g = grammar(config=QUICK)
    waits = [r for r in drawn(g, seed=4, batches=5000) if r.args[0].lower() == b"wait"]
    assert waits
    assert b"0" not in TIMEOUTS
    for request in waits:
        if request.how != "wrong-arity":
            assert request.how == "grammar" and request.args[2] in TIMEOUTS, request.literal()


def test_no_integer_asks_for_an_allocation_between_the_cap_and_the_string_limit() -> None:
    """SETRANGE-like commands allocate up to their offset: drawn offsets stay small, or
    go past 512 MiB, where the server must refuse."""
    g = grammar(config=GrammarConfig(values=ValueConfig(long_chance=0.0)))
    for request in drawn(g, seed=21, batches=5000):
        for arg in request.args:
            if re.fullmatch(rb"-?[0-9]{1,29}", arg):
                assert not ALLOCATION_CAP < int(arg) < MAX_STRING, request.literal()


def test_key_positions_follow_first_last_and_step() -> None:
    g = grammar()
    assert key_positions(g.all_shapes[b"mset"], 7) == {1, 3, 5}
    assert key_positions(g.all_shapes[b"del"], 4) == {1, 2, 3}
    assert key_positions(g.all_shapes[b"get"], 2) == {1}
    assert key_positions(g.all_shapes[b"keys"], 2) == set()


@pytest.mark.parametrize(
    ("args", "safe"),
    [
        ((b"SET", b"k", b"v"), True),
        ((b"SET", b"k", b"two words"), False),
        ((b"SET", b"k", b""), False),
        ((b"SET", b"k", b"a\r\nb"), False),
        ((b"SET", b"k", b"a\x00b"), False),
        ((b"SET", b"k", b"\x0bb"), False),
        ((b"SET", b"k", b"x" * 70_000), False),
    ],
)
def test_inline_only_when_the_line_splits_back_into_the_same_arguments(
    args: tuple[bytes, ...], safe: bool
) -> None:
    assert inline_safe(args) is safe


def test_a_request_literal_shortens_long_arguments() -> None:
    request = Request((b"SET", b"k", b"x" * 100_000, *([b"NX"] * 20)), "soup")
    text = request.literal()
    assert "(100000 bytes)" in text and "more arguments" in text and len(text) < 600
    assert Request((b"PING",), "grammar", inline=True).wire() == b"PING\r\n"


def test_xread_block_is_drawn_as_a_wait_never_zero() -> None:
    """BLOCK's value is an integer by name, but 0 there waits for ever."""
    g = grammar(config=QUICK)
    assert g.all_shapes[b"xread"].has_kind(Kind.TIMEOUT)
    blocks = [
        r.args[r.args.index(b"BLOCK") + 1]
        for r in drawn(g, seed=8, batches=5000)
        if r.args[0].lower() == b"xread" and r.how == "grammar" and b"BLOCK" in r.args[:-1]
    ]
    assert blocks and set(blocks) <= set(TIMEOUTS)
    assert parse_fragment("BLOCK milliseconds") == Seq(
        (Token(b"BLOCK"), Slot("milliseconds", Kind.TIMEOUT))
    )


def test_subscribing_and_unsubscribing_are_never_drawn_but_publishing_is() -> None:
    g = grammar()
    names = {r.args[0].lower() for r in drawn(g, seed=9, batches=3000)}
    assert not names & {b"subscribe", b"psubscribe", b"unsubscribe", b"punsubscribe"}
    assert {b"publish", b"pubsub"} <= names


def test_collection_keys_are_drawn_but_never_in_a_deep_multi() -> None:
    big = (b"big:hash", b"big:set")
    g = grammar(config=GrammarConfig(values=ValueConfig(collection_keys=big), multi_chance=0.05))
    rng = random.Random(10)
    in_multi, alone = 0, 0
    for _ in range(1000):
        batch = g.batch(rng)
        hits = sum(1 for r in batch for arg in r.args if arg in big)
        if batch[0].args == (b"MULTI",):
            in_multi += hits
        else:
            alone += hits
    assert alone > 100 and in_multi == 0


def test_long_repeating_random_picks_are_drawn_only_on_the_loaded_collections() -> None:
    """SRANDMEMBER k -100000 on members the fuzzer wrote (up to 64 KiB) would be a reply of
    gigabytes, an amplifier like MGET of one big key many times: past REPEATED_PICKS_MAX
    picks such requests go only to the loader's collections (short members). Counts the
    server refuses (past a million) and short ones are still drawn anywhere."""
    big = (b"big:set", b"big:hash", b"big:zset")
    g = grammar(config=GrammarConfig(values=ValueConfig(collection_keys=big)))
    assert g._amplifies((b"SRANDMEMBER", b"k1", b"-100000"))
    assert g._amplifies((b"hrandfield", b"k1", b"-1001", b"WITHVALUES"))
    assert not g._amplifies((b"ZRANDMEMBER", b"big:zset", b"-100000"))
    assert not g._amplifies((b"SRANDMEMBER", b"k1", b"-1000"))
    assert not g._amplifies((b"SRANDMEMBER", b"k1", b"-9223372036854775807"))
    assert not g._amplifies((b"SRANDMEMBER", b"k1", b"100000"))
    assert not g._amplifies((b"MGET", b"k1", b"-100000"))
    picks = [
        r.args
        for r in drawn(g, seed=11, batches=3000)
        if r.args[0].lower() in (b"srandmember", b"hrandfield", b"zrandmember")
    ]
    assert picks, "the fuzzer still draws random picks"
    assert not any(g._amplifies(args) for args in picks)
