"""Cutting a loop turn's writes into log entries, by count and by size.

A primary logs the writes of every connection in a loop turn together, so that one entry,
one record and one append message carry many of them. An entry is cut at ENTRY_MUTATIONS
mutations or once it holds about ENTRY_BYTES of keys and values, whichever comes first; a
mutation bigger than that goes in an entry of its own. Without the size cut, a few large
SETs arriving in the same turn would share one record larger than recovery reads back
(storage/record.py: DEFAULT_MAX_BODY) and than a peer frame carries.

The cut is decided as each mutation arrives, so the index of the entry that holds a batch's
last write, which its reply waits for, is known at once.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Final

from tandemkv.storage.codec import encode_batch, encode_mutation
from tandemkv.storage.mutation import Mutation, SetValue, payload_bytes

ENTRY_MUTATIONS: Final = 256
ENTRY_BYTES: Final = 1024 * 1024
_FIRST: Final = itemgetter(0)
_SECOND: Final = itemgetter(1)
_PLAIN_SETS: Final = {SetValue}


class EntryCutter:
    __slots__ = ("_bytes", "_count", "_cuts", "_gathered")

    def __init__(self) -> None:
        self._gathered: list[Mutation] = []
        self._cuts: list[int] = []  # where in _gathered each entry but the last ends
        self._count = 0  # mutations in the entry being filled
        self._bytes = 0  # and their keys' and values' bytes

    def __bool__(self) -> bool:
        return bool(self._gathered)

    def add(self, mutations: list[Mutation]) -> int:
        """Gather `mutations`; how many entries everything gathered so far takes."""
        count, size = self._count, self._bytes
        more = len(mutations)
        if 1 < more <= ENTRY_MUTATIONS - count and set(map(type, mutations)) == _PLAIN_SETS:
            # A pipelined batch of SETs that may fit, sized with C loops as payload_bytes
            # sizes each SET (key and value). Other kinds are sized one by one below: a
            # collection's second field is a tuple, whose len() counts items, not bytes.
            weight = sum(map(len, map(_FIRST, mutations))) + sum(map(len, map(_SECOND, mutations)))
            if size + weight <= ENTRY_BYTES:
                self._gathered += mutations
                self._count, self._bytes = count + more, size + weight
                return len(self._cuts) + 1
        gathered = self._gathered
        for mutation in mutations:
            if type(mutation) is SetValue:
                weight = len(mutation[0]) + len(mutation[1])
            else:
                weight = payload_bytes(mutation)
            if count and (count >= ENTRY_MUTATIONS or size + weight > ENTRY_BYTES):
                self._cuts.append(len(gathered))
                count = size = 0
            gathered.append(mutation)
            count += 1
            size += weight
        self._count, self._bytes = count, size
        return len(self._cuts) + (1 if gathered else 0)

    def take(self) -> list[bytes]:
        """The gathered entries' payloads, in order; they are forgotten."""
        gathered, ends = self._gathered, [*self._cuts, len(self._gathered)]
        if not gathered:
            return []
        self.clear()
        payloads: list[bytes] = []
        start = 0
        for end in ends:
            part = gathered[start:end]
            payloads.append(encode_mutation(part[0]) if len(part) == 1 else encode_batch(part))
            start = end
        return payloads

    def clear(self) -> None:
        self._gathered = []
        self._cuts = []
        self._count = self._bytes = 0
