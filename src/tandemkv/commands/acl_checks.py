"""What a call needs of a user's permissions: its command name, keys and channels, found
as Redis finds them, and the reason (a Denial) when the user lacks one. Pure; the engine
calls `check` for every command of a restricted session (commands/acl.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from tandemkv.commands.acl_categories import KEY_ACCESS, OUR_KEY_ACCESS
from tandemkv.commands.acl_model import READ, WRITE, User, universe
from tandemkv.commands.glob import compile_glob
from tandemkv.commands.table import CommandSpec

NOPERM_KEYS = "this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNELS = "this user has no permissions to access one of the channels used as arguments"

_BITS = {"": 0, "R": READ, "W": WRITE, "RW": READ | WRITE}
# name -> (what the first key needs, what the others need)
_NEEDS: dict[str, tuple[int, int]] = {
    name: (_BITS[first], _BITS[rest or first])
    for name, (first, _, rest) in (
        (name, access.partition(",")) for name, access in (KEY_ACCESS | OUR_KEY_ACCESS).items()
    )
}
_UNKNOWN = (READ | WRITE, READ | WRITE)


def _needed(spec: CommandSpec, args: list[bytes]) -> tuple[int, int]:
    """What the call does to its first key and to the others (KEY_ACCESS); SET and its
    alias read only with GET."""
    needed = _NEEDS.get(spec.name, _UNKNOWN)
    if spec.name == "set" or spec.name == "put":
        both = READ | WRITE if any(a.upper() == b"GET" for a in args[3:]) else WRITE
        return both, both
    return needed


def command_name(spec: CommandSpec, args: list[bytes]) -> str:
    """The name ACL rules use for this call: `client|kill` for a known subcommand."""
    if spec.subcommands and len(args) > 1:
        full = f"{spec.name}|{args[1].lower().decode('latin-1')}"
        if full in universe().categories_of:
            return full
    return spec.name


class Denial(NamedTuple):
    """Why a call was refused: `reason` is "command", "key" or "channel" (ACL LOG's
    words), `target` the command's name, the key or the channel."""

    reason: str
    target: str

    def noperm(self) -> str:
        """The NOPERM error's text."""
        if self.reason == "command":
            return f"this user has no permissions to run the '{self.target}' command"
        return NOPERM_KEYS if self.reason == "key" else NOPERM_CHANNELS

    def changed_since_queued(self) -> str:
        """The error EXEC gives a queued call the user may no longer make."""
        return (
            "NOPERM ACLs rules changed between the moment the transaction was accumulated "
            "and the EXEC call. This command is no longer allowed for the following reason: "
            + _EXEC_REASONS[self.reason]
        )

    def dryrun(self) -> str:
        """ACL DRYRUN's reply."""
        if self.reason == "command":
            return f"This user has no permissions to run the '{self.target}' command"
        return f"This user has no permissions to access the '{self.target}' {self.reason}"


_EXEC_REASONS = {
    "command": "no permission to execute the command or subcommand",
    "key": "no permission to touch the specified keys",
    "channel": "no permission to access one of the channels used as arguments",
}


def check(user: User, spec: CommandSpec, args: list[bytes]) -> Denial | None:
    """None if `user` may run this call, else why not (Redis's order: the command, then
    its keys, then its channels)."""
    name = command_name(spec, args)
    if name not in user.allowed:
        return Denial("command", name)
    if not user.all_keys:
        needed, rest = _needed(spec, args)
        for key in command_keys(spec, args):
            if not key_allowed(user, key, needed):
                return Denial("key", key.decode("utf-8", "replace"))
            needed = rest
    if not user.all_channels:
        for channel in _channels_denied(user, spec.name, args):
            return Denial("channel", channel.decode("utf-8", "replace"))
    return None


def key_allowed(user: User, key: bytes, needed: int) -> bool:
    if user.all_keys:
        return True
    return any(
        flags & needed == needed and compile_glob(pattern)(key)
        for flags, pattern in user.key_patterns
    )


def _channels_denied(user: User, name: str, args: list[bytes]) -> list[bytes]:
    if name == "publish":
        channels = args[1:2]
    elif name == "subscribe":
        channels = args[1:]
    elif name == "psubscribe":
        # A pattern subscription must be allowed as such: Redis compares it literally.
        return [p for p in args[1:] if p not in user.channel_patterns]
    else:
        return []
    patterns = [compile_glob(p) for p in user.channel_patterns]
    return [c for c in channels if not any(match(c) for match in patterns)]


def subscriptions_allowed(user: User, channels: Iterable[bytes], patterns: Iterable[bytes]) -> bool:
    """Whether `user` may keep these subscriptions (Redis closes a subscriber that lost
    one when its user changes)."""
    if user.all_channels:
        return True
    if any(p not in user.channel_patterns for p in patterns):
        return False
    matchers = [compile_glob(p) for p in user.channel_patterns]
    return all(any(match(c) for match in matchers) for c in channels)


def command_keys(spec: CommandSpec, args: list[bytes]) -> list[bytes]:
    """The keys a call names, from the table's key positions or, for commands whose keys
    move (numkeys, STREAMS), as Redis's getkeys procedures find them."""
    movable = _MOVABLE.get(spec.name)
    if movable is not None:
        return movable(args)
    if not spec.first_key:
        return []
    last = spec.last_key if spec.last_key >= 0 else len(args) + spec.last_key
    return args[spec.first_key : last + 1 : spec.key_step or 1]


def _numkeys_at(position: int, before: int = 0) -> Callable[[list[bytes]], list[bytes]]:
    def keys(args: list[bytes]) -> list[bytes]:
        head = args[1 : 1 + before]
        try:
            count = int(args[position])
        except (ValueError, IndexError):
            return head
        return head + args[position + 1 : position + 1 + max(count, 0)]

    return keys


def _xread_keys(args: list[bytes]) -> list[bytes]:
    for i, arg in enumerate(args):
        if arg.upper() == b"STREAMS":
            rest = args[i + 1 :]
            return rest[: len(rest) // 2]
    return []


_MOVABLE = {
    "sintercard": _numkeys_at(1),
    "zunion": _numkeys_at(1),
    "zinter": _numkeys_at(1),
    "zdiff": _numkeys_at(1),
    "zintercard": _numkeys_at(1),
    "lmpop": _numkeys_at(1),
    "zmpop": _numkeys_at(1),
    "blmpop": _numkeys_at(2),
    "bzmpop": _numkeys_at(2),
    "zunionstore": _numkeys_at(2, before=1),
    "zinterstore": _numkeys_at(2, before=1),
    "zdiffstore": _numkeys_at(2, before=1),
    "xread": _xread_keys,
}
