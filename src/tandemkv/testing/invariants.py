"""Safety invariants of a replication group, checked incrementally as a run goes on.

- Election safety: at most one leader per term.
- Log matching: two logs holding an entry with the same index and term hold the same
  entry there and agree on the term of the entry before it (so, by induction, on the
  whole prefix). Checked on every persisted entry against every entry seen before.
- Committed entries are never lost or changed: every applied entry (only committed
  entries are applied) matches the first record of that index, and a new leader's log
  holds every entry known to be committed (leader completeness).
- State machine safety: replicas that applied the same index hold identical state
  (compared by an order-independent digest of the register map).
Witnesses store no values, so their entries are compared on term and kind only.
"""

from __future__ import annotations

from dataclasses import dataclass

from tandemkv.replication import Entry, EntryKind, NodeId
from tandemkv.replication.log import RaftLog


class InvariantViolation(AssertionError):
    """A safety property of the replication group was broken."""


@dataclass(slots=True)
class _Seen:
    term: int
    kind: EntryKind
    data: bytes | None  # None until a data-holding replica reports it
    prev_term: int | None = None


class ReplicationChecker:
    def __init__(self) -> None:
        self.leaders: dict[int, NodeId] = {}
        self.entries: dict[tuple[int, int], _Seen] = {}  # (index, term) -> entry
        self.committed: dict[int, _Seen] = {}
        self.max_committed = 0
        self.digests: dict[int, int] = {}
        self.applied_ops: set[int] = set()

    def leader_elected(self, node: NodeId, term: int, log: RaftLog) -> None:
        other = self.leaders.setdefault(term, node)
        if other != node:
            raise InvariantViolation(f"two leaders in term {term}: {other} and {node}")
        first = log.first_index()
        for index in range(max(first, 1), self.max_committed + 1):
            seen = self.committed.get(index)
            if seen is not None and log.term(index) != seen.term:
                raise InvariantViolation(
                    f"leader {node} of term {term} lacks committed entry {index} "
                    f"(term {seen.term}); it has term {log.term(index)}"
                )

    def persisted(
        self, node: NodeId, entries: list[Entry], prev_term: int | None, witness: bool
    ) -> None:
        for entry in entries:
            data = None if witness and entry.kind is EntryKind.NORMAL else entry.data
            key = (entry.index, entry.term)
            seen = self.entries.get(key)
            if seen is None:
                self.entries[key] = _Seen(entry.term, entry.kind, data, prev_term)
            else:
                self._same(node, entry.index, seen, entry.kind, data, "log matching")
                if (
                    prev_term is not None
                    and seen.prev_term is not None
                    and prev_term != seen.prev_term
                ):
                    raise InvariantViolation(
                        f"log matching: node {node} has ({entry.index}, {entry.term}) after "
                        f"term {prev_term}, elsewhere after term {seen.prev_term}"
                    )
                if seen.prev_term is None:
                    seen.prev_term = prev_term
            prev_term = entry.term

    @staticmethod
    def _same(
        node: NodeId, index: int, seen: _Seen, kind: EntryKind, data: bytes | None, what: str
    ) -> None:
        if seen.kind is not kind or (
            data is not None and seen.data is not None and data != seen.data
        ):
            raise InvariantViolation(f"{what}: node {node} index {index} differs")
        if seen.data is None and data is not None:
            seen.data = data

    def applied(self, node: NodeId, entry: Entry, witness: bool, op_id: int | None) -> None:
        data = None if witness and entry.kind is EntryKind.NORMAL else entry.data
        seen = self.committed.get(entry.index)
        if seen is None:
            self.committed[entry.index] = _Seen(entry.term, entry.kind, data)
            self.max_committed = max(self.max_committed, entry.index)
        else:
            if seen.term != entry.term:
                raise InvariantViolation(
                    f"committed entry {entry.index} changed: term {seen.term} applied "
                    f"elsewhere, term {entry.term} applied on node {node}"
                )
            self._same(node, entry.index, seen, entry.kind, data, "committed entry changed")
        if op_id is not None:
            self.applied_ops.add(op_id)

    def state_at(self, node: NodeId, index: int, digest: int) -> None:
        known = self.digests.setdefault(index, digest)
        if known != digest:
            raise InvariantViolation(f"node {node} state at index {index} differs")
