"""What this node has seen of its group's primaries: the last role changes, with when, in
which term, who became primary and why, and counters for metrics.

The counters are plain int fields, read as they are by STATUS, INFO and the metrics
endpoint: `elections_started` (elections this node ran as a candidate),
`times_became_primary`, and `primary_changes` (a new primary became known here).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

KEEP = 32  # role changes remembered

NO_PRIMARY = 0


@dataclass(frozen=True, slots=True)
class RoleChange:
    unix_time: float
    term: int
    primary_id: int  # NO_PRIMARY while the group has none known here
    primary_address: str
    role: str  # this node's role after the change (STATUS's names)
    reason: str  # replication.Why


class RoleHistory:
    def __init__(self) -> None:
        self.changes: deque[RoleChange] = deque(maxlen=KEEP)
        self.elections_started = 0
        self.times_became_primary = 0
        self.primary_changes = 0
        # Monotonic time this node lost sight of its primary, None while it knows one: the
        # LATENCY "election" event runs from here to the next primary.
        self.lost_primary_at: float | None = None

    def record(self, change: RoleChange, own_id: int, previous_primary: int) -> None:
        self.changes.append(change)
        if change.primary_id != NO_PRIMARY and change.primary_id != previous_primary:
            self.primary_changes += 1
            if change.primary_id == own_id:
                self.times_became_primary += 1

    def last_election(self) -> RoleChange | None:
        """The newest change that named a primary: when and why the current one came."""
        for change in reversed(self.changes):
            if change.primary_id != NO_PRIMARY:
                return change
        return None
