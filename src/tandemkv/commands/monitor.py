"""MONITOR: clients that receive every command the server runs, in Redis's format.

    +1339518083.107412 [0 127.0.0.1:60866] "keys" "*"

Pure: the shell installs `sink` (deliver a line to a monitoring session's connection) and
`clock` (Unix time in microseconds), and calls `feed` after each command that ran while
`sessions` is not empty; with no monitor that is the only cost, one check. As in Redis,
commands refused before running are not shown, nor administrative ones (CONFIG, SLOWLOG,
SHUTDOWN...), and passwords are redacted. A command inside EXEC is shown before EXEC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError
from tandemkv.commands.redaction import redacted
from tandemkv.commands.table import NO_REPLY, command, lookup
from tandemkv.protocol.types import OK

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


def _escape(byte: int) -> bytes:
    special = {0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}
    special |= {0x07: b"\\a", 0x08: b"\\b"}
    if byte in special:
        return special[byte]
    if 0x20 <= byte <= 0x7E:
        return bytes((byte,))
    return b"\\x%02x" % byte


# Redis's sdscatrepr, one byte at a time.
_REPR = [_escape(byte) for byte in range(256)]


def quote(arg: bytes) -> bytes:
    """An argument as sdscatrepr writes it: in double quotes, escaped."""
    return b'"' + b"".join([_REPR[byte] for byte in arg]) + b'"'


def format_line(unix_us: int, addr: str, args: list[bytes]) -> bytes:
    """One MONITOR line, encoded as the status reply Redis sends."""
    seconds, micros = divmod(unix_us, 1_000_000)
    quoted = b" ".join([quote(arg) for arg in redacted(args)])
    return b"+%d.%06d [0 %s] %s\r\n" % (seconds, micros, addr.encode(), quoted)


def _nowhere(session: Session, line: bytes) -> None:
    pass


def _no_clock() -> int:
    return 0


class Monitors:
    __slots__ = ("clock", "sessions", "sink")

    def __init__(self) -> None:
        self.sessions: dict[Session, None] = {}  # a dict as an ordered set
        self.sink: Callable[[Session, bytes], None] = _nowhere
        self.clock: Callable[[], int] = _no_clock

    def add(self, session: Session) -> None:
        self.sessions[session] = None

    def drop(self, session: Session) -> None:
        self.sessions.pop(session, None)

    def feed(self, session: Session, args: list[bytes]) -> None:
        """Show a command that `session` ran to every monitor."""
        spec = lookup(args[0])
        if spec is None or "admin" in spec.flags:
            return
        line = format_line(self.clock(), session.addr, args)
        for monitor in list(self.sessions):
            self.sink(monitor, line)


@command(
    "monitor",
    1,
    "admin loading",
    group="server",
    summary="Receive every command the server runs, as it runs it",
    syntax="",
)
def monitor(e: Engine, s: Session, args: list[bytes]) -> object:
    if e.atomic is not None:  # queued in MULTI, run by EXEC
        raise CommandError("MONITOR isn't allowed for DENY BLOCKING client")
    if s in e.monitors.sessions:
        return NO_REPLY  # Redis ignores a second MONITOR
    e.monitors.add(s)
    return OK
