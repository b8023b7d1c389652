"""Server commands: INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME, SHUTDOWN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError, SyntaxErr, unknown_subcommand
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.settings import PARAMS, attr_name, redis_name
from tandemkv.commands.table import NO_REPLY, Write, command
from tandemkv.protocol.types import OK, SimpleString, Verbatim
from tandemkv.storage.mutation import FlushAll

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


def help_lines(*lines: str) -> list[SimpleString]:
    """HELP replies are arrays of status strings in Redis."""
    return [SimpleString(line) for line in lines]


DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
)


def info_sections(e: Engine) -> dict[str, dict[str, object]]:
    """Every INFO section: the host's, plus the ones the engine itself knows."""
    sections: dict[str, dict[str, object]] = {name: {} for name in DEFAULT_SECTIONS}
    sections |= e.host.server_info()
    stats = sections.setdefault("stats", {})
    stats.setdefault("total_commands_processed", e.stats.commands)
    stats.setdefault("total_error_replies", e.stats.errors)
    keyspace: dict[str, object] = {}
    if len(e.keyspace):
        keyspace["db0"] = f"keys={len(e.keyspace)},expires={e.keyspace.expiring_count()},avg_ttl=0"
    sections["keyspace"] = keyspace
    return sections


def render_info(sections: dict[str, dict[str, object]], wanted: list[str]) -> bytes:
    if not wanted or wanted == ["default"]:
        wanted = list(DEFAULT_SECTIONS)
    elif "all" in wanted or "everything" in wanted:
        wanted = list(sections)
    blocks = []
    for name in wanted:
        fields = sections.get(name)
        if fields is None:
            continue
        lines = [f"# {name.capitalize()}"] + [f"{k}:{v}" for k, v in fields.items()]
        blocks.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(blocks).encode()


@command(
    "info",
    -1,
    "loading",
    group="server",
    summary="Information and statistics about the server",
    syntax="[section [section ...]]",
)
def info(e: Engine, s: Session, args: list[bytes]) -> object:
    wanted = [a.decode("utf-8", "replace").lower() for a in args[1:]]
    return Verbatim("txt", render_info(info_sections(e), wanted))


@command("dbsize", 1, "readonly fast", group="server", summary="The number of keys", syntax="")
def dbsize(e: Engine, s: Session, args: list[bytes]) -> object:
    return len(e.keyspace)


def _flush(args: list[bytes]) -> object:
    if len(args) > 2 or (len(args) == 2 and args[1].upper() not in (b"ASYNC", b"SYNC")):
        raise SyntaxErr()
    return Write(OK, FlushAll())


@command("flushdb", -1, "write", group="server", summary="Remove every key", syntax="[ASYNC|SYNC]")
def flushdb(e: Engine, s: Session, args: list[bytes]) -> object:
    return _flush(args)


@command("flushall", -1, "write", group="server", summary="Remove every key", syntax="[ASYNC|SYNC]")
def flushall(e: Engine, s: Session, args: list[bytes]) -> object:
    return _flush(args)


@command(
    "time",
    1,
    "fast loading",
    group="server",
    summary="The server's time as Unix seconds and microseconds",
    syntax="",
)
def time_(e: Engine, s: Session, args: list[bytes]) -> object:
    seconds, millis = divmod(e.now_ms, 1000)
    return [str(seconds).encode(), str(millis * 1000).encode()]


@command(
    "shutdown",
    -1,
    "admin loading no-multi",
    group="server",
    summary="Stop the server gracefully",
    syntax="[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]",
)
def shutdown(e: Engine, s: Session, args: list[bytes]) -> object:
    options = {a.upper() for a in args[1:]}
    if not options <= {b"NOSAVE", b"SAVE", b"NOW", b"FORCE", b"ABORT"}:
        raise SyntaxErr()
    if b"ABORT" in options:
        raise CommandError("No shutdown in progress.")
    e.host.request_shutdown()
    s.close_after_reply = True
    return NO_REPLY


def _config_get(e: Engine, patterns: list[bytes]) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for pattern in patterns:
        matches = compile_glob(pattern.lower())
        exact = not any(ch in pattern for ch in b"*?[")
        for attr, param in PARAMS.items():
            name = redis_name(attr).encode()
            if matches(name):
                # A plain name comes back as it was sent, as Redis 7 does.
                found[pattern if exact else name] = param.show(getattr(e.settings, attr)).encode()
    return found


def _config_set(e: Engine, args: list[bytes]) -> object:
    if len(args) < 4:
        raise CommandError("wrong number of arguments for 'config|set' command")
    if len(args) % 2 != 0:
        raise SyntaxErr()
    changes: dict[str, object] = {}
    for raw_name, raw_value in zip(args[2::2], args[3::2], strict=True):
        name = raw_name.decode("utf-8", "replace")
        attr = attr_name(name)
        param = PARAMS.get(attr)
        if param is None:
            raise CommandError(f"Unknown option or number of arguments for CONFIG SET - '{name}'")
        if param.parse is None and param.update is None:
            raise _config_set_failed(name, "can't set immutable config")
        if attr in changes:
            raise _config_set_failed(name, "duplicate parameter")
        raw = raw_value.decode("utf-8", "replace")
        try:
            if param.update is not None:
                changes[attr] = param.update(getattr(e.settings, attr), raw)
            else:
                assert param.parse is not None
                changes[attr] = param.parse(raw)
        except ValueError as error:
            raise _config_set_failed(name, str(error)) from None
    for attr, value in changes.items():
        setattr(e.settings, attr, value)
    return OK


def _config_set_failed(name: str, reason: str) -> CommandError:
    return CommandError(f"CONFIG SET failed (possibly related to argument '{name}') - {reason}")


_CONFIG_FIXED_ARITY = {b"RESETSTAT": "resetstat", b"REWRITE": "rewrite", b"HELP": "help"}


@command(
    "config",
    -2,
    "admin",
    group="server",
    subcommands=("get", "set", "resetstat", "rewrite", "help"),
    summary="Read or change runtime settings",
    syntax="GET parameter [parameter ...]|SET parameter value [parameter value ...]|RESETSTAT|HELP",
)
def config(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    if sub == b"GET":
        if len(args) < 3:
            raise CommandError("wrong number of arguments for 'config|get' command")
        return _config_get(e, args[2:])
    if sub == b"SET":
        return _config_set(e, args)
    if sub in _CONFIG_FIXED_ARITY and len(args) != 2:
        raise CommandError(
            f"wrong number of arguments for 'config|{_CONFIG_FIXED_ARITY[sub]}' command"
        )
    if sub == b"RESETSTAT":
        e.stats.commands = e.stats.errors = 0
        return OK
    if sub == b"REWRITE":
        raise CommandError(
            "CONFIG REWRITE is not supported: tandemkv never writes its "
            "configuration file; edit the TOML file instead"
        )
    if sub == b"HELP":
        return help_lines(
            "CONFIG GET <pattern>",
            "CONFIG SET <name> <value> [<name> <value> ...]",
            "CONFIG RESETSTAT",
            "HELP",
        )
    raise unknown_subcommand("config", args[1])


@command(
    "save",
    1,
    "admin no-multi",
    group="server",
    summary="Write a snapshot now, blocking until it is durable",
    syntax="",
)
def save(e: Engine, s: Session, args: list[bytes]) -> object:
    return e.host.save(background=False)


@command(
    "bgsave",
    -1,
    "admin",
    group="server",
    summary="Write a snapshot in a background process",
    syntax="[SCHEDULE]",
)
def bgsave(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) > 2 or (len(args) == 2 and args[1].upper() != b"SCHEDULE"):
        raise SyntaxErr()
    return e.host.save(background=True)


@command(
    "lastsave",
    1,
    "fast loading",
    group="server",
    summary="Unix time of the last successful snapshot",
    syntax="",
)
def lastsave(e: Engine, s: Session, args: list[bytes]) -> object:
    return e.host.last_save_time()
