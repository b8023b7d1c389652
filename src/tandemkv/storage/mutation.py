"""Mutations: the deterministic effects of write commands.

A write handler resolves everything non-deterministic (the clock for relative expiry,
randomness) and returns one of these. The same value is what the log stores, what
backups apply and what recovery replays, so applying a mutation must depend on nothing
but the keyspace it is applied to. Expiry times are absolute Unix milliseconds.

They are NamedTuples rather than frozen dataclasses: just as immutable, and about three
times cheaper to build, which matters because every write command makes one.
"""

from __future__ import annotations

from typing import NamedTuple


class SetValue(NamedTuple):
    """Store a string value. `expire_at_ms` None means no expiry; KEEP_TTL keeps the old one."""

    key: bytes
    value: bytes
    expire_at_ms: int | None = None
    keep_ttl: bool = False


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


class Batch(NamedTuple):
    """Several mutations applied atomically, in order (MULTI/EXEC, MSET)."""

    items: tuple[Mutation, ...]


Mutation = SetValue | Append | SetRange | Delete | SetExpiry | Rename | FlushAll | Batch


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
    return 16
