"""Expiry options shared by SET and GETEX (EX PX EXAT PXAT KEEPTTL PERSIST).

Redis reads all of a command's option words first and only then parses the amount of the
last expiry option given, so `SET k v EX abc KEEPTTL` is a syntax error (the options clash)
and `SET k v EX abc EX 10` succeeds (the last EX wins). The amount is therefore kept as
text here and parsed by `resolve_deadline`.
"""

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
    amount: bytes = b""  # unparsed: see the module docstring
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
    return ExpiryOption(unit[0], unit[1], args[i + 1]), i + 2


def merge_expiry(current: ExpiryOption | None, new: ExpiryOption) -> ExpiryOption:
    """Two expiry options of one command: the same one repeated (the last wins), or a
    syntax error if they differ (EX and PX, KEEPTTL and EX...)."""
    if current is not None and not current.same_kind(new):
        raise SyntaxErr()
    return new


def parse_expiry_options(
    args: list[bytes], start: int, *, allow_persist: bool, allow_keepttl: bool
) -> ExpiryOption | None:
    """A command whose options after `start` are expiry options only (GETEX)."""
    expiry: ExpiryOption | None = None
    i = start
    while i < len(args):
        option = parse_expiry_option(
            args, i, allow_persist=allow_persist, allow_keepttl=allow_keepttl
        )
        if option is None:
            raise SyntaxErr()
        expiry, i = merge_expiry(expiry, option[0]), option[1]
    return expiry


def resolve_deadline(option: ExpiryOption, now_ms: int, command: str) -> int:
    """The absolute deadline in Unix ms; Redis's error for non-positive or overflowing ones."""
    amount = parse_int(option.amount)
    if amount <= 0 or amount > INT64_MAX // option.unit_ms:
        raise CommandError(f"invalid expire time in '{command}' command")
    deadline = amount * option.unit_ms
    if not option.absolute:
        deadline += now_ms
        if deadline > INT64_MAX:
            raise CommandError(f"invalid expire time in '{command}' command")
    return deadline
