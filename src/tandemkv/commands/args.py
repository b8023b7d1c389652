"""Argument parsing shared by handlers, with Redis's error texts."""

from __future__ import annotations

import math
from decimal import Context, Decimal

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


def parse_positive_int(raw: bytes, error: str) -> int:
    """A positive integer (client ids, node ids); anything else answers `error`."""
    try:
        value = parse_int(raw)
    except NotInteger:
        value = 0
    if value <= 0:
        raise CommandError(error)
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


# Wide enough to hold every finite long double to 17 places (4,933 integer digits and 17
# more), so the rounding below never needs more digits than it has. No traps: a sum past
# the exponent range becomes Infinity, which is refused, instead of raising decimal.Overflow
# (or InvalidOperation, which prec=80 raised for any sum of 1e63 or more) in the handler.
_WIDE = Context(prec=5000, traps=[])
_SEVENTEEN_PLACES = Decimal(1).scaleb(-17)
_LONG_DOUBLE_MAX = Decimal("1.18973149535723176502e+4932")


def add_decimal_strings(base: bytes, increment: bytes) -> bytes | None:
    """INCRBYFLOAT's sum as Redis prints it, or None if it is not finite.

    Redis adds in long double and prints with %.17Lf, trailing zeros trimmed, so 0.1 + 0.2
    reads "0.3". Adding the decimal texts exactly and rounding to 17 places gives the same
    text for every value a long double holds to 17 places. Both inputs must already have
    passed parse_float.
    """
    # Built in _WIDE too: Decimal(text) signals in the thread's context, which traps an
    # exponent past libmpdec's range ("1e99999999999999999999").
    total = _WIDE.add(_WIDE.create_decimal(base.decode()), _WIDE.create_decimal(increment.decode()))
    if not total.is_finite() or abs(total) > _LONG_DOUBLE_MAX:
        return None
    rounded = total.quantize(_SEVENTEEN_PLACES, context=_WIDE)
    if not rounded.is_finite():
        return None
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return b"0" if text in ("-0", "") else text.encode()


def match_option(raw: bytes, *names: bytes) -> bytes | None:
    """The upper-cased option if `raw` is one of `names` (case-insensitive), else None."""
    upper = raw.upper()
    return upper if upper in names else None
