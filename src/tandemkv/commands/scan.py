"""SCAN cursors.

Python dicts cannot be resumed at a position cheaply, so a SCAN that starts at cursor 0
takes a list of the key references (8 bytes a key, no copies of the keys) and later calls
walk it. The cursor carries the list's id and a position. Keys present for the whole scan
are returned exactly once, keys added during it may be missed, as SCAN promises. A bounded
number of scans is kept; an evicted or unknown cursor restarts from a fresh list at the
same position, which can repeat or miss keys but never fails.

The lists are bounded in memory as well as in number, whatever clients send: a client
repeating SCAN 0 on a large keyspace would otherwise pin 64 copies of its key references.
Open lists together hold references to at most HELD_KEYSPACES keyspaces' worth of keys
(plus a floor for small keyspaces); beyond that the oldest scans are evicted first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

_POSITION_BITS = 32
_POSITION_MASK = (1 << _POSITION_BITS) - 1
HELD_KEYSPACES = 4
HELD_FLOOR = 64 * 1024  # references always allowed (512 KB), so small keyspaces keep 64 scans


class ScanCursors:
    __slots__ = ("_held", "_lists", "_max_open", "_next_id")

    def __init__(self, max_open: int = 64) -> None:
        self._lists: OrderedDict[int, list[bytes]] = OrderedDict()
        self._max_open = max_open
        self._next_id = 1
        self._held = 0  # key references in the open lists

    def page(self, cursor: int, count: int, all_keys: Iterable[bytes]) -> tuple[int, list[bytes]]:
        """Up to `count` candidate keys after `cursor`, and the cursor to continue with."""
        scan_id, position = cursor >> _POSITION_BITS, cursor & _POSITION_MASK
        keys = self._lists.get(scan_id) if cursor else None
        if keys is None:
            keys = list(all_keys)
            scan_id = self._open(keys)
        else:
            self._lists.move_to_end(scan_id)
        end = position + count
        page = keys[position:end]
        if end >= len(keys):
            if self._lists.pop(scan_id, None) is not None:
                self._held -= len(keys)
            return 0, page
        return (scan_id << _POSITION_BITS) | end, page

    def continues(self, cursor: int) -> bool:
        """Whether page(cursor) goes on with a list held, rather than copying the keyspace."""
        return cursor != 0 and (cursor >> _POSITION_BITS) in self._lists

    def _open(self, keys: list[bytes]) -> int:
        scan_id = self._next_id
        self._next_id = self._next_id + 1 if self._next_id < 2**31 else 1
        self._lists[scan_id] = keys
        self._held += len(keys)
        budget = HELD_KEYSPACES * len(keys) + HELD_FLOOR
        while len(self._lists) > 1 and (len(self._lists) > self._max_open or self._held > budget):
            _, evicted = self._lists.popitem(last=False)
            self._held -= len(evicted)
        return scan_id

    @property
    def held(self) -> int:
        """Key references the open scans hold (for tests and INFO)."""
        return self._held
