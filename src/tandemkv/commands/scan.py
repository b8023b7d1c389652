"""SCAN cursors.

Python dicts cannot be resumed at a position cheaply, so a SCAN that starts at cursor 0
takes a list of the key references (8 bytes a key, no copies of the keys) and later calls
walk it. The cursor carries the list's id and a position. Keys present for the whole scan
are returned exactly once, keys added during it may be missed, as SCAN promises. A bounded
number of scans is kept; an evicted or unknown cursor restarts from a fresh list at the
same position, which can repeat or miss keys but never fails.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

_POSITION_BITS = 32
_POSITION_MASK = (1 << _POSITION_BITS) - 1


class ScanCursors:
    __slots__ = ("_lists", "_max_open", "_next_id")

    def __init__(self, max_open: int = 64) -> None:
        self._lists: OrderedDict[int, list[bytes]] = OrderedDict()
        self._max_open = max_open
        self._next_id = 1

    def page(
        self, cursor: int, count: int, all_keys: Iterable[bytes]
    ) -> tuple[int, list[bytes]]:
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
            self._lists.pop(scan_id, None)
            return 0, page
        return (scan_id << _POSITION_BITS) | end, page

    def _open(self, keys: list[bytes]) -> int:
        scan_id = self._next_id
        self._next_id = self._next_id + 1 if self._next_id < 2**31 else 1
        self._lists[scan_id] = keys
        while len(self._lists) > self._max_open:
            self._lists.popitem(last=False)
        return scan_id
