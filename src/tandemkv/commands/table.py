"""The command table: one entry per command, looked up once per request.

Arity follows Redis's convention: a positive number is the exact argument count including
the command name, a negative one is a minimum. Flags are Redis's names where they exist:
`write`, `readonly`, `admin`, `noauth` (allowed before AUTH), `fast`, `loading`,
`no-multi` (refused inside MULTI), `multi-control` (runs even inside MULTI: EXEC, DISCARD...),
and our own `internal` (node-to-node commands, refused with NOPERM to ordinary clients).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

# Imported at run time: compiled, Write's constructor checks its field's type.
from tandemkv.storage.mutation import Mutation

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


class Write:
    """What a write handler returns: the reply and the mutation that makes it true.

    A plain class with slots, not a NamedTuple: every write makes one, and compiled, this
    is a C allocation, while a NamedTuple's constructor stays a Python-level `__new__`
    (about 0.3 µs per write, a tenth of a pipelined SET)."""

    __slots__ = ("mutation", "reply")

    def __init__(self, reply: Any, mutation: Mutation) -> None:
        self.reply = reply  # Any: pop handlers index the reply their helpers built
        self.mutation = mutation

    def __repr__(self) -> str:
        return f"Write({self.reply!r}, {self.mutation!r})"


Handler = Callable[["Engine", "Session", list[bytes]], object]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    arity: int
    flags: frozenset[str]
    handler: Handler
    group: str
    summary: str
    syntax: str = ""
    since: str = "1.0.0"
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    subcommands: tuple[str, ...] = field(default=())
    # Node-to-node only (flag "internal"): ordinary clients get NOPERM. A field, not a
    # property, because the engine checks it on every command.
    internal: bool = False
    readonly: bool = False  # flag "readonly"
    # Its reply depends on the keyspace, so the node fences it: readonly commands, writes
    # (even one that ends up changing nothing, SET NX on an existing key, answers from what
    # the keyspace holds) and EXEC.
    reads_keyspace: bool = False

    @property
    def is_write(self) -> bool:
        return "write" in self.flags

    @property
    def runs_in_multi(self) -> bool:
        return "multi-control" in self.flags


TABLE: Final[dict[bytes, CommandSpec]] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    *,
    group: str,
    summary: str,
    syntax: str = "",
    since: str = "1.0.0",
    keys: tuple[int, int, int] = (0, 0, 0),
    subcommands: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register a handler under `name` (and `aliases`) in the table."""

    def register(handler: Handler) -> Handler:
        for each in (name, *aliases):
            spec = CommandSpec(
                name=each.lower(),
                arity=arity,
                flags=frozenset(flags.split()),
                handler=handler,
                group=group,
                summary=summary,
                syntax=syntax,
                since=since,
                first_key=keys[0],
                last_key=keys[1],
                key_step=keys[2],
                subcommands=subcommands,
                internal="internal" in flags.split(),
                readonly="readonly" in flags.split(),
                reads_keyspace=bool({"readonly", "write"} & set(flags.split()))
                or each.lower() == "exec",
            )
            # Clients send upper or lower case; registering both spares a .lower() per call.
            TABLE[each.lower().encode()] = spec
            TABLE[each.upper().encode()] = spec
        return handler

    return register


def lookup(name: bytes) -> CommandSpec | None:
    spec = TABLE.get(name)
    if spec is None:
        spec = TABLE.get(name.lower())
    return spec


def unique_specs() -> list[CommandSpec]:
    """Each command once, sorted by name."""
    seen: dict[str, CommandSpec] = {}
    for spec in TABLE.values():
        seen[spec.name] = spec
    return [seen[name] for name in sorted(seen)]


class NoReplyType:
    """Returned by a handler whose connection closes without a reply (SHUTDOWN)."""

    __slots__ = ()


NO_REPLY: Final = NoReplyType()
