"""Connection commands: PING ECHO HELLO AUTH QUIT SELECT RESET and CLIENT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv import __version__
from tandemkv.commands.args import parse_int, parse_positive_int
from tandemkv.commands.errors import (
    CommandError,
    NoProto,
    NotInteger,
    SyntaxErr,
    unknown_subcommand,
)
from tandemkv.commands.server import help_lines, note_subcommand
from tandemkv.commands.table import command
from tandemkv.commands.transactions import end_transaction
from tandemkv.commands.waiters import UNBLOCKED_BY_CLIENT
from tandemkv.protocol.types import OK, PONG, ErrorReply, SimpleString, Verbatim

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

REDIS_COMPAT_VERSION = "7.2.0"


@command(
    "ping",
    -1,
    "fast",
    group="connection",
    summary="Check that the server answers",
    syntax="[message]",
)
def ping(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) > 2:
        raise CommandError("wrong number of arguments for 'ping' command")
    return args[1] if len(args) == 2 else PONG


@command(
    "echo", 2, "fast", group="connection", summary="Return the given message", syntax="message"
)
def echo(e: Engine, s: Session, args: list[bytes]) -> object:
    return args[1]


@command(
    "auth",
    -2,
    "noauth fast",
    group="connection",
    summary="Authenticate the connection",
    syntax="[username] password",
)
def auth(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) > 3:
        raise SyntaxErr()
    if len(args) == 2 and not e.acl.locked:
        raise CommandError(
            "AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?"
        )
    username = args[1] if len(args) == 3 else b"default"
    e.acl.authenticate(s, username, args[-1])
    return OK


@command(
    "hello",
    -1,
    "noauth fast",
    group="connection",
    since="6.0.0",
    summary="Choose the protocol version, optionally authenticating and naming the client",
    syntax="[protover [AUTH username password] [SETNAME clientname]]",
)
def hello(e: Engine, s: Session, args: list[bytes]) -> object:
    version = s.resp
    if len(args) >= 2:
        try:
            version = parse_int(args[1])
        except NotInteger:
            raise CommandError("Protocol version is not an integer or out of range") from None
        if version not in (2, 3):
            raise NoProto()
    name: bytes | None = None
    i = 2
    while i < len(args):
        option = args[i].upper()
        if option == b"AUTH" and i + 2 < len(args):
            e.acl.authenticate(s, args[i + 1], args[i + 2])
            i += 3
        elif option == b"SETNAME" and i + 1 < len(args):
            name = validate_client_name(args[i + 1])
            i += 2
        else:
            option_text = args[i].decode("utf-8", "replace")
            raise CommandError(f"Syntax error in HELLO option '{option_text}'")
    if not s.authenticated and e.acl.locked:
        raise CommandError(
            "HELLO must be called with the client already authenticated, otherwise the "
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client "
            "and select the RESP protocol version at the same time"
        ).with_prefix("NOAUTH")
    if name is not None:
        s.name = name
    s.resp = version
    return {
        b"server": b"redis",
        b"version": REDIS_COMPAT_VERSION.encode(),
        b"proto": version,
        b"id": s.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
        b"tandemkv_version": __version__.encode(),
    }


@command(
    "quit",
    -1,
    "noauth fast multi-control",
    group="connection",
    summary="Close the connection after replying",
    syntax="",
)
def quit_(e: Engine, s: Session, args: list[bytes]) -> object:
    s.close_after_reply = True
    return OK


@command(
    "select",
    2,
    "fast",
    group="connection",
    summary="Select the database (only database 0 exists)",
    syntax="index",
)
def select(e: Engine, s: Session, args: list[bytes]) -> object:
    if parse_int(args[1]) != 0:
        raise CommandError("DB index is out of range")
    return OK


@command(
    "reset",
    1,
    "noauth fast multi-control",
    group="connection",
    since="6.2.0",
    summary="Reset the connection to its initial state",
    syntax="",
)
def reset(e: Engine, s: Session, args: list[bytes]) -> object:
    end_transaction(e, s)
    e.monitors.drop(s)  # RESET ends MONITOR, as in Redis
    s.resp = 2
    s.name = b""
    e.acl.start(s)  # back to the default user, as Redis does
    return SimpleString("RESET")


def validate_client_name(name: bytes) -> bytes:
    if any(c <= 0x20 or c > 0x7E for c in name):
        raise CommandError("Client names cannot contain spaces, newlines or special characters.")
    return name


def describe_client(e: Engine, s: Session) -> str:
    """One CLIENT LIST line, with Redis's field names for the fields we track."""
    now_ms = e.now_ms
    multi = -1 if s.queued is None else len(s.queued)
    listener = e.broker.subscriptions(s)
    flags = (
        ("x" if s.queued is not None else "")
        + ("b" if e.waiters.is_blocked(s) else "")
        + ("P" if listener is not None and listener.count else "")
        + ("O" if s in e.monitors.sessions else "")
    ) or "N"
    fields = [
        f"id={s.id}",
        f"addr={s.addr}",
        f"laddr={s.laddr}",
        f"name={s.name.decode('ascii', 'replace')}",
        f"age={max(0, (now_ms - s.created_ms) // 1000)}",
        f"idle={max(0, (now_ms - s.last_active_ms) // 1000)}",
        f"flags={flags}",
        "db=0",
        f"sub={len(listener.channels) if listener is not None else 0}",
        f"psub={len(listener.patterns) if listener is not None else 0}",
        "ssub=0",
        f"multi={multi}",
        f"watch={len(s.watched)}",
        f"cmd={s.last_command}",
        f"user={s.user.decode('utf-8', 'replace')}",
        f"resp={s.resp}",
        f"lib-name={s.lib_name.decode('ascii', 'replace')}",
        f"lib-ver={s.lib_ver.decode('ascii', 'replace')}",
    ]
    return " ".join(fields)


def _client_text(lines: list[str]) -> Verbatim:
    return Verbatim("txt", "".join(line + "\n" for line in lines).encode())


def _kill_filters(e: Engine, s: Session, args: list[bytes]) -> list[Session]:
    """Sessions matched by CLIENT KILL's filter form (ID, ADDR, LADDR, SKIPME, USER)."""
    if len(args) % 2 != 0:
        raise SyntaxErr()
    candidates = list(e.host.sessions())
    skip_me = True
    for i in range(2, len(args), 2):
        option, value = args[i].upper(), args[i + 1]
        if option == b"ID":
            wanted = _client_id(value)
            candidates = [c for c in candidates if c.id == wanted]
        elif option == b"ADDR":
            candidates = [c for c in candidates if c.addr.encode() == value]
        elif option == b"LADDR":
            candidates = [c for c in candidates if c.laddr.encode() == value]
        elif option == b"USER":
            if e.acl.user(value) is None:
                raise CommandError(f"No such user '{value.decode('utf-8', 'replace')}'")
            candidates = [c for c in candidates if c.user == value]
        elif option == b"SKIPME":
            if value.lower() not in (b"yes", b"no"):
                raise SyntaxErr()
            skip_me = value.lower() == b"yes"
        else:
            raise SyntaxErr()
    return [c for c in candidates if not (skip_me and c is s)]


def _client_id(raw: bytes) -> int:
    return parse_positive_int(raw, "client-id should be greater than 0")


def _client_list(e: Engine, args: list[bytes]) -> list[Session]:
    """CLIENT LIST [TYPE type] [ID id [id ...]]: every client is of type normal here."""
    sessions = list(e.host.sessions())
    if len(args) == 2:
        return sessions
    option = args[2].upper()
    if option == b"TYPE" and len(args) == 4:
        kind = args[3].lower()
        if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
            raise CommandError(f"Unknown client type '{args[3].decode('utf-8', 'replace')}'")
        subscribed = e.broker.listeners
        if kind == b"pubsub":
            return [c for c in sessions if c in subscribed]
        return [c for c in sessions if c not in subscribed] if kind == b"normal" else []
    if option == b"ID" and len(args) >= 4:
        wanted = {_client_id(raw) for raw in args[3:]}
        return [c for c in sessions if c.id in wanted]
    raise SyntaxErr()


def _client_kill(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 3:
        targets = [c for c in e.host.sessions() if c.addr.encode() == args[2]]
        if not targets:
            raise CommandError("No such client")
        for target in targets:
            e.host.kill(target)
        return OK
    targets = _kill_filters(e, s, args)
    for target in targets:
        e.host.kill(target)
    return len(targets)


def _client_setinfo(s: Session, args: list[bytes]) -> object:
    if len(args) != 4:
        raise CommandError("wrong number of arguments for 'client|setinfo' command")
    attr, value = args[2].upper(), args[3]
    if attr not in (b"LIB-NAME", b"LIB-VER"):
        raise CommandError(f"Unrecognized option '{args[2].decode('utf-8', 'replace')}'")
    if any(c <= 0x20 or c > 0x7E for c in value):
        raise CommandError(
            f"{attr.decode()} cannot contain spaces, newlines or special characters."
        )
    if attr == b"LIB-NAME":
        s.lib_name = value
    else:
        s.lib_ver = value
    return OK


def _client_unblock(e: Engine, args: list[bytes]) -> object:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: end a client's BLPOP-like wait as if it timed out,
    or with an error; 1 if it was waiting."""
    if len(args) > 4:
        raise CommandError(
            "unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."
        )
    client_id = parse_int(args[2])
    reason = args[3].upper() if len(args) == 4 else b"TIMEOUT"
    if reason not in (b"TIMEOUT", b"ERROR"):
        raise CommandError("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    waiters = e.waiters
    if reason == b"ERROR":
        reply: object = ErrorReply(UNBLOCKED_BY_CLIENT)
    else:
        reply = waiters.timeout_reply(client_id)
    return int(waiters.release_id(client_id, reply))


_CLIENT_SUBCOMMANDS = (
    "id",
    "setname",
    "getname",
    "list",
    "info",
    "kill",
    "setinfo",
    "unblock",
    "help",
)
_CLIENT_ARITY = {b"ID": 2, b"GETNAME": 2, b"SETNAME": 3, b"INFO": 2, b"UNBLOCK": -3}


@command(
    "client",
    -2,
    "",
    group="connection",
    subcommands=_CLIENT_SUBCOMMANDS,
    summary="Inspect and manage client connections",
    syntax="ID|SETNAME name|GETNAME|LIST|INFO|KILL ...|SETINFO attr value|UNBLOCK id|HELP",
)
def client(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    note_subcommand(s, "client", sub, _CLIENT_SUBCOMMANDS)
    arity = _CLIENT_ARITY.get(sub)
    if arity is not None and (len(args) < -arity if arity < 0 else len(args) != arity):
        raise CommandError(f"wrong number of arguments for 'client|{sub.decode().lower()}' command")
    if sub == b"ID":
        return s.id
    if sub == b"SETNAME":
        s.name = validate_client_name(args[2])
        return OK
    if sub == b"GETNAME":
        return s.name or None
    if sub == b"INFO":
        return _client_text([describe_client(e, s)])
    if sub == b"LIST":
        return _client_text([describe_client(e, c) for c in _client_list(e, args)])
    if sub == b"KILL" and len(args) >= 3:
        return _client_kill(e, s, args)
    if sub == b"SETINFO":
        return _client_setinfo(s, args)
    if sub == b"UNBLOCK":
        return _client_unblock(e, args)
    if sub == b"HELP":
        return help_lines(*CLIENT_HELP)
    raise unknown_subcommand("client", args[1])


CLIENT_HELP = (
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ID",
    "    Return the ID of the current connection.",
    "GETNAME",
    "    Return the name of the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "LIST",
    "    Return information about client connections.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port> | KILL <option> <value> [<option> <value> ...]",
    "    Kill connections. Options: ID <id>, ADDR <ip:port>, LADDR <ip:port>, USER <name>,",
    "    SKIPME (yes|no).",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Record the client library's name or version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "HELP",
    "    Print this help.",
)
