"""tandemkv in-process: `tandemkv.open(path)` gives a thread-safe store on the same engine,
log and snapshot files as the server, so a directory written here can later be served by
`tandemkv server` and vice versa (never both at once: the data directory is locked).

    with tandemkv.open("data", fsync="always") as db:
        db.put("greeting", "hello", ttl=60)
        db.get("greeting")            # b"hello"
        db.delete("greeting")         # True
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from types import TracebackType

from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.engine import Engine
from tandemkv.commands.session import Session
from tandemkv.node.disk_storage import DiskStorage
from tandemkv.node.identity import load_identity
from tandemkv.protocol.types import OK, ErrorReply
from tandemkv.replication.conf import members
from tandemkv.replication.log import RaftLog
from tandemkv.storage.errors import StorageError
from tandemkv.storage.mutation import Mutation
from tandemkv.storage.store import Store
from tandemkv.storage.syncer import FsyncPolicy, Syncer

EXPIRE_EVERY_WRITES = 100
EXPIRE_BUDGET = 20

Data = bytes | str


class StoreError(Exception):
    """A command was refused (the message is Redis's error text), or the store is closed."""


class EmbeddedHost(DetachedHost):
    """SAVE and LASTSAVE for a store with no server around it."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store

    def save(self, background: bool) -> object:
        self._store.save()
        return OK

    def last_save_time(self) -> int:
        return self._store.last_save_time

    def random_bytes(self, size: int) -> bytes:
        return secrets.token_bytes(size)  # ACL GENPASS


class EmbeddedStore:
    def __init__(self, store: Store, fsync: FsyncPolicy) -> None:
        self._store = store
        self._fsync = fsync
        self._lock = threading.RLock()
        self._engine = Engine(random.Random(), store.keyspace, host=EmbeddedHost(store))
        # Each thread is its own client: a MULTI in one must not swallow another's writes.
        self._sessions = threading.local()
        self._next_session_id = 0
        self._writes = 0
        self._closed = False
        self._failure: str | None = None
        self._syncer: Syncer | None = None
        if fsync is FsyncPolicy.EVERYSEC:
            self._syncer = Syncer(store, 1.0, lambda index: None, self._fail, _call_now)
            self._syncer.start()

    # ------------------------------------------------------------ the API

    def get(self, key: Data) -> bytes | None:
        value = self.execute("GET", key)
        assert value is None or isinstance(value, bytes)
        return value

    def put(self, key: Data, value: Data, *, ttl: float | None = None) -> None:
        """Store `value` under `key`; `ttl` in seconds (millisecond precision)."""
        if ttl is None:
            self.execute("SET", key, value)
        else:
            self.execute("SET", key, value, "PX", max(1, round(ttl * 1000)))

    def delete(self, key: Data) -> bool:
        return self.execute("DEL", key) == 1

    def keys(self, pattern: Data = "*") -> list[bytes]:
        found = self.execute("KEYS", pattern)
        assert isinstance(found, list)
        return found

    def scan(self, match: Data = "*", count: int = 1000) -> Iterator[bytes]:
        """Iterate keys in batches without holding the lock across the whole keyspace."""
        cursor: bytes = b"0"
        while True:
            reply = self.execute("SCAN", cursor, "MATCH", match, "COUNT", count)
            assert isinstance(reply, list)
            cursor = reply[0]
            yield from reply[1]
            if cursor == b"0":
                return

    def expire(self, key: Data, seconds: float) -> bool:
        """Give `key` a time to live; False if the key does not exist."""
        return self.execute("PEXPIRE", key, max(1, round(seconds * 1000))) == 1

    def ttl(self, key: Data) -> float | None:
        """Seconds left to live; None if the key has no expiry. KeyError if it is absent."""
        left = self.execute("PTTL", key)
        assert isinstance(left, int)
        if left == -2:
            raise KeyError(key)
        return None if left == -1 else left / 1000

    def __len__(self) -> int:
        count = self.execute("DBSIZE")
        assert isinstance(count, int)
        return count

    def save(self) -> None:
        """Write a snapshot now and drop the log it covers."""
        self.execute("SAVE")

    def execute(self, *args: Data | int) -> object:
        """Run any command the server knows; an error reply raises StoreError."""
        request = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        with self._lock:
            self._check_open()
            engine = self._engine
            started = time.time_ns()
            engine.now_ms = started // 1_000_000
            reply = engine.execute(self._session(), request)
            if engine.ran is not None:  # INFO commandstats, as the server counts it
                engine.commandstats.add_call(engine.ran, time.time_ns() - started)
            mutations = engine.take_mutations()
            if mutations:
                self._log(mutations)
        if isinstance(reply, ErrorReply):
            raise StoreError(reply.message)
        return reply

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._syncer is not None:
                self._syncer.stop()
            self._store.close()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _log(self, mutations: list[Mutation]) -> None:
        store = self._store
        store.append(mutations)
        if self._fsync is FsyncPolicy.ALWAYS:
            store.sync()
        self._writes += 1
        if self._writes % EXPIRE_EVERY_WRITES == 0:
            self._engine.active_expire(EXPIRE_BUDGET)
            expired = self._engine.take_mutations()
            if expired:
                store.append(expired)
        if store.snapshot_due():
            store.save()

    def _session(self) -> Session:
        session: Session | None = getattr(self._sessions, "session", None)
        if session is None:
            self._next_session_id += 1
            session = Session(id=self._next_session_id, authenticated=True)
            self._sessions.session = session
        return session

    def _check_open(self) -> None:
        if self._failure is not None:
            raise StoreError(self._failure)
        if self._closed:
            raise StoreError("the store is closed")

    def _fail(self, message: str) -> None:
        self._failure = message


def _call_now(callback: object, *args: object) -> None:
    callback(*args)  # type: ignore[operator]


def open(path: str, *, fsync: str = "everysec") -> EmbeddedStore:
    """Open (creating if needed) the data directory at `path` for use in this process."""
    try:
        policy = FsyncPolicy(fsync)
    except ValueError:
        choices = ", ".join(FsyncPolicy)
        raise ValueError(f"fsync must be one of {choices}, not {fsync!r}") from None
    store = Store.open(path, replay=False)
    try:
        _check_alone(store)
        store.replay_log()
    except BaseException:
        store.close()
        raise
    return EmbeddedStore(store, policy)


def _check_alone(store: Store) -> None:
    """A server's directory is a group's; it may be opened here only if that group is this
    node alone (what `tandemkv server` makes). A member of a larger group holds a log whose
    uncommitted end may yet be replaced, and a write made here would reach no other node.
    """
    identity = load_identity(store.datadir.fs)
    if identity is None:
        return  # written here, or by a release before groups of one
    conf = RaftLog(DiskStorage(store)).conf_state()
    if identity.removed:
        reason = "was removed from its group"
    elif not conf.voters:
        reason = "belongs to a node that has not joined a group yet"
    elif members(conf) != (identity.node_id,):
        reason = f"belongs to a group of {len(members(conf))} nodes"
    else:
        return
    raise ClusterDataDirError(
        f"{store.path} {reason}; talk to its nodes over the network "
        "(tandemkv --server HOST:PORT ...) instead of opening it in-process"
    )


class ClusterDataDirError(StorageError):
    """tandemkv.open() was given the data directory of a member of a larger group."""
