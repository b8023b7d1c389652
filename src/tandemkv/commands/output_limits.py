"""client-output-buffer-limit: Redis's setting, its syntax and its defaults.

    client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [<class> ...]

A client whose pending output passes `hard`, or stays above `soft` for `soft-seconds`, is
closed. 0 turns a limit off. Classes: normal, replica (Redis also says "slave"), pubsub;
CONFIG SET changes only the classes it names. The server enforces it (server/connection.py);
this module is the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

MB = 1024 * 1024
_CLASS_NAMES = {"normal": "normal", "replica": "replica", "slave": "replica", "pubsub": "pubsub"}


@dataclass(frozen=True, slots=True)
class OutputLimit:
    hard: int = 0
    soft: int = 0
    soft_seconds: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.hard or self.soft)


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """Redis's defaults: normal clients unlimited, replicas 256 MB / 64 MB for 60 s,
    pub/sub clients 32 MB / 8 MB for 60 s."""

    normal: OutputLimit = OutputLimit()
    replica: OutputLimit = OutputLimit(256 * MB, 64 * MB, 60)
    pubsub: OutputLimit = OutputLimit(32 * MB, 8 * MB, 60)

    def show(self) -> str:
        # Redis 7 still prints the replica class as "slave".
        return " ".join(
            f"{name} {limit.hard} {limit.soft} {limit.soft_seconds}"
            for name, limit in (
                ("normal", self.normal),
                ("slave", self.replica),
                ("pubsub", self.pubsub),
            )
        )


def parse_output_limits(
    raw: str, current: OutputLimits, memory: Callable[[str], int]
) -> OutputLimits:
    """`current` with the classes `raw` names replaced; ValueError if `raw` is malformed.

    `memory` parses a memory value ("64mb") as the other settings do."""
    words = raw.split()
    if not words or len(words) % 4:
        raise ValueError("argument must be one or more '<class> <hard> <soft> <soft-seconds>'")
    updated = current
    for at in range(0, len(words), 4):
        name = _CLASS_NAMES.get(words[at].lower())
        if name is None:
            raise ValueError(f"unknown client class '{words[at]}' (normal, replica, pubsub)")
        seconds = words[at + 3]
        if not seconds.isdigit():
            raise ValueError("soft-seconds must be a non-negative integer")
        limit = OutputLimit(memory(words[at + 1]), memory(words[at + 2]), int(seconds))
        updated = replace(updated, **{name: limit})
    return updated
