"""Mutations: the deterministic effects of write commands.

A write handler resolves everything non-deterministic (the clock for relative expiry,
randomness) and returns one of these. The same value is what the log stores, what
backups apply and what recovery replays, so applying a mutation must depend on nothing
but the keyspace it is applied to. Expiry times are absolute Unix milliseconds.

They are NamedTuples rather than frozen dataclasses: just as immutable, and about three
times cheaper to build, which matters because every write command makes one.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class SetValue(NamedTuple):
    """Store a string value. `expire_at_ms` None means no expiry; KEEP_TTL keeps the old one."""

    key: bytes
    value: bytes
    expire_at_ms: int | None = None
    keep_ttl: bool = False


_new_tuple: Final = tuple.__new__


def plain_set(key: bytes, value: bytes) -> SetValue:
    """`SetValue(key, value)`, built without the NamedTuple's `__new__`: that is Python
    code even in the compiled build (about 0.2 µs), and a plain SET makes one per write,
    a backup one per SET it applies."""
    return _new_tuple(SetValue, (key, value, None, False))


class Append(NamedTuple):
    """Append to a string value (created empty if absent); the expiry is kept."""

    key: bytes
    suffix: bytes


class SetRange(NamedTuple):
    """Overwrite part of a string, zero-padding it first if it is shorter than `offset`."""

    key: bytes
    offset: int
    data: bytes


class Delete(NamedTuple):
    """Remove keys; absent keys are ignored."""

    keys: tuple[bytes, ...]


class SetExpiry(NamedTuple):
    """Set (`expire_at_ms` an absolute time) or clear (None) a key's expiry."""

    key: bytes
    expire_at_ms: int | None


class Rename(NamedTuple):
    """Move a key's value and expiry to a new name, replacing whatever was there."""

    src: bytes
    dst: bytes


class FlushAll(NamedTuple):
    """Remove every key."""


# Collections. Each names the effect, never the command: a pop of a random member (SPOP)
# lists the members it removed, a counter (HINCRBY, ZINCRBY) stores the value it computed.
# Applying one to a key that holds another type cannot happen (handlers check the type);
# a collection left empty is removed with its expiry, as in Redis.


class HashSet(NamedTuple):
    """Set hash fields: `pairs` is field, value, field, value... (created if absent)."""

    key: bytes
    pairs: tuple[bytes, ...]


class HashDelete(NamedTuple):
    """Remove hash fields; absent ones are ignored."""

    key: bytes
    fields: tuple[bytes, ...]


class ListPush(NamedTuple):
    """Push `items` one by one at the head (`left`) or the tail (created if absent)."""

    key: bytes
    items: tuple[bytes, ...]
    left: bool


class ListPop(NamedTuple):
    """Remove `amount` items from the head (`left`) or the tail."""

    key: bytes
    amount: int
    left: bool


class ListSet(NamedTuple):
    """Replace the item at `position` (0-based from the head, in range)."""

    key: bytes
    position: int
    value: bytes


class ListInsert(NamedTuple):
    """Insert `value` so that it ends up at `position` (0 to the length, from the head)."""

    key: bytes
    position: int
    value: bytes


class ListRemove(NamedTuple):
    """LREM's effect: the first `amount` items equal to `value` from the head (amount > 0),
    from the tail (amount < 0), or all of them (amount 0)."""

    key: bytes
    amount: int
    value: bytes


class ListTrim(NamedTuple):
    """Keep items `start` to `stop` inclusive (0-based from the head; start > stop empties)."""

    key: bytes
    start: int
    stop: int


class SetAdd(NamedTuple):
    """Add members to a set (created if absent)."""

    key: bytes
    members: tuple[bytes, ...]


class SetRemove(NamedTuple):
    """Remove members from a set; absent ones are ignored."""

    key: bytes
    members: tuple[bytes, ...]


class ZSetAdd(NamedTuple):
    """Give each member its score, adding it if absent (created if absent)."""

    key: bytes
    scores: tuple[float, ...]
    members: tuple[bytes, ...]


class ZSetRemove(NamedTuple):
    """Remove members from a sorted set; absent ones are ignored."""

    key: bytes
    members: tuple[bytes, ...]


# Streams. An id is two unsigned 64-bit integers, milliseconds and sequence. XADD with `*`
# logs the id it generated; trimming logs the last id it removed, so a replay removes the
# same entries whatever the trimming strategy was. Unlike other collections, a stream left
# empty stays: Redis keeps it, with its last id.


class StreamAdd(NamedTuple):
    """Append an entry (created if absent): `fields` is field, value, field, value... and
    the id is greater than any the stream has had (the handler checked)."""

    key: bytes
    ms: int
    seq: int
    fields: tuple[bytes, ...]


class StreamDelete(NamedTuple):
    """Remove the entries with these ids (XDEL); absent ones are ignored. The greatest id
    removed becomes the stream's max deleted id if it is greater."""

    key: bytes
    ids: tuple[tuple[int, int], ...]


class StreamTrim(NamedTuple):
    """Remove every entry whose id is at most `ms`-`seq` (XTRIM, XADD's MAXLEN/MINID)."""

    key: bytes
    ms: int
    seq: int


class StreamSetId(NamedTuple):
    """Set a stream's last id, entries-added counter and max deleted id (XSETID)."""

    key: bytes
    last: tuple[int, int]
    entries_added: int
    max_deleted: tuple[int, int]


class Copy(NamedTuple):
    """Copy a key's value and expiry to `dst`, replacing whatever was there."""

    src: bytes
    dst: bytes


class Publish(NamedTuple):
    """A pub/sub message (PUBLISH). It changes no key: it is logged so that every member of
    a group delivers it to its own subscribers when it applies the entry live. Replaying
    a log (start-up, a rebuilt keyspace) skips it: messages are not stored."""

    channel: bytes
    message: bytes


class SetUser(NamedTuple):
    """Create or replace an ACL user: `rules` rebuild it from nothing (commands/acl_model.py
    describes users so, password hashes included). Users are replicated state, like keys,
    but no key: FLUSHALL leaves them."""

    name: bytes
    rules: tuple[bytes, ...]


class DeleteUsers(NamedTuple):
    """Remove ACL users (absent ones are ignored); `all_users` removes every user first
    (ACL LOAD replaces the table: a batch of this and a SetUser per user in the file)."""

    names: tuple[bytes, ...]
    all_users: bool = False


class Batch(NamedTuple):
    """Several mutations applied atomically, in order (MULTI/EXEC, MSET)."""

    items: tuple[Mutation, ...]


Mutation = (
    SetValue
    | Append
    | SetRange
    | Delete
    | SetExpiry
    | Rename
    | FlushAll
    | HashSet
    | HashDelete
    | ListPush
    | ListPop
    | ListSet
    | ListInsert
    | ListRemove
    | ListTrim
    | SetAdd
    | SetRemove
    | ZSetAdd
    | ZSetRemove
    | StreamAdd
    | StreamDelete
    | StreamTrim
    | StreamSetId
    | Copy
    | Publish
    | SetUser
    | DeleteUsers
    | Batch
)


def payload_bytes(mutation: Mutation) -> int:
    """About how many bytes `mutation` takes in the log: its keys and values (the small
    fields are left out). What node/entries.py cuts entries by."""
    if isinstance(mutation, SetValue):
        return len(mutation.key) + len(mutation.value)
    if isinstance(mutation, Append):
        return len(mutation.key) + len(mutation.suffix)
    if isinstance(mutation, SetRange):
        return len(mutation.key) + len(mutation.data)
    if isinstance(mutation, Delete):
        return sum(map(len, mutation.keys))
    if isinstance(mutation, Rename):
        return len(mutation.src) + len(mutation.dst)
    if isinstance(mutation, Batch):
        return sum(map(payload_bytes, mutation.items))
    if isinstance(mutation, (HashSet, HashDelete, ListPush, SetAdd, SetRemove, ZSetRemove)):
        return len(mutation[0]) + sum(map(len, mutation[1]))
    if isinstance(mutation, ZSetAdd):
        return len(mutation.key) + sum(map(len, mutation.members)) + 8 * len(mutation.scores)
    if isinstance(mutation, StreamAdd):
        return len(mutation.key) + 16 + sum(map(len, mutation.fields))
    if isinstance(mutation, StreamDelete):
        return len(mutation.key) + 16 * len(mutation.ids)
    if isinstance(mutation, (ListSet, ListInsert, ListRemove)):
        return len(mutation.key) + len(mutation.value)
    if isinstance(mutation, Publish):
        return len(mutation.channel) + len(mutation.message)
    if isinstance(mutation, SetUser):
        return len(mutation.name) + sum(map(len, mutation.rules))
    return 16
