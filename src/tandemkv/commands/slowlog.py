"""SLOWLOG: the commands that took longer than slowlog-log-slower-than, newest first.

Pure: the shell measures each command and calls `SlowLog.push` for one past the threshold;
the ring keeps slowlog-max-len entries. Entries hold trimmed copies of the arguments (as
Redis's do), so a slow SET of a 100 MB value keeps 128 bytes of it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError, unknown_subcommand
from tandemkv.commands.redaction import redacted
from tandemkv.commands.server import help_lines, note_subcommand
from tandemkv.commands.table import command
from tandemkv.protocol.types import OK

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session

# Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
MAX_ARGS = 32
MAX_STRING = 128
DEFAULT_COUNT = 10


def entry_args(args: list[bytes]) -> list[bytes]:
    """At most MAX_ARGS arguments, the last saying how many more there were; each cut to
    MAX_STRING bytes with a note of how many more it had; secrets redacted."""
    args = redacted(args)
    kept = min(len(args), MAX_ARGS)
    out: list[bytes] = []
    for at in range(kept):
        if at == kept - 1 and kept != len(args):
            out.append(b"... (%d more arguments)" % (len(args) - kept + 1))
        elif len(args[at]) > MAX_STRING:
            arg = args[at]
            out.append(arg[:MAX_STRING] + b"... (%d more bytes)" % (len(arg) - MAX_STRING))
        else:
            out.append(bytes(args[at]))
    return out


class SlowLog:
    __slots__ = ("entries", "next_id")

    def __init__(self) -> None:
        # [id, unix time, microseconds, arguments, client address, client name], newest first.
        self.entries: deque[list[object]] = deque()
        self.next_id = 0

    def push(
        self,
        unix_time: int,
        micros: int,
        args: list[bytes],
        addr: str,
        name: bytes,
        max_len: int,
    ) -> None:
        entry: list[object] = [self.next_id, unix_time, micros, entry_args(args)]
        entry += [addr.encode(), name]
        self.next_id += 1
        self.entries.appendleft(entry)
        while len(self.entries) > max_len:
            self.entries.pop()

    def newest(self, count: int) -> list[list[object]]:
        """SLOWLOG GET: `count` newest entries (all for -1)."""
        if count < 0:
            return list(self.entries)
        return [entry for _, entry in zip(range(count), self.entries, strict=False)]

    def reset(self) -> None:
        self.entries.clear()


_SUBCOMMANDS = ("get", "len", "reset", "help")
_FIXED_ARITY = {b"LEN": "len", b"RESET": "reset", b"HELP": "help"}
_COUNT_ERROR = "count should be greater than or equal to -1"


@command(
    "slowlog",
    -2,
    "admin loading",
    group="server",
    since="2.2.12",
    subcommands=_SUBCOMMANDS,
    summary="Read or reset the log of slow commands",
    syntax="GET [count]|LEN|RESET|HELP",
)
def slowlog(e: Engine, s: Session, args: list[bytes]) -> object:
    sub = args[1].upper()
    note_subcommand(s, "slowlog", sub, _SUBCOMMANDS)
    if (sub in _FIXED_ARITY and len(args) != 2) or (sub == b"GET" and len(args) > 3):
        name = _FIXED_ARITY.get(sub, "get")
        raise CommandError(f"wrong number of arguments for 'slowlog|{name}' command")
    if sub == b"GET":
        return e.slowlog.newest(_count(args[2]) if len(args) == 3 else DEFAULT_COUNT)
    if sub == b"LEN":
        return len(e.slowlog.entries)
    if sub == b"RESET":
        e.slowlog.reset()
        return OK
    if sub == b"HELP":
        return help_lines(
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        )
    raise unknown_subcommand("slowlog", args[1])


def _count(raw: bytes) -> int:
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits.isdigit() or len(digits) > 18 or int(raw) < -1:
        raise CommandError(_COUNT_ERROR)
    return int(raw)
