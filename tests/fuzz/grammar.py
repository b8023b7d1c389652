"""Requests drawn from the server's own command table (table.py), one seeded stream each.

Every request comes from one of these strategies:

- grammar: walk the command's documented syntax; choose among alternatives, include
  optional parts or not, repeat repeatable ones, fill each value slot with an adversarial
  value of the slot's kind (values.py); then pad or cut to the command's arity.
- soup: the right number of arguments, keys at the command's key positions, the rest a
  mix of option words (the command's own, in random order and counts) and values.
- wrong-arity: one argument too few or too many, or far too many, or just the name.
- giant: a command whose keys run to the end (DEL, MGET, MSET, WATCH...) with thousands
  of keys, or key/value groups, in one request.

and a batch (what a client sends before reading) is one request, a pipeline of several,
or a deep MULTI: thousands of queued requests, then EXEC (or DISCARD).

Commands with a timeout slot (WAIT, blocking pops) are drawn only from their grammar, so
the timeout is one from values.TIMEOUTS, never 0 ("block forever").
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fuzz.exclusions import NOT_QUEUEABLE, RARE, excluded_command, excluded_request
from fuzz.known_issues import known_issue
from fuzz.table import CommandShape, Node, OneOf, Repeat, Seq, Slot, Token, shapes_from_replies
from fuzz.values import Kind, ValueConfig, Values, case_variant
from helpers.resp import RawClient, encode_command

# Bytes an inline command cannot carry without changing its meaning: blanks (C isspace),
# quotes and backslash, and NUL, which ends the line (protocol/inline.py).
_NOT_INLINE = frozenset(b" \t\r\n\x0b\x0c\x00\"'\\")
_INLINE_MAX = 60 * 1024
GIANT_SHARED_KEYS = 4  # the most keys of the shared pool in one giant request
# A negative count repeats random picks, so SRANDMEMBER k -100000 is an amplifier like MGET
# of one big key many times: on members the fuzzer wrote (up to 64 KiB each) it asks for
# gigabytes, which Redis and tandemkv build whole under the default output limit
# (test_known_issues.py shows the hard limit that bounds it). Repeating picks beyond this
# many are drawn only on the loader's collections, whose members are short. (Counts past
# a million are refused, args.MAX_RANDOM_REPLY: those stay, they build nothing.)
REPEATED_PICKS_MAX = 1000
_REFUSED_PICKS = 1_000_000
_RANDOM_PICKS = frozenset((b"srandmember", b"hrandfield", b"zrandmember"))
# The kinds a value drawn with no grammar to guide it may be.
_ANY_KIND = (
    Kind.STRING,
    Kind.STRING,
    Kind.INTEGER,
    Kind.NUMBER,
    Kind.OFFSET,
    Kind.KEY,
    Kind.PATTERN,
)


@dataclass(frozen=True)
class Request:
    """One command as sent: its arguments, how it was drawn, and whether inline."""

    args: tuple[bytes, ...]
    how: str
    inline: bool = False

    def wire(self) -> bytes:
        if self.inline:
            return b" ".join(self.args) + b"\r\n"
        return encode_command(*self.args)

    def literal(self, limit: int = 12, width: int = 80) -> str:
        """The arguments as a Python bytes-tuple literal, long parts shortened."""
        shown = [_short(arg, width) for arg in self.args[:limit]]
        if len(self.args) > limit:
            shown.append(f"... {len(self.args) - limit} more arguments")
        suffix = " (sent inline)" if self.inline else ""
        return "(" + ", ".join(shown) + ")" + suffix


def _short(arg: bytes, width: int) -> str:
    text = repr(arg)
    if len(text) <= width:
        return text
    return f"{arg[: width // 2]!r} + ... ({len(arg)} bytes)"


@dataclass(frozen=True)
class GrammarConfig:
    values: ValueConfig = field(default_factory=ValueConfig)
    rare: Mapping[bytes, float] = field(default_factory=lambda: dict(RARE))
    pipeline_chance: float = 0.3
    max_pipeline: int = 16
    multi_chance: float = 0.003  # a deep MULTI batch
    multi_depth: tuple[int, int] = (500, 2000)
    giant_chance: float = 0.01  # per request of a command with keys to the end
    giant_size: tuple[int, int] = (1000, 5000)
    # Giant requests use keys g0..gN-1, which bounds the keyspace the fuzzer builds, and
    # with it the cost of one KEYS or SCAN (about 1 us a key: 5 ms here).
    giant_key_space: int = 5_000
    wrong_arity_chance: float = 0.06
    soup_chance: float = 0.25
    inline_chance: float = 0.05
    avoid_known_issues: bool = True  # see known_issues.py


class Grammar:
    """Draws requests for the commands of one server."""

    def __init__(self, shapes: Sequence[CommandShape], config: GrammarConfig) -> None:
        self.config = config
        self.all_shapes = {shape.name: shape for shape in shapes}
        self.shapes = [shape for shape in shapes if not excluded_command(shape)]
        if not self.shapes:
            raise ValueError("the server described no command the fuzzer may send")
        weights = [config.rare.get(shape.name, 1.0) for shape in self.shapes]
        self._cumulative = list(itertools.accumulate(weights))
        tokens = sorted(set[bytes]().union(*(shape.tokens() for shape in self.shapes)))
        self.values = Values(config.values, tokens)
        self._multi = b"multi" in self.all_shapes and b"exec" in self.all_shapes

    @classmethod
    def from_replies(cls, info: Any, docs: Any, config: GrammarConfig) -> Grammar:
        return cls(shapes_from_replies(info, docs), config)

    # ------------------------------------------------------------ batches and requests

    def batch(self, rng: random.Random) -> list[Request]:
        """What one client sends before reading the replies."""
        roll = rng.random()
        if self._multi and roll < self.config.multi_chance:
            return self.deep_multi(rng)
        if roll < self.config.pipeline_chance:
            return [self.request(rng) for _ in range(rng.randint(2, self.config.max_pipeline))]
        return [self.request(rng)]

    def deep_multi(self, rng: random.Random) -> list[Request]:
        """MULTI, hundreds to thousands of requests, then EXEC (or DISCARD).

        One refused request in the queue (a wrong arity, a command flagged no_multi) makes
        EXEC abort without running anything, as in Redis; so most deep MULTIs queue only
        requests that can run, and the EXEC really executes them all at once. Their values
        are short (Values.short): the batch is about depth."""
        depth = rng.randint(*self.config.multi_depth)
        clean = rng.random() < 0.8
        self.values.short = True
        try:
            queued = [self.request(rng, queueable=clean, queued=True) for _ in range(depth)]
        finally:
            self.values.short = False
        end = b"DISCARD" if rng.random() < 0.1 else b"EXEC"
        return [Request((b"MULTI",), "multi"), *queued, Request((end,), "multi")]

    def request(self, rng: random.Random, queueable: bool = False, queued: bool = False) -> Request:
        """One request; with `queueable`, one that a MULTI queue accepts; `queued`: for a
        deep MULTI's queue (see known_issues.py)."""
        while True:
            request = self.draw(rng, self.pick(rng))
            if excluded_request(request.args, self.all_shapes):
                continue
            if queueable and not self._queueable(request):
                continue
            if self.config.avoid_known_issues and known_issue(request.args, queued):
                continue
            if self._amplifies(request.args):
                continue
            return self._maybe_inline(rng, request)

    def _amplifies(self, args: Sequence[bytes]) -> bool:
        """A repeating random pick too long for a key the fuzzer may have filled with big
        members (see REPEATED_PICKS_MAX)."""
        if len(args) < 3 or args[0].lower() not in _RANDOM_PICKS:
            return False
        if args[1] in self.values.config.collection_keys:
            return False
        try:
            return -_REFUSED_PICKS <= int(args[2]) < -REPEATED_PICKS_MAX
        except ValueError:
            return False

    def _queueable(self, request: Request) -> bool:
        shape = self.all_shapes[request.args[0].lower()]
        return (
            request.how != "wrong-arity"
            and "no_multi" not in shape.flags
            and shape.name not in NOT_QUEUEABLE
        )

    def pick(self, rng: random.Random) -> CommandShape:
        point = rng.random() * self._cumulative[-1]
        return self.shapes[bisect.bisect_right(self._cumulative, point)]

    def draw(self, rng: random.Random, shape: CommandShape) -> Request:
        """One request for `shape` by a strategy chosen at random."""
        config = self.config
        roll = rng.random()
        if shape.last_key < 0 and roll < config.giant_chance:
            return Request(self.giant(rng, shape), "giant")
        roll = rng.random()
        # Only a fixed arity, or a minimum above the bare name, can be got wrong.
        if roll < config.wrong_arity_chance and (shape.arity > 0 or shape.arity < -1):
            return Request(self.wrong_arity(rng, shape), "wrong-arity")
        if roll < config.wrong_arity_chance + config.soup_chance and not shape.has_kind(
            Kind.TIMEOUT
        ):
            return Request(self.soup(rng, shape), "soup")
        return Request(self.grammatical(rng, shape), "grammar")

    # ------------------------------------------------------------ strategies

    def grammatical(self, rng: random.Random, shape: CommandShape) -> tuple[bytes, ...]:
        args = [case_variant(rng, shape.name)]
        if shape.subcommands and (rng.random() < 0.5 or not shape.arguments.items):
            sub = rng.choice(shape.subcommands)
            args.append(case_variant(rng, sub))
            grammar = shape.sub_arguments.get(sub)
            if grammar is not None:
                args += self.expand(rng, grammar)
            else:
                args += [self.any_value(rng, shape) for _ in range(rng.randrange(4))]
        else:
            args += self.expand(rng, shape.arguments)
        return tuple(self.fit_arity(rng, shape, args))

    def expand(self, rng: random.Random, node: Node) -> list[bytes]:
        if isinstance(node, Token):
            return [case_variant(rng, node.word)]
        if isinstance(node, Slot):
            return [self.values.draw(rng, node.kind)]
        if isinstance(node, Seq):
            return [arg for item in node.items for arg in self.expand(rng, item)]
        if isinstance(node, OneOf):
            return self.expand(rng, rng.choice(node.choices)) if node.choices else []
        return self._repeat(rng, node)

    def _repeat(self, rng: random.Random, node: Repeat) -> list[bytes]:
        if node.optional and rng.random() < 0.4:
            return []
        times = 1
        if node.multiple:
            times = rng.choice((1, 1, 2, 3, rng.randint(4, 40)))
        elif rng.random() < 0.1:
            times = 2  # an option given twice: the last must win, or a syntax error
        return [arg for _ in range(times) for arg in self.expand(rng, node.item)]

    def soup(self, rng: random.Random, shape: CommandShape) -> tuple[bytes, ...]:
        if shape.arity > 0:
            length = shape.arity
        else:
            length = -shape.arity + rng.choice((0, 0, 1, 2, 3, rng.randint(4, 12)))
        args = [case_variant(rng, shape.name)]
        keys = key_positions(shape, length)
        for position in range(1, length):
            if position in keys:
                args.append(self.values.key(rng))
            else:
                args.append(self.any_value(rng, shape))
        return tuple(args)

    def wrong_arity(self, rng: random.Random, shape: CommandShape) -> tuple[bytes, ...]:
        if shape.arity > 0:
            lengths = [
                n
                for n in (1, shape.arity - 1, shape.arity + 1, shape.arity + rng.randint(2, 6))
                if n != shape.arity
            ]
        else:
            lengths = list(range(1, -shape.arity))
        length = rng.choice([n for n in lengths if n >= 1])
        keys = key_positions(shape, length)
        args = [case_variant(rng, shape.name)]
        args += [
            self.values.key(rng) if i in keys else self.any_value(rng, shape)
            for i in range(1, length)
        ]
        return tuple(args)

    def giant(self, rng: random.Random, shape: CommandShape) -> tuple[bytes, ...]:
        """Thousands of keys (or key/value groups) where the keys run to the end."""
        step = max(shape.key_step, 1)
        groups = rng.randint(*self.config.giant_size)
        args = [case_variant(rng, shape.name)]
        args += [self.any_value(rng, shape) for _ in range(1, max(shape.first_key, 1))]
        # A few keys of the shared pool, which may hold big values of any type: more would
        # amplify (a reply is built whole under the default output limit: MGET of one big key
        # many times).
        shared = {rng.randrange(groups) for _ in range(rng.randrange(GIANT_SHARED_KEYS + 1))}
        for group in range(groups):
            if group in shared:
                args.append(self.values.key(rng))
            else:
                args.append(b"g%d" % rng.randrange(self.config.giant_key_space))
            args += [b"v%d" % rng.randrange(100) for _ in range(step - 1)]
        return tuple(self.fit_arity(rng, shape, args))

    # ------------------------------------------------------------ helpers

    def any_value(self, rng: random.Random, shape: CommandShape) -> bytes:
        """A value for a position no grammar describes: often one of the command's own
        option words, else a value of any kind."""
        if rng.random() < 0.35:
            own = sorted(shape.tokens())
            if own:
                return case_variant(rng, rng.choice(own))
            return self.values.token(rng)
        return self.values.draw(rng, rng.choice(_ANY_KIND))

    def fit_arity(self, rng: random.Random, shape: CommandShape, args: list[bytes]) -> list[bytes]:
        """Cut or pad `args` so the arity check passes (the handler is what we are after)."""
        if shape.arity > 0:
            args = args[: shape.arity]
            wanted = shape.arity
        else:
            wanted = -shape.arity
        keys = key_positions(shape, max(wanted, len(args)))
        while len(args) < wanted:
            position = len(args)
            args.append(self.values.key(rng) if position in keys else self.any_value(rng, shape))
        return args

    def _maybe_inline(self, rng: random.Random, request: Request) -> Request:
        if rng.random() >= self.config.inline_chance or not inline_safe(request.args):
            return request
        return Request(request.args, request.how, inline=True)


def key_positions(shape: CommandShape, length: int) -> set[int]:
    """The argument positions holding keys in a request of `length` arguments."""
    if shape.first_key <= 0:
        return set()
    last = shape.last_key if shape.last_key >= 0 else length + shape.last_key
    step = max(shape.key_step, 1)
    return set(range(shape.first_key, min(last, length - 1) + 1, step))


def inline_safe(args: Sequence[bytes]) -> bool:
    """Whether an inline line would split into exactly these arguments."""
    return sum(len(arg) + 1 for arg in args) < _INLINE_MAX and all(
        arg and not _NOT_INLINE.intersection(arg) for arg in args
    )


def fetch_grammar(client: RawClient, config: GrammarConfig) -> Grammar:
    """The grammar of the server behind `client`, from its COMMAND INFO and DOCS."""
    info = client.call("COMMAND", "INFO")
    docs = client.call("COMMAND", "DOCS")
    if not isinstance(info, list) or not info:
        raise AssertionError(f"COMMAND INFO gave no command table: {info!r}"[:500])
    return Grammar.from_replies(info, docs, config)
