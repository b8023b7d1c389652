"""COMMAND: the table described in Redis's formats (COUNT, INFO, DOCS, LIST).

redis-cli builds its typing hints from COMMAND DOCS, so each command's documented syntax is
turned into Redis's argument descriptions here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.acl_model import universe
from tandemkv.commands.errors import CommandError, unknown_subcommand
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.server import help_lines, note_subcommand
from tandemkv.commands.table import CommandSpec, command, lookup, unique_specs
from tandemkv.protocol.types import SetReply, SimpleString

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


# Our table's flag names as Redis reports them; flags Redis has no name for are not shown.
_REDIS_FLAG_NAMES = {
    "write": "write",
    "readonly": "readonly",
    "admin": "admin",
    "fast": "fast",
    "loading": "loading",
    "noauth": "no_auth",
    "no-multi": "no_multi",
    "denyoom": "denyoom",
    "blocking": "blocking",
    "pubsub": "pubsub",
    "noscript": "noscript",
    "stale": "stale",
}


def _categories(name: str) -> SetReply:
    """The ACL categories (commands/acl_categories.py), as Redis lists them: @read..."""
    names = universe().categories_of.get(name, ())
    return SetReply(tuple(SimpleString(f"@{category}") for category in names))


def describe(spec: CommandSpec) -> list[object]:
    """One COMMAND INFO entry in Redis 7's layout."""
    names = sorted(_REDIS_FLAG_NAMES[f] for f in spec.flags if f in _REDIS_FLAG_NAMES)
    flags = SetReply(tuple(SimpleString(name) for name in names))
    categories = _categories(spec.name)
    key_specs: list[object] = []
    subcommands = [
        [
            f"{spec.name}|{sub}".encode(),
            -2,
            SetReply(()),
            0,
            0,
            0,
            _categories(f"{spec.name}|{sub}"),
            [],
            [],
            [],
        ]
        for sub in spec.subcommands
    ]
    return [
        spec.name.encode(),
        spec.arity,
        flags,
        spec.first_key,
        spec.last_key,
        spec.key_step,
        categories,
        [],
        key_specs,
        subcommands,
    ]


def syntax_arguments(syntax: str) -> list[dict[bytes, object]]:
    """COMMAND DOCS arguments from a syntax line such as "key value [NX|XX]"."""
    arguments: list[dict[bytes, object]] = []
    for token in _split_top_level(syntax):
        optional = token.startswith("[") and token.endswith("]")
        text = token[1:-1] if optional else token
        flags = []
        if optional:
            flags.append(b"optional")
        if text.endswith("..."):
            flags.append(b"multiple")
            text = text.split(" ", 1)[0]
        kind = b"key" if text in ("key", "newkey") else b"string"
        if text.isupper() and " " not in text and "|" not in text:
            kind = b"pure-token"
        argument: dict[bytes, object] = {b"name": text.encode(), b"type": kind}
        if kind == b"pure-token":
            argument[b"token"] = text.encode()
        if flags:
            argument[b"flags"] = SetReply(tuple(SimpleString(f.decode()) for f in flags))
        arguments.append(argument)
    return arguments


def _split_top_level(syntax: str) -> list[str]:
    tokens, depth, current = [], 0, ""
    for ch in syntax:
        depth += (ch == "[") - (ch == "]")
        if ch == " " and depth == 0:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += ch
    if current:
        tokens.append(current)
    return tokens


def document(spec: CommandSpec) -> dict[bytes, object]:
    return {
        b"summary": spec.summary.encode(),
        b"since": spec.since.encode(),
        b"group": spec.group.encode(),
        b"arguments": syntax_arguments(spec.syntax),
    }


_SUBCOMMANDS = ("count", "info", "docs", "list", "help")


def _named(args: list[bytes]) -> list[CommandSpec | None]:
    return [lookup(name) for name in args]


@command(
    "command",
    -1,
    "loading",
    group="server",
    subcommands=_SUBCOMMANDS,
    summary="Describe the server's commands",
    syntax="[COUNT|INFO|DOCS|LIST ...]",
)
def command_(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 1:
        return [describe(spec) for spec in unique_specs()]
    sub = args[1].upper()
    note_subcommand(s, "command", sub, _SUBCOMMANDS)
    if sub in (b"COUNT", b"HELP") and len(args) != 2:
        name = sub.decode().lower()
        raise CommandError(f"wrong number of arguments for 'command|{name}' command")
    if sub == b"COUNT":
        return len(unique_specs())
    if sub == b"INFO":
        if len(args) == 2:
            return [describe(spec) for spec in unique_specs()]
        return [describe(spec) if spec else None for spec in _named(args[2:])]
    if sub == b"DOCS":
        specs = unique_specs() if len(args) == 2 else _named(args[2:])
        return {spec.name.encode(): document(spec) for spec in specs if spec is not None}
    if sub == b"LIST":
        names = [spec.name.encode() for spec in unique_specs()]
        if len(args) == 5 and args[2].upper() == b"FILTERBY" and args[3].upper() == b"PATTERN":
            matches = compile_glob(args[4])
            return [name for name in names if matches(name)]
        if len(args) != 2:
            raise CommandError("syntax error")
        return names
    if sub == b"HELP":
        return help_lines(
            "COMMAND",
            "COMMAND COUNT",
            "COMMAND INFO [<command-name> ...]",
            "COMMAND DOCS [<command-name> ...]",
            "COMMAND LIST [FILTERBY PATTERN <pattern>]",
        )
    raise unknown_subcommand("command", args[1])
