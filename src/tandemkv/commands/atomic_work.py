"""What one EXEC may spend on commands whose work grows with the keyspace.

EXEC runs its whole queue in one turn of the event loop (nothing else may run between its
commands), so a queue of O(keyspace) commands would hold every other client, and a group's
heartbeats, for their sum: 200 KEYS over 20,000 keys held the loop for about a second.
Within an EXEC, then:

- KEYS takes its copy of the key references at its place in the queue (C speed; KEYS with
  no write between them share one), and returns a Deferred: the matching, and the encoding
  of its reply, run in slices after the queue, inside the EXEC's reply. The client sees
  exactly what running them in place gives, and others are served meanwhile.
- SCAN examines at most SCAN_MAX_COUNT keys in all, as one SCAN call may (SCAN's contract
  lets it return fewer keys than COUNT asks; each gets at least one).
- The copies KEYS and a new SCAN (cursor 0) make cost 8 bytes a key and a few nanoseconds
  each: together they may copy COPIED_KEYSPACES keyspaces' worth of keys (at least
  MIN_COPIED_KEYS); a command past that is answered with an error, the others run.
"""

from __future__ import annotations

from tandemkv.commands.errors import CommandError
from tandemkv.storage.keyspace import Keyspace

COPIED_KEYSPACES = 4
MIN_COPIED_KEYS = 100_000

KeysSnapshot = tuple[list[bytes], dict[bytes, int]]


class AtomicWork:
    """The budget of one EXEC (Engine.atomic while it runs)."""

    __slots__ = ("_marker", "_snapshot", "copies_left", "scan_left")

    def __init__(self, keyspace_len: int, scan_max_count: int) -> None:
        self.scan_left = scan_max_count
        self.copies_left = max(MIN_COPIED_KEYS, COPIED_KEYSPACES * keyspace_len)
        self._snapshot: KeysSnapshot | None = None
        self._marker = -1

    def keys_snapshot(self, keyspace: Keyspace, marker: int) -> KeysSnapshot:
        """The stored keys and their deadlines as of now. `marker` changes whenever the
        keyspace may have (the count of mutations so far): until then one copy serves."""
        if self._snapshot is None or marker != self._marker:
            self.charge_copy(len(keyspace))
            self._snapshot, self._marker = keyspace.snapshot_keys(), marker
        return self._snapshot

    def charge_copy(self, keys: int) -> None:
        if keys > self.copies_left:
            raise CommandError(
                "too much keyspace-wide work in one transaction (its KEYS and new SCANs may "
                f"copy {COPIED_KEYSPACES} keyspaces' worth of keys); run the rest in another "
                "transaction"
            )
        self.copies_left -= keys

    def scan_count(self, count: int) -> int:
        """How many keys a SCAN asking for `count` may examine now (scanned() charges)."""
        return max(1, min(count, self.scan_left))

    def scanned(self, keys: int) -> None:
        self.scan_left = max(0, self.scan_left - keys)
