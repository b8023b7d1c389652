"""Argument parsing shared by handlers, with Redis's error texts."""

from __future__ import annotations

import math

from tandemkv.commands.errors import CommandError, NotFloat, NotInteger

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def parse_int(raw: bytes) -> int:
    """A signed 64-bit integer written the way Redis accepts it (no spaces, no '+')."""
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits.isdigit() or len(digits) > 19:
        raise NotInteger()
    if digits[0] == 0x30 and (len(digits) > 1 or digits is not raw):
        raise NotInteger()  # Redis rejects leading zeros and "-0"
    value = int(raw)
    if not INT64_MIN <= value <= INT64_MAX:
        raise NotInteger()
    return value


def parse_float(raw: bytes) -> float:
    """A finite or infinite double, as Redis's string2ld accepts; NaN is refused."""
    if not raw or raw[:1].isspace() or raw[-1:].isspace() or b"_" in raw:
        raise NotFloat()
    try:
        value = float(raw)
    except ValueError:
        raise NotFloat() from None
    if math.isnan(value):
        raise NotFloat()
    return value


def parse_positive_timeout(raw: bytes, command: str) -> int:
    """An expiry amount for SET EX/PX and friends: a positive integer."""
    value = parse_int(raw)
    if value <= 0:
        raise CommandError(f"invalid expire time in '{command}' command")
    return value


def format_float(value: float) -> bytes:
    """A double as INCRBYFLOAT prints it: up to 17 significant digits, no exponent."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    # The shortest text that reads back as the same double matches what Redis's long-double
    # formatting shows for human-entered values (10.6, not 10.599999999999999645).
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.17f}".rstrip("0").rstrip(".")
    elif text.endswith(".0"):
        text = text[:-2]
    return text.encode()


def match_option(raw: bytes, *names: bytes) -> bytes | None:
    """The upper-cased option if `raw` is one of `names` (case-insensitive), else None."""
    upper = raw.upper()
    return upper if upper in names else None
