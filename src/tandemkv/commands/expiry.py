"""Expiry options shared by SET and GETEX (EX PX EXAT PXAT KEEPTTL PERSIST)."""

from __future__ import annotations

from dataclasses import dataclass

from tandemkv.commands.args import INT64_MAX, parse_int
from tandemkv.commands.errors import CommandError, SyntaxErr

# Multiplier to milliseconds and whether the amount is an absolute Unix time.
_UNITS: dict[bytes, tuple[int, bool]] = {
    b"EX": (1000, False),
    b"PX": (1, False),
    b"EXAT": (1000, True),
    b"PXAT": (1, True),
}


@dataclass(frozen=True, slots=True)
class ExpiryOption:
    unit_ms: int = 1
    absolute: bool = False
    amount: int = 0
    keep_ttl: bool = False
    persist: bool = False

    def same_kind(self, other: ExpiryOption) -> bool:
        """Whether two options are the same option (EX and EX), so one may replace the other."""
        return (self.unit_ms, self.absolute, self.keep_ttl, self.persist) == (
            other.unit_ms,
            other.absolute,
            other.keep_ttl,
            other.persist,
        )


def parse_expiry_option(
    args: list[bytes], i: int, *, allow_persist: bool, allow_keepttl: bool = True
) -> tuple[ExpiryOption, int] | None:
    """Parse the expiry option at args[i]; return it and the index after it, or None."""
    word = args[i].upper()
    if word == b"KEEPTTL" and allow_keepttl:
        return ExpiryOption(keep_ttl=True), i + 1
    if word == b"PERSIST" and allow_persist:
        return ExpiryOption(persist=True), i + 1
    unit = _UNITS.get(word)
    if unit is None:
        return None
    if i + 1 >= len(args):
        raise SyntaxErr()
    return ExpiryOption(unit[0], unit[1], parse_int(args[i + 1])), i + 2


def resolve_deadline(option: ExpiryOption, now_ms: int, command: str) -> int:
    """The absolute deadline in Unix ms; Redis's error for non-positive or overflowing ones."""
    amount = option.amount
    if amount <= 0 or amount > INT64_MAX // option.unit_ms:
        raise CommandError(f"invalid expire time in '{command}' command")
    deadline = amount * option.unit_ms
    if not option.absolute:
        deadline += now_ms
        if deadline > INT64_MAX:
            raise CommandError(f"invalid expire time in '{command}' command")
    return deadline
