"""Mutations: the deterministic effects of write commands.

A write handler resolves everything non-deterministic (the clock for relative expiry,
randomness) and returns one of these. The same value is what the log stores, what
backups apply and what recovery replays, so applying a mutation must depend on nothing
but the keyspace it is applied to. Expiry times are absolute Unix milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SetValue:
    """Store a string value. `expire_at_ms` None means no expiry; KEEP_TTL keeps the old one."""

    key: bytes
    value: bytes
    expire_at_ms: int | None = None
    keep_ttl: bool = False


@dataclass(frozen=True, slots=True)
class Append:
    """Append to a string value (created empty if absent); the expiry is kept."""

    key: bytes
    suffix: bytes


@dataclass(frozen=True, slots=True)
class SetRange:
    """Overwrite part of a string, zero-padding it first if it is shorter than `offset`."""

    key: bytes
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove keys; absent keys are ignored."""

    keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class SetExpiry:
    """Set (`expire_at_ms` an absolute time) or clear (None) a key's expiry."""

    key: bytes
    expire_at_ms: int | None


@dataclass(frozen=True, slots=True)
class Rename:
    """Move a key's value and expiry to a new name, replacing whatever was there."""

    src: bytes
    dst: bytes


@dataclass(frozen=True, slots=True)
class FlushAll:
    """Remove every key."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Several mutations applied atomically, in order (MULTI/EXEC, MSET)."""

    items: tuple[Mutation, ...]


Mutation = SetValue | Append | SetRange | Delete | SetExpiry | Rename | FlushAll | Batch
