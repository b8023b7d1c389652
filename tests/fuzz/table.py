"""The running server's command table, read from its own COMMAND INFO and COMMAND DOCS.

Nothing here names a command: arity, flags, key positions and subcommands come from
COMMAND INFO, the argument grammar from COMMAND DOCS. A command added to the server later
(a new data type included) is therefore described, and fuzzed, without a change here.

Two shapes of DOCS arguments are understood:

- Redis 7's: typed arguments (`key`, `integer`, `pure-token`, ...), optional/multiple
  flags, a `token` that precedes a value, and `oneof`/`block` arguments nesting others.
- tandemkv's: each argument is one top-level fragment of the syntax line, so its name can
  hold alternatives and option words, e.g. "NX|XX|IFEQ comparison" or "EX s|PX ms|KEEPTTL".
  Upper-case words are option tokens, lower-case ones are values, `|` separates choices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fuzz.values import Kind, kind_for


@dataclass(frozen=True)
class Token:
    """A literal word the command expects (an option name such as NX or MATCH)."""

    word: bytes


@dataclass(frozen=True)
class Slot:
    """A value the client chooses, of the kind the argument's name and type suggest."""

    name: str
    kind: Kind


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...] = ()


@dataclass(frozen=True)
class OneOf:
    choices: tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    """An optional and/or repeatable part of the syntax."""

    item: Node
    optional: bool
    multiple: bool


Node = Token | Slot | Seq | OneOf | Repeat


@dataclass(frozen=True)
class CommandShape:
    """One command as the server describes it."""

    name: bytes
    arity: int  # Redis's convention: n exactly, or -n for at least n (name included)
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    subcommands: tuple[bytes, ...] = ()
    arguments: Seq = field(default_factory=Seq)
    # Per-subcommand grammars, when the docs carry them (Redis does; tandemkv does not).
    sub_arguments: Mapping[bytes, Seq] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.name.decode("utf-8", "replace")

    def arity_allows(self, length: int) -> bool:
        """Whether `length` arguments (name included) pass the arity check."""
        if self.arity >= 0:
            return length == self.arity
        return length >= -self.arity

    def tokens(self) -> set[bytes]:
        """Every option word in this command's grammar, and its subcommand names."""
        found = set(_tokens(self.arguments)) | {sub.upper() for sub in self.subcommands}
        for grammar in self.sub_arguments.values():
            found |= set(_tokens(grammar))
        return found

    def has_kind(self, kind: Kind) -> bool:
        grammars = (self.arguments, *self.sub_arguments.values())
        return any(slot.kind is kind for grammar in grammars for slot in _slots(grammar))


def shapes_from_replies(info: Any, docs: Any) -> list[CommandShape]:
    """The commands of a COMMAND INFO reply, with the grammars of a COMMAND DOCS reply."""
    documents = {_text(name).lower(): as_map(doc) for name, doc in as_map(docs).items()}
    shapes = []
    for entry in info:
        if entry is None:  # COMMAND INFO answers nil for a name it does not know
            continue
        name = _text(entry[0]).lower()
        shapes.append(_shape(entry, documents.get(name, {})))
    return sorted(shapes, key=lambda shape: shape.name)


def _shape(entry: Sequence[Any], doc: Mapping[str, Any]) -> CommandShape:
    name = _text(entry[0]).lower()
    subentries = entry[9] if len(entry) > 9 and entry[9] else []
    subcommands = tuple(_text(sub[0]).split("|", 1)[-1].lower().encode() for sub in subentries)
    sub_docs = as_map(doc.get("subcommands") or {})
    return CommandShape(
        name=name.encode(),
        arity=int(entry[1]),
        flags=frozenset(_text(flag).lower() for flag in entry[2]),
        first_key=int(entry[3]),
        last_key=int(entry[4]),
        key_step=int(entry[5]),
        subcommands=subcommands,
        arguments=parse_arguments(doc.get("arguments") or []),
        sub_arguments={
            _text(sub).split("|", 1)[-1].lower().encode(): parse_arguments(
                as_map(sub_doc).get("arguments") or []
            )
            for sub, sub_doc in sub_docs.items()
        },
    )


def parse_arguments(arguments: Sequence[Any]) -> Seq:
    return Seq(tuple(parse_argument(as_map(argument)) for argument in arguments))


def parse_argument(doc: Mapping[str, Any]) -> Node:
    """One DOCS argument as a grammar node."""
    name = _text(doc.get("name", ""))
    doc_type = _text(doc.get("type", "string")).lower()
    flags = {_text(flag).lower() for flag in doc.get("flags") or ()}
    token = doc.get("token")
    nested = doc.get("arguments")
    node: Node
    if nested and doc_type in ("oneof", "block"):
        children = tuple(parse_argument(as_map(child)) for child in nested)
        node = OneOf(children) if doc_type == "oneof" else Seq(children)
    elif doc_type == "pure-token":
        node = Token(_text(token or name).encode())
    else:
        node = parse_fragment(name, doc_type)
    if token is not None and doc_type != "pure-token":
        node = Seq((Token(_text(token).encode()), _after_token(_text(token), node)))
    if {"optional", "multiple"} & flags:
        node = Repeat(node, optional="optional" in flags, multiple="multiple" in flags)
    return node


def parse_fragment(text: str, doc_type: str = "") -> Node:
    """A syntax fragment such as "NX|XX|IFEQ comparison": alternatives of words."""
    choices: list[Node] = []
    for alternative in text.split("|"):
        words = [word for word in alternative.split() if word != "..."]
        single = len(words) == 1
        items = tuple(_word(word, doc_type if single else "") for word in words)
        items = tuple(
            _after_token(before.word.decode(), item) if isinstance(before, Token) else item
            for before, item in zip((None, *items), items, strict=False)
        )
        choices.append(items[0] if single else Seq(items))
    return choices[0] if len(choices) == 1 else OneOf(tuple(choices))


# Option words whose value is a wait: XREAD's BLOCK milliseconds is an integer by name,
# but 0 there blocks for ever, so it is drawn as a timeout.
_WAIT_TOKENS = frozenset({"BLOCK"})


def _after_token(token: str, node: Node) -> Node:
    """The value that follows option word `token`, its kind corrected for waits."""
    if token.upper() in _WAIT_TOKENS and isinstance(node, Slot):
        return Slot(node.name, Kind.TIMEOUT)
    return node


def _word(word: str, doc_type: str) -> Node:
    if any(ch.isalpha() for ch in word) and word.isupper() and doc_type != "key":
        return Token(word.encode())
    return Slot(word, kind_for(word, doc_type))


def _tokens(node: Node) -> Iterator[bytes]:
    if isinstance(node, Token):
        yield node.word.upper()
    elif isinstance(node, Seq):
        for item in node.items:
            yield from _tokens(item)
    elif isinstance(node, OneOf):
        for choice in node.choices:
            yield from _tokens(choice)
    elif isinstance(node, Repeat):
        yield from _tokens(node.item)


def _slots(node: Node) -> Iterator[Slot]:
    if isinstance(node, Slot):
        yield node
    elif isinstance(node, Seq):
        for item in node.items:
            yield from _slots(item)
    elif isinstance(node, OneOf):
        for choice in node.choices:
            yield from _slots(choice)
    elif isinstance(node, Repeat):
        yield from _slots(node.item)


def as_map(value: Any) -> dict[str, Any]:
    """A RESP map as a dict with str keys: RESP3 sends a map, RESP2 a flat array."""
    if isinstance(value, dict):
        return {_text(key): item for key, item in value.items()}
    if isinstance(value, list) and len(value) % 2 == 0:
        return {_text(key): item for key, item in zip(value[::2], value[1::2], strict=True)}
    return {}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
