"""MULTI / EXEC / DISCARD / WATCH / UNWATCH. An EXEC is logged as one atomic mutation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError, ExecAbort
from tandemkv.commands.table import command
from tandemkv.protocol.types import OK, NullArray

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine
    from tandemkv.commands.session import Session


def unwatch_all(e: Engine, s: Session) -> None:
    for key in s.watched:
        e.keyspace.unwatch(key, s)
    s.watched.clear()
    s.watched_expired.clear()
    s.dirty = False


def end_transaction(e: Engine, s: Session) -> None:
    s.queued = None
    s.queue_failed = False
    unwatch_all(e, s)


@command(
    "multi", 1, "fast multi-control", group="transactions", summary="Start a transaction", syntax=""
)
def multi(e: Engine, s: Session, args: list[bytes]) -> object:
    if s.queued is not None:
        raise CommandError("MULTI calls can not be nested")
    s.queued = []
    s.queued_bytes = 0
    return OK


@command(
    "exec",
    1,
    "multi-control",
    group="transactions",
    summary="Run the queued commands of a transaction atomically",
    syntax="",
)
def exec_(e: Engine, s: Session, args: list[bytes]) -> object:
    queued = s.queued
    if queued is None:
        raise CommandError("EXEC without MULTI")
    failed, dirty = s.queue_failed, s.dirty or _watched_key_expired(e, s)
    end_transaction(e, s)
    if failed:
        raise ExecAbort()
    if dirty:
        return NullArray
    return e.run_atomically(s, queued)


@command(
    "discard",
    1,
    "fast multi-control",
    group="transactions",
    summary="Drop the queued commands of a transaction",
    syntax="",
)
def discard(e: Engine, s: Session, args: list[bytes]) -> object:
    if s.queued is None:
        raise CommandError("DISCARD without MULTI")
    end_transaction(e, s)
    return OK


@command(
    "watch",
    -2,
    "fast multi-control",
    group="transactions",
    keys=(1, -1, 1),
    summary="Make the next EXEC fail if any of these keys changes",
    syntax="key [key ...]",
)
def watch(e: Engine, s: Session, args: list[bytes]) -> object:
    if s.queued is not None:
        raise CommandError("WATCH inside MULTI is not allowed")
    for key in args[1:]:
        if key not in s.watched:
            s.watched[key] = None
            if e.keyspace.is_past_deadline(key, e.now_ms):
                s.watched_expired.add(key)
            e.keyspace.watch(key, s)
    return OK


def _watched_key_expired(e: Engine, s: Session) -> bool:
    """A watched key that was live at WATCH and has since passed its deadline changed,
    even if nothing has removed it yet (Redis 7 checks this at EXEC)."""
    return any(
        key not in s.watched_expired and e.keyspace.is_past_deadline(key, e.now_ms)
        for key in s.watched
    )


@command("unwatch", 1, "fast", group="transactions", summary="Forget all watched keys", syntax="")
def unwatch(e: Engine, s: Session, args: list[bytes]) -> object:
    unwatch_all(e, s)
    return OK
