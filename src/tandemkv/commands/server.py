"""Server commands: INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME, SHUTDOWN, SAVE, LASTSAVE,
REPLICAOF."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.args import parse_int
from tandemkv.commands.cluster_view import PRIMARY
from tandemkv.commands.errors import CommandError, NotInteger, SyntaxErr, unknown_subcommand
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.settings import ALIASES, PARAMS, attr_name, redis_name
from tandemkv.commands.table import NO_REPLY, Write, command
from tandemkv.protocol.types import OK, SimpleString, Verbatim
from tandemkv.storage.mutation import FlushAll

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


def help_lines(*lines: str) -> list[SimpleString]:
    """HELP replies are arrays of status strings in Redis."""
    return [SimpleString(line) for line in lines]


def note_subcommand(s: Session, command: str, sub: bytes, known: tuple[str, ...]) -> None:
    """Name the session's last command as Redis's CLIENT LIST does (cmd=config|get); an
    unknown subcommand leaves none (cmd=NULL)."""
    name = sub.decode("utf-8", "replace").lower()
    s.last_command = f"{command}|{name}" if name in known else "NULL"


# Redis 7's default sections, in its order.
DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
)
# Section headers as Redis writes them, where capitalising the name is not it.
_TITLES = {"cpu": "CPU"}


def info_sections(e: Engine) -> dict[str, dict[str, object]]:
    """Every INFO section: the host's, plus the ones the engine itself knows."""
    sections: dict[str, dict[str, object]] = {name: {} for name in DEFAULT_SECTIONS}
    sections |= e.host.server_info()
    stats = sections.setdefault("stats", {})
    stats.setdefault("total_commands_processed", e.stats.commands)
    stats.setdefault("total_error_replies", e.stats.errors)
    persistence = sections["persistence"]
    if persistence.get("rdb_last_save_time") == 0:
        persistence["rdb_last_save_time"] = last_save_time(e)
    # Redis Cluster (hash slots across primaries) is not what a tandemkv group is: a group
    # replicates one keyspace, so clients must not switch to cluster mode.
    sections["cluster"] = {"cluster_enabled": 0}
    keyspace: dict[str, object] = {}
    if len(e.keyspace):
        keyspace["db0"] = f"keys={len(e.keyspace)},expires={e.keyspace.expiring_count()},avg_ttl=0"
    sections["keyspace"] = keyspace
    # Not a default section: INFO commandstats or INFO all.
    sections["commandstats"] = e.commandstats.info()
    sections["errorstats"] = e.commandstats.error_info()
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
        title = _TITLES.get(name, name.capitalize())
        lines = [f"# {title}"] + [f"{k}:{v}" for k, v in fields.items()]
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
    """Each parameter that a pattern names, once (names are case-insensitive)."""
    by_name = {redis_name(attr).encode(): attr for attr in PARAMS}
    found: dict[bytes, bytes] = {}
    seen: set[bytes] = set()
    for pattern in patterns:
        if not any(ch in pattern for ch in b"*?["):
            # A plain name comes back as it was sent, as Redis 7 does.
            name = pattern.lower()
            attr = ALIASES.get(attr_name(name.decode("utf-8", "replace")), "")
            if attr:
                name = redis_name(attr).encode()
            if name in by_name and name not in seen:
                seen.add(name)
                found[pattern] = _show(e, by_name[name])
            continue
        matches = compile_glob(pattern.lower())
        for name, attr in by_name.items():
            if name not in seen and matches(name):
                seen.add(name)
                found[name] = _show(e, attr)
    return found


def _show(e: Engine, attr: str) -> bytes:
    return PARAMS[attr].show(getattr(e.settings, attr)).encode()


def _config_set(e: Engine, args: list[bytes]) -> object:
    if len(args) < 4:
        raise CommandError("wrong number of arguments for 'config|set' command")
    if len(args) % 2 != 0:
        raise SyntaxErr()
    changes: dict[str, object] = {}
    for raw_name, raw_value in zip(args[2::2], args[3::2], strict=True):
        name = raw_name.decode("utf-8", "replace")
        attr = attr_name(name)
        attr = ALIASES.get(attr, attr)
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
    # The shell carries out what needs more than a new value (fsync policy, log level,
    # turning the log on or off) and may refuse; nothing is changed then.
    refusal = e.host.apply_settings(changes)
    if refusal:
        raise CommandError(refusal)
    for attr, value in changes.items():
        setattr(e.settings, attr, value)
    if "requirepass" in changes:
        e.acl.changed(b"default")  # the default user's password (commands/acl.py)
    return OK


def _config_set_failed(name: str, reason: str) -> CommandError:
    return CommandError(f"CONFIG SET failed (possibly related to argument '{name}') - {reason}")


_CONFIG_SUBCOMMANDS = ("get", "set", "resetstat", "rewrite", "help")
_CONFIG_FIXED_ARITY = {b"RESETSTAT": "resetstat", b"REWRITE": "rewrite", b"HELP": "help"}


@command(
    "config",
    -2,
    "admin",
    group="server",
    subcommands=_CONFIG_SUBCOMMANDS,
    summary="Read or change runtime settings",
    syntax="GET parameter [parameter ...]|SET parameter value [parameter value ...]|RESETSTAT|HELP",
)
def config(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    note_subcommand(s, "config", sub, _CONFIG_SUBCOMMANDS)
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
        e.commandstats.reset()
        return OK
    if sub == b"REWRITE":
        return e.host.rewrite_config()
    if sub == b"HELP":
        return help_lines(
            "CONFIG GET <pattern>",
            "CONFIG SET <name> <value> [<name> <value> ...]",
            "CONFIG RESETSTAT",
            "CONFIG REWRITE",
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
    return last_save_time(e)


def last_save_time(e: Engine) -> int:
    """The last snapshot's Unix time; before the first, the server's start, as in Redis
    (which counts the data it started with as saved)."""
    saved = e.host.last_save_time()
    if saved:
        return saved
    if not e.settings.started_at:
        # The host tells its uptime, not its start: worked out once, then kept, so the
        # answer stays the same until a snapshot (clients poll LASTSAVE for a change).
        uptime = e.host.server_info().get("server", {}).get("uptime_in_seconds")
        if isinstance(uptime, int):
            e.settings.started_at = e.now_ms // 1000 - uptime
    return e.settings.started_at


_REPLICAOF_HOST = (
    "REPLICAOF is not supported: a tandemkv node replicates as a member of a group. Add "
    "it to one with ADD_BACKUP <its HOST:PORT> sent to the group's primary (tandemkv "
    "add-backup --primary HOST:PORT --backup HOST:PORT), or start it with --role backup "
    "--primary HOST:PORT; see docs/operations.md"
)
_REPLICAOF_NO_ONE = (
    "REPLICAOF NO ONE cannot make this node primary: its group elects the primary. Send "
    "FAILOVER TO <host> <port> to the primary (tandemkv failover --to HOST:PORT), or "
    "PROMOTE FORCE to this node if its group lost its majority; see docs/operations.md"
)


@command(
    "replicaof",
    3,
    "admin",
    group="server",
    since="5.0.0",
    aliases=("slaveof",),
    summary="Answers OK on a primary for NO ONE; tandemkv groups replicate otherwise",
    syntax="host port|NO ONE",
)
def replicaof(e: Engine, s: Session, args: list[bytes]) -> object:
    if args[1].upper() == b"NO" and args[2].upper() == b"ONE":
        # "Stop replicating": true already of a primary (Redis answers OK on a master).
        cluster = e.host.cluster
        if cluster is None or cluster.status().role == PRIMARY:
            return OK
        raise CommandError(_REPLICAOF_NO_ONE)
    try:
        port = parse_int(args[2])
    except NotInteger:
        port = -1
    if not 0 <= port <= 65535:
        raise CommandError("Invalid master port")
    raise CommandError(_REPLICAOF_HOST)
