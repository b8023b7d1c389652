"""The simulator's state machine: a map of key -> value registers with put / cas /
delete commands encoded as bytes, and an order-independent digest of its contents."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class Command:
    op: str  # "put" | "cas" | "del"
    key: str
    value: str = ""  # put: the new value; cas: the new value
    expected: str = ""  # cas: the value that must be there
    op_id: int = 0  # the client operation that proposed it (for lost-write accounting)


def encode(cmd: Command) -> bytes:
    return SEP.join((cmd.op, cmd.key, cmd.value, cmd.expected, str(cmd.op_id))).encode()


def decode(data: bytes) -> Command:
    op, key, value, expected, op_id = data.decode().split(SEP)
    return Command(op, key, value, expected, int(op_id))


def _pair_hash(key: str, value: str) -> int:
    digest = hashlib.blake2b(f"{key}{SEP}{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class RegisterMachine:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.digest = 0  # XOR of pair hashes: equal contents <=> equal digest (w.h.p.)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def _set(self, key: str, value: str | None) -> None:
        old = self.values.get(key)
        if old is not None:
            self.digest ^= _pair_hash(key, old)
            del self.values[key]
        if value is not None:
            self.values[key] = value
            self.digest ^= _pair_hash(key, value)

    def apply(self, cmd: Command) -> bool:
        """Apply a command; the result is whether it took effect (cas may not)."""
        if cmd.op == "put":
            self._set(cmd.key, cmd.value)
            return True
        if cmd.op == "cas":
            if self.values.get(cmd.key) != cmd.expected:
                return False
            self._set(cmd.key, cmd.value)
            return True
        if cmd.op == "del":
            self._set(cmd.key, None)
            return True
        raise ValueError(f"unknown op {cmd.op!r}")

    def snapshot(self) -> bytes:
        return json.dumps(self.values, sort_keys=True).encode()

    def restore(self, data: bytes) -> None:
        self.values = {}
        self.digest = 0
        for key, value in sorted(json.loads(data.decode() or "{}").items()):
            self._set(key, value)
