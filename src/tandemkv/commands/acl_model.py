"""ACL users: Redis 7.0's rule language and a user's permissions. Pure.

A user is built by applying rules (`ACL SETUSER name rule...`, an ACL file line) to a copy
of what it was; `describe` turns it back into the canonical rules Redis's ACL LIST shows,
which is also what the log and snapshots store (commands/acl.py), so a replayed user is
the same user. Passwords are kept only as SHA-256 hex digests, as in Redis.

Commands are named as Redis names them in rules and NOPERM texts: `get`, and `client|kill`
for a subcommand. The set of names (the "universe") is our command table's, built once the
table is filled; a user's permissions are the set of names it may run. What a call needs
of them is commands/acl_checks.py's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tandemkv.commands.acl_categories import CATEGORY_NAMES, OUR_CATEGORIES, REDIS_CATEGORIES
from tandemkv.commands.errors import CommandError
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.table import unique_specs

READ, WRITE = 1, 2
_HEX = frozenset("0123456789abcdef")


class RuleError(Exception):
    """A rule that cannot apply; `str()` is Redis's reason (after "modifier '...': ")."""


# ------------------------------------------------------------------ the command universe


@dataclass(slots=True)
class Universe:
    names: frozenset[str]
    by_category: dict[str, frozenset[str]]
    categories_of: dict[str, tuple[str, ...]]
    subcommands: dict[str, tuple[str, ...]]  # container -> its "container|sub" names


_UNIVERSE: list[Universe] = []


def universe() -> Universe:
    """Every command name and its categories (built on first use: the table must be full)."""
    if _UNIVERSE:
        return _UNIVERSE[0]
    categories_of: dict[str, tuple[str, ...]] = {}
    subcommands: dict[str, tuple[str, ...]] = {}
    for spec in unique_specs():
        names = [spec.name, *(f"{spec.name}|{sub}" for sub in spec.subcommands)]
        subcommands[spec.name] = tuple(names[1:])
        for name in names:
            text = REDIS_CATEGORIES.get(name) or OUR_CATEGORIES.get(name) or "slow"
            categories_of[name] = tuple(text.split())
    by_category = {
        category: frozenset(n for n, cats in categories_of.items() if category in cats)
        for category in CATEGORY_NAMES
    }
    built = Universe(frozenset(categories_of), by_category, categories_of, subcommands)
    _UNIVERSE.append(built)
    return built


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


# ------------------------------------------------------------------------------ a user


@dataclass(slots=True)
class User:
    name: bytes
    enabled: bool = False
    nopass: bool = False
    sanitize_payload: bool = False
    passwords: list[str] = field(default_factory=list)
    # +@all/allcommands was the last word on commands (Redis's "future commands" bit).
    all_commands: bool = False
    allowed: set[str] = field(default_factory=set)
    command_rules: list[str] = field(default_factory=list)
    all_keys: bool = False
    key_patterns: list[tuple[int, bytes]] = field(default_factory=list)
    all_channels: bool = False
    channel_patterns: list[bytes] = field(default_factory=list)

    def copy(self) -> User:
        return User(
            self.name,
            self.enabled,
            self.nopass,
            self.sanitize_payload,
            list(self.passwords),
            self.all_commands,
            set(self.allowed),
            list(self.command_rules),
            self.all_keys,
            list(self.key_patterns),
            self.all_channels,
            list(self.channel_patterns),
        )

    @property
    def unrestricted(self) -> bool:
        """May run every command on every key and channel: the engine skips its checks."""
        return (
            self.all_keys
            and self.all_channels
            and self.allowed >= universe().names
            and not any(flags != READ | WRITE for flags, _ in self.key_patterns)
        )

    def check_password(self, password: bytes) -> bool:
        if not self.enabled:
            return False
        if self.nopass:
            return True
        return hash_password(password) in self.passwords


def default_user() -> User:
    """Redis's built-in `default`: on nopass ~* &* +@all."""
    user = User(b"default")
    apply_rules(user, [b"on", b"nopass", b"allkeys", b"allchannels", b"+@all"])
    return user


def new_user(name: bytes) -> User:
    """A user ACL SETUSER creates: off, no password, no keys, channels or commands."""
    return User(name)


def validate_name(name: bytes) -> None:
    if not name or any(c in b" \0" for c in name):
        raise RuleError("Usernames can't contain spaces or null characters")


# ------------------------------------------------------------------------------- rules


def apply_rules(user: User, rules: Sequence[bytes]) -> None:
    """Apply rules in order; RuleError names the first bad one (the user is then partly
    changed: callers apply to a copy)."""
    for rule in rules:
        try:
            _apply(user, rule)
        except RuleError as error:
            text = rule.decode("utf-8", "replace")
            raise RuleError(f"Error in ACL SETUSER modifier '{text}': {error}") from None


def _apply(user: User, rule: bytes) -> None:
    lower = rule.lower()
    simple = _SIMPLE.get(lower)
    if simple is not None:
        simple(user)
    elif rule[:1] in (b">", b"<"):
        _password(user, rule[:1] == b">", hash_password(rule[1:]))
    elif rule[:1] in (b"#", b"!"):
        digest = rule[1:].decode("latin-1")
        if len(digest) != 64 or not set(digest) <= _HEX:
            raise RuleError(
                "The password hash must be exactly 64 characters and contain only "
                "lowercase hexadecimal characters"
            )
        _password(user, rule[:1] == b"#", digest)
    elif rule[:1] == b"~" or rule[:1] == b"%":
        _key_pattern(user, rule)
    elif rule[:1] == b"&":
        if user.all_channels and rule != b"&*":
            raise RuleError(
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
                "valid and does not have any effect. Try 'resetchannels' to start with an "
                "empty list of channels"
            )
        if rule == b"&*":
            _all_channels(user)
        elif rule[1:] not in user.channel_patterns:
            user.channel_patterns.append(rule[1:])
    elif rule[:1] in (b"+", b"-"):
        _command_rule(user, lower.decode("latin-1"))
    else:
        raise RuleError("Syntax error")


def _password(user: User, add: bool, digest: str) -> None:
    if add:
        if digest not in user.passwords:
            user.passwords.append(digest)
        user.nopass = False
    elif digest in user.passwords:
        user.passwords.remove(digest)
    else:
        raise RuleError("The password you are trying to remove from the user does not exist")


def _key_pattern(user: User, rule: bytes) -> None:
    if rule[:1] == b"%":
        flags_text, sep, pattern = rule[1:].partition(b"~")
        flags = 0
        for c in flags_text.upper():
            if c == ord("R"):
                flags |= READ
            elif c == ord("W"):
                flags |= WRITE
            else:
                raise RuleError("Syntax error")
        if not sep or not flags:
            raise RuleError("Syntax error")
    else:
        flags, pattern = READ | WRITE, rule[1:]
    if user.all_keys:
        raise RuleError(
            "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
            "does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
        )
    try:
        compile_glob(pattern)
    except CommandError as error:
        raise RuleError(error.message) from None
    if pattern == b"*" and flags == READ | WRITE:
        _all_keys(user)
        return
    for i, (old_flags, old) in enumerate(user.key_patterns):
        if old == pattern:
            user.key_patterns[i] = (old_flags | flags, old)
            return
    user.key_patterns.append((flags, pattern))


def _command_rule(user: User, rule: str) -> None:
    world = universe()
    allow, name = rule[0] == "+", rule[1:]
    if name.startswith("@"):
        category = name[1:]
        if category == "all":
            _all_commands(user) if allow else _no_commands(user)
            return
        members = world.by_category.get(category)
        if members is None:
            raise RuleError("Unknown command or category name in ACL")
    elif name in world.names:
        members = frozenset((name, *world.subcommands.get(name, ())))
    else:
        raise RuleError("Unknown command or category name in ACL")
    if allow:
        user.allowed |= members
    else:
        user.allowed -= members
    # Redis's command_rules: the same rule given again moves to the end.
    user.command_rules = [r for r in user.command_rules if r[1:] != name]
    user.command_rules.append(rule)


def _on(user: User) -> None:
    user.enabled = True


def _off(user: User) -> None:
    user.enabled = False


def _nopass(user: User) -> None:
    user.nopass = True
    user.passwords.clear()


def _resetpass(user: User) -> None:
    user.nopass = False
    user.passwords.clear()


def _all_keys(user: User) -> None:
    user.all_keys = True
    user.key_patterns.clear()


def _reset_keys(user: User) -> None:
    user.all_keys = False
    user.key_patterns.clear()


def _all_channels(user: User) -> None:
    user.all_channels = True
    user.channel_patterns.clear()


def _reset_channels(user: User) -> None:
    user.all_channels = False
    user.channel_patterns.clear()


def _all_commands(user: User) -> None:
    user.all_commands = True
    user.allowed = set(universe().names)
    user.command_rules.clear()


def _no_commands(user: User) -> None:
    user.all_commands = False
    user.allowed = set()
    user.command_rules.clear()


def _sanitize(user: User) -> None:
    user.sanitize_payload = True


def _skip_sanitize(user: User) -> None:
    user.sanitize_payload = False


def _reset(user: User) -> None:
    for step in (_resetpass, _reset_keys, _reset_channels, _off, _no_commands, _sanitize):
        step(user)


_SIMPLE = {
    b"on": _on,
    b"off": _off,
    b"nopass": _nopass,
    b"resetpass": _resetpass,
    b"allkeys": _all_keys,
    b"resetkeys": _reset_keys,
    b"allchannels": _all_channels,
    b"resetchannels": _reset_channels,
    b"allcommands": _all_commands,
    b"nocommands": _no_commands,
    b"sanitize-payload": _sanitize,
    b"skip-sanitize-payload": _skip_sanitize,
    b"reset": _reset,
}


# ---------------------------------------------------------------------------- describe


def flags_of(user: User) -> list[str]:
    flags = ["on" if user.enabled else "off"]
    if user.nopass:
        flags.append("nopass")
    if user.sanitize_payload:
        flags.append("sanitize-payload")
    return flags


def command_rules_shown(user: User) -> list[str]:
    """Redis 7.0's rules: +@all or -@all, then each rule that still changes something."""
    world = universe()
    parts = ["+@all" if user.all_commands else "-@all"]
    allowed = set(world.names) if user.all_commands else set()
    for rule in user.command_rules:
        name = rule[1:]
        if name.startswith("@"):
            members: Iterable[str] = world.by_category[name[1:]]
        else:
            members = (name, *world.subcommands.get(name, ()))
        before = len(allowed)
        if rule[0] == "+":
            allowed.update(members)
        else:
            allowed.difference_update(members)
        if len(allowed) != before:
            parts.append(rule)
    return parts


def key_rules(user: User) -> list[bytes]:
    if user.all_keys:
        return [b"~*"]
    prefix = {READ: b"%R~", WRITE: b"%W~", READ | WRITE: b"~"}
    return [prefix[flags] + pattern for flags, pattern in user.key_patterns]


def channel_rules(user: User) -> list[bytes]:
    if user.all_channels:
        return [b"&*"]
    return [b"&" + pattern for pattern in user.channel_patterns]


def describe_commands(user: User) -> str:
    return " ".join(command_rules_shown(user))


def describe_keys(user: User) -> bytes:
    return b" ".join(key_rules(user))


def describe_channels(user: User) -> bytes:
    """The channels as ACL GETUSER shows them (no `resetchannels`)."""
    return b" ".join(channel_rules(user))


def describe(user: User) -> list[bytes]:
    """The rules that rebuild `user` from nothing, in ACL LIST's order: one element per
    rule (a pattern may hold a space), which is what the log and snapshots store."""
    parts = [flag.encode() for flag in flags_of(user)]
    parts += (b"#" + digest.encode() for digest in user.passwords)
    parts += key_rules(user)
    if not user.all_channels:
        parts.append(b"resetchannels")
    parts += channel_rules(user)
    parts += (rule.encode() for rule in command_rules_shown(user))
    return parts


def from_rules(name: bytes, rules: Iterable[bytes]) -> User:
    user = new_user(name)
    apply_rules(user, list(rules))
    return user
