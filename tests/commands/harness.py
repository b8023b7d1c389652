"""Driving the engine in tests: a fake clock, clients that take str arguments, replay helpers."""

from __future__ import annotations

import random
from collections.abc import Iterable

from tandemkv.commands.engine import Engine
from tandemkv.commands.session import Host, Session
from tandemkv.commands.settings import Settings
from tandemkv.protocol.types import ErrorReply
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import Mutation

START_MS = 1_000_000

Arg = bytes | str | int


def to_args(args: Iterable[Arg]) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


def err(text: str) -> ErrorReply:
    return ErrorReply(text)


def arity_err(name: str) -> ErrorReply:
    return ErrorReply(f"ERR wrong number of arguments for '{name}' command")


SYNTAX = ErrorReply("ERR syntax error")
NOT_INT = ErrorReply("ERR value is not an integer or out of range")
NOT_FLOAT = ErrorReply("ERR value is not a valid float")
NO_SUCH_KEY = ErrorReply("ERR no such key")
NOAUTH = ErrorReply("NOAUTH Authentication required.")
WRONGPASS = ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")
EXECABORT = ErrorReply("EXECABORT Transaction discarded because of previous errors.")


class World:
    """One engine with a fake clock and any number of client sessions."""

    def __init__(
        self,
        settings: Settings | None = None,
        host: Host | None = None,
        keyspace: Keyspace | None = None,
        seed: int = 0,
    ) -> None:
        self.engine = Engine(random.Random(seed), keyspace, settings, host)
        self.engine.now_ms = START_MS
        self._next_id = 1

    @property
    def now(self) -> int:
        return self.engine.now_ms

    def advance(self, ms: int) -> None:
        self.engine.now_ms += ms

    def client(self, **session_fields: object) -> Client:
        # As the server does: a connection opened while no password is set is authenticated.
        session_fields.setdefault("authenticated", not self.engine.settings.requirepass)
        session = Session(id=self._next_id, **session_fields)  # type: ignore[arg-type]
        self._next_id += 1
        return Client(self.engine, session)

    def mutations(self) -> list[Mutation]:
        return self.engine.take_mutations()

    def state(self) -> list[tuple[bytes, bytes, int | None]]:
        return sorted(self.engine.keyspace.items())


class Client:
    """A session bound to an engine: `c("SET", "k", "v")` runs one command."""

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine = engine
        self.session = session

    def __call__(self, *args: Arg) -> object:
        return self.engine.execute(self.session, to_args(args))


def replay(mutations: Iterable[Mutation], owns_expiry: bool = True) -> Keyspace:
    """A fresh keyspace with `mutations` applied in order (what a backup or recovery does)."""
    keyspace = Keyspace(owns_expiry=owns_expiry)
    for mutation in mutations:
        keyspace.apply(mutation)
    return keyspace


def contents(keyspace: Keyspace) -> list[tuple[bytes, bytes, int | None]]:
    return sorted(keyspace.items())
