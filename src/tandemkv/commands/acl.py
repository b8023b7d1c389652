"""Users and ACLs: the ACL command, authentication, and each session's permissions.

The users are replicated state: `Keyspace.users` holds each user's rules (what ACL LIST
shows), changed only by SetUser/DeleteUsers mutations, so the primary logs them, backups
apply them and recovery and snapshots restore them like keys. `Acl` keeps them compiled
(commands/acl_model.py) and, whenever the table changes (here, on a backup applying its
primary's log, on a rebuild), re-points every session of a changed user at once; a
deleted user's sessions are closed, as in Redis.

`requirepass` is this node's password for `default`, as Redis's is: when set it is added
to the passwords of the stored default user (Redis's built-in `on nopass ~* &* +@all` until
ACL SETUSER default changes it), on this node only. The engine's per-command cost for a
session whose user may do everything is one field test (`session.acl is None`).
"""

from __future__ import annotations

import hmac
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tandemkv.commands import acl_model
from tandemkv.commands.acl_categories import CATEGORY_NAMES
from tandemkv.commands.acl_checks import Denial, check, subscriptions_allowed
from tandemkv.commands.acl_model import RuleError, User
from tandemkv.commands.args import parse_int
from tandemkv.commands.connection import describe_client
from tandemkv.commands.errors import CommandError, WrongPass, unknown_subcommand
from tandemkv.commands.server import help_lines, note_subcommand
from tandemkv.commands.table import CommandSpec, Write, command, lookup
from tandemkv.protocol.types import OK, SetReply
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import Batch, DeleteUsers, Mutation, SetUser

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

DEFAULT = b"default"


class Acl:
    """The compiled users and the default user's state, kept in step with the keyspace."""

    __slots__ = ("_engine", "_users", "default_acl", "locked", "log")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._users: dict[bytes, User] = {}
        # New connections: whether they must AUTH (the default user has a password or is
        # off) and what they may do meanwhile (None: everything).
        self.locked = bool(engine.settings.requirepass)
        self.default_acl: User | None = None
        # ACL LOG: this node's denials, newest first (not replicated, as in Redis).
        self.log: deque[LogEntry] = deque(maxlen=LOG_MAX_LEN)
        engine.keyspace.users_changed = self.changed
        self._refresh_default()  # no sessions yet: the host may still be being built

    @property
    def keyspace(self) -> Keyspace:
        return self._engine.keyspace

    def user(self, name: bytes) -> User | None:
        """The effective user `name` (default: with this node's requirepass), or None."""
        user = self._users.get(name)
        if user is None:
            rules = self.keyspace.users.get(name)
            if rules is not None:
                user = _rebuilt(name, rules)
            elif name == DEFAULT:
                user = acl_model.default_user()
            else:
                return None
            if name == DEFAULT and self._engine.settings.requirepass:
                # This node's password for default, beside any the group's table gives.
                acl_model.apply_rules(user, [b">" + self._requirepass()])
            self._users[name] = user
        return user

    def _requirepass(self) -> bytes:
        return self._engine.settings.requirepass.encode()

    def names(self) -> list[bytes]:
        return sorted({DEFAULT, *self.keyspace.users})

    def changed(self, name: bytes | None) -> None:
        """User `name` (None: any) was set or removed: recompile it, update its sessions."""
        if name is None:
            self._users.clear()
        else:
            self._users.pop(name, None)
        self._refresh_default()
        engine = self._engine
        for session in list(engine.host.sessions()):
            if session.peer_id or (name is not None and session.user != name):
                continue
            user = self.user(session.user)
            listener = engine.broker.subscriptions(session)
            if user is None or (
                listener is not None
                and not subscriptions_allowed(user, listener.channels, listener.patterns)
            ):
                # Redis closes the connections of a deleted user, and the subscribers
                # that lost a channel.
                engine.host.kill(session)
            else:
                session.acl = None if user.unrestricted else user

    def _refresh_default(self) -> None:
        default = self.user(DEFAULT)
        assert default is not None
        self.locked = not (default.enabled and default.nopass)
        self.default_acl = None if default.unrestricted else default

    def start(self, session: Session) -> None:
        """A new connection: the default user, authenticated if it needs no password."""
        session.user = DEFAULT
        session.authenticated = not self.locked
        session.acl = self.default_acl

    def authenticate(self, session: Session, name: bytes, password: bytes) -> None:
        user = self.user(name)
        ok = user is not None and user.check_password(password)
        if not ok and name == DEFAULT and user is not None and self._engine.settings.requirepass:
            # Constant time against the configured password, as before users existed.
            ok = user.enabled and hmac.compare_digest(password, self._requirepass())
        if not ok or user is None:
            self.record(session, Denial("auth", "AUTH"), name)
            raise WrongPass()
        session.user = name
        session.authenticated = True
        session.acl = None if user.unrestricted else user

    def record(self, session: Session, denial: Denial, username: bytes | None = None) -> None:
        """Log a denial as Redis does: one entry per reason, context, object and user,
        counted while they repeat within a minute."""
        now = self._engine.now_ms
        entry = LogEntry(
            denial.reason,
            "multi"
            if session.queued is not None or self._engine.atomic is not None
            else "toplevel",
            denial.target,
            (username if username is not None else session.user).decode("utf-8", "replace"),
        )
        for i, old in enumerate(self.log):
            if old.same_as(entry) and now - old.updated_ms < LOG_GROUP_MS:
                del self.log[i]
                entry.count = old.count + 1
                break
        entry.updated_ms = now
        entry.client_info = describe_client(self._engine, session)
        self.log.appendleft(entry)


LOG_MAX_LEN = 128  # Redis's acllog-max-len default
LOG_GROUP_MS = 60_000


@dataclass(slots=True)
class LogEntry:
    reason: str
    context: str
    target: str
    username: str
    count: int = 1
    updated_ms: int = 0
    client_info: str = ""

    def same_as(self, other: LogEntry) -> bool:
        return (self.reason, self.context, self.target, self.username) == (
            other.reason,
            other.context,
            other.target,
            other.username,
        )

    def reply(self, now_ms: int) -> dict[bytes, object]:
        return {
            b"count": self.count,
            b"reason": self.reason.encode(),
            b"context": self.context.encode(),
            b"object": self.target.encode(),
            b"username": self.username.encode(),
            b"age-seconds": (now_ms - self.updated_ms) / 1000,
            b"client-info": self.client_info.encode(),
        }


# ------------------------------------------------------------------------------- ACL

_SUBCOMMANDS = (
    "cat",
    "deluser",
    "dryrun",
    "genpass",
    "getuser",
    "help",
    "list",
    "load",
    "log",
    "save",
    "setuser",
    "users",
    "whoami",
)
_ARITY = {
    b"CAT": -2,
    b"DELUSER": -3,
    b"DRYRUN": -4,
    b"GENPASS": -2,
    b"GETUSER": 3,
    b"HELP": 2,
    b"LIST": 2,
    b"LOAD": 2,
    b"LOG": -2,
    b"SAVE": 2,
    b"SETUSER": -3,
    b"USERS": 2,
    b"WHOAMI": 2,
}
# Stands for ACL SETUSER/DELUSER/LOAD when asking the node's gate: they change replicated
# state, so only a primary in service runs them.
_AS_WRITE = CommandSpec("acl", -2, frozenset({"write"}), lambda e, s, a: None, "server", "")
_NO_ACL_FILE = (
    "This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have "
    "a Redis configuration file set) in order to store users in the Redis configuration."
)


@command(
    "acl",
    -2,
    "loading",
    group="server",
    since="6.0.0",
    subcommands=_SUBCOMMANDS,
    summary="Manage users and their permissions",
    syntax="SETUSER|GETUSER|DELUSER|LIST|USERS|WHOAMI|CAT|GENPASS|DRYRUN|LOAD|SAVE|HELP",
)
def acl(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    note_subcommand(s, "acl", sub, _SUBCOMMANDS)
    arity = _ARITY.get(sub)
    if arity is None:
        raise unknown_subcommand("acl", args[1])
    if (arity > 0 and len(args) != arity) or len(args) < -arity:
        raise CommandError(f"wrong number of arguments for 'acl|{sub.decode().lower()}' command")
    return _HANDLERS[sub](e, s, args)


def _setuser(e: Engine, s: Session, args: list[bytes]) -> object:
    _must_write(e, s)
    name = args[2]
    try:
        acl_model.validate_name(name)
        current = e.acl.user(name)
        user = current.copy() if current is not None else acl_model.new_user(name)
        if name == DEFAULT and current is not None and e.settings.requirepass:
            user = _stored_default(e)
        acl_model.apply_rules(user, args[3:])
    except RuleError as error:
        raise CommandError(str(error)) from None
    return Write(OK, _set_user_mutation(user))


def _stored_default(e: Engine) -> User:
    rules = e.keyspace.users.get(DEFAULT)
    if rules is None:
        return acl_model.default_user()
    return _rebuilt(DEFAULT, rules)


def _rebuilt(name: bytes, rules: tuple[bytes, ...]) -> User:
    """A user from the rules its SetUser carried. They came from `describe`, so they
    apply; should a later release not understand one, the user is locked out (off, no
    permissions) rather than the log or snapshot refused."""
    try:
        return acl_model.from_rules(name, rules)
    except RuleError:
        return acl_model.new_user(name)


def _set_user_mutation(user: User) -> SetUser:
    return SetUser(user.name, tuple(acl_model.describe(user)))


def _deluser(e: Engine, s: Session, args: list[bytes]) -> object:
    _must_write(e, s)
    if DEFAULT in args[2:]:
        raise CommandError("The 'default' user cannot be removed")
    names = tuple(dict.fromkeys(n for n in args[2:] if n in e.keyspace.users))
    if not names:
        return 0
    return Write(len(names), DeleteUsers(names))


def _getuser(e: Engine, s: Session, args: list[bytes]) -> object:
    user = e.acl.user(args[2])
    if user is None:
        return None
    return {
        b"flags": SetReply(tuple(flag.encode() for flag in acl_model.flags_of(user))),
        b"passwords": [digest.encode() for digest in user.passwords],
        b"commands": acl_model.describe_commands(user).encode(),
        b"keys": acl_model.describe_keys(user),
        b"channels": acl_model.describe_channels(user),
        b"selectors": [],
    }


def _list(e: Engine, s: Session, args: list[bytes]) -> object:
    return [acl_line(e.acl.user(name)) for name in e.acl.names()]


def acl_line(user: User | None) -> bytes:
    assert user is not None
    return b" ".join([b"user", user.name, *acl_model.describe(user)])


def _users(e: Engine, s: Session, args: list[bytes]) -> object:
    return e.acl.names()


def _whoami(e: Engine, s: Session, args: list[bytes]) -> object:
    return s.user


def _cat(e: Engine, s: Session, args: list[bytes]) -> object:
    if len(args) == 2:
        return [name.encode() for name in CATEGORY_NAMES]
    if len(args) != 3:
        raise CommandError(
            "unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP."
        )
    category = args[2].lower().decode("utf-8", "replace")
    members = acl_model.universe().by_category.get(category)
    if members is None:
        raise CommandError(f"Unknown category '{args[2].decode('utf-8', 'replace')}'")
    return [name.encode() for name in sorted(members)]


def _genpass(e: Engine, s: Session, args: list[bytes]) -> object:
    bits = 256
    if len(args) > 3:
        raise CommandError(
            "unknown subcommand or wrong number of arguments for 'GENPASS'. Try ACL HELP."
        )
    if len(args) == 3:
        bits = parse_int(args[2])
        if not 0 < bits <= 4096:
            raise CommandError(
                "ACL GENPASS argument must be the number of bits for the output password, "
                "a positive number up to 4096"
            )
    chars = (bits + 3) // 4
    return e.host.random_bytes((chars + 1) // 2).hex()[:chars].encode()


def _dryrun(e: Engine, s: Session, args: list[bytes]) -> object:
    user = e.acl.user(args[2])
    if user is None:
        raise CommandError(f"User '{args[2].decode('utf-8', 'replace')}' not found")
    spec = lookup(args[3])
    if spec is None:
        raise CommandError(f"Command '{args[3].decode('utf-8', 'replace')}' not found")
    arity, argc = spec.arity, len(args) - 3
    if (arity > 0 and argc != arity) or argc < -arity:
        raise CommandError(f"wrong number of arguments for '{spec.name}' command")
    denied = check(user, spec, args[3:])
    return OK if denied is None else denied.dryrun().encode("utf-8")


def _load(e: Engine, s: Session, args: list[bytes]) -> object:
    text = e.host.read_acl_file()
    if text is None:
        raise CommandError(_NO_ACL_FILE)
    _must_write(e, s)
    try:
        users = parse_acl_file(text)
    except RuleError as error:
        raise CommandError(str(error)) from None
    return Write(OK, replace_users(users))


def _save(e: Engine, s: Session, args: list[bytes]) -> object:
    lines = [acl_line(e.acl.user(name)) + b"\n" for name in e.acl.names()]
    if not e.host.write_acl_file(b"".join(lines)):
        raise CommandError(_NO_ACL_FILE)
    return OK


def _log(e: Engine, s: Session, args: list[bytes]) -> object:
    count = 10
    if len(args) > 3:
        raise CommandError(
            "unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP."
        )
    if len(args) == 3:
        if args[2].upper() == b"RESET":
            e.acl.log.clear()
            return OK
        count = max(parse_int(args[2]), 0)  # Redis answers a negative count with nothing
    return [entry.reply(e.now_ms) for entry in list(e.acl.log)[:count]]


def _help(e: Engine, s: Session, args: list[bytes]) -> object:
    return help_lines(*ACL_HELP)


def _must_write(e: Engine, s: Session) -> None:
    gate = e.gate
    if gate is not None and not gate.open:
        refusal = gate(s, _AS_WRITE)
        if refusal is not None:
            raise refusal


_HANDLERS = {
    b"CAT": _cat,
    b"DELUSER": _deluser,
    b"DRYRUN": _dryrun,
    b"GENPASS": _genpass,
    b"GETUSER": _getuser,
    b"HELP": _help,
    b"LIST": _list,
    b"LOAD": _load,
    b"LOG": _log,
    b"SAVE": _save,
    b"SETUSER": _setuser,
    b"USERS": _users,
    b"WHOAMI": _whoami,
}


# ---------------------------------------------------------------------------- ACL files


def parse_acl_file(text: bytes) -> list[User]:
    """Redis's ACL file: `user NAME rule...` lines; blank lines and # comments skipped.
    RuleError names the line of the first problem."""
    users: dict[bytes, User] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        words = line.split()
        try:
            if words[0] != b"user" or len(words) < 2:
                raise RuleError("should start with user keyword")
            name = words[1]
            acl_model.validate_name(name)
            if name in users:
                raise RuleError(f"duplicate user '{name.decode('utf-8', 'replace')}'")
            users[name] = acl_model.from_rules(name, words[2:])
        except RuleError as error:
            raise RuleError(f"line {number}: {error}") from None
    return list(users.values())


def replace_users(users: list[User]) -> Mutation:
    """The mutation that makes `users` the whole user table (ACL LOAD, an aclfile seed)."""
    items: list[Mutation] = [DeleteUsers((), all_users=True)]
    items += (_set_user_mutation(user) for user in users)
    return Batch(tuple(items))


ACL_HELP = (
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
)
