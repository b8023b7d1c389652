"""Argument parsing shared by handlers, with Redis's error texts."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Final

from tandemkv.commands.errors import CommandError, NotFloat, NotInteger

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


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


# ------------------------------------------------------------------ long double
# INCRBYFLOAT works in C's long double, the x87 80-bit format on the x86-64 Linux builds of
# Redis: a 64-bit significand, and exponents from 2**-16445 (least subnormal) to just
# under 2**16384. Python has no such type, so values are kept exactly, as mantissa * 2**exp
# with Python ints, and every operation rounds the exact result to that format (nearest,
# ties to even), which is what strtold, the x87 addition and printf do. Where it can still
# differ from a given Redis build: builds whose long double is another format (aarch64's
# 128-bit quad, or plain double elsewhere) print other digits.

_LD_MANTISSA_BITS: Final = 64
_LD_LEAST_EXP: Final = -16445  # the least subnormal is 2**-16445
_LD_OVERFLOW_EXP: Final = 16384  # a value of 2**16384 or more is infinite
# string2ld's buffer: a longer text is not a number to Redis (MAX_LONG_DOUBLE_CHARS).
_LD_MAX_TEXT: Final = 5 * 1024 - 1
_LD_DECIMAL: Final = re.compile(rb"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
_LD_HEX: Final = re.compile(
    rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?"
)
_LD_INFINITY: Final = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_HUGE_EXPONENT: Final = 10**9  # past this an exponent over- or underflows whatever the digits


class _OutOfRange(Exception):
    """strtold's ERANGE: too large for a long double, or so small it rounds to zero."""


def _round_to_long_double(num: int, den: int) -> tuple[int, int]:
    """num/den (den > 0) rounded to the nearest long double, ties to even, as
    (mantissa, exp2); _OutOfRange if that is infinite. Zero comes back as (0, 0)."""
    if num == 0:
        return 0, 0
    magnitude = abs(num)
    # magnitude/den lies in [2**(e+63), 2**(e+65)) for this e: at most one step more.
    exp = max(magnitude.bit_length() - den.bit_length() - _LD_MANTISSA_BITS, _LD_LEAST_EXP)
    mantissa, rest, divisor = _divide(magnitude, den, exp)
    if mantissa >> _LD_MANTISSA_BITS:
        exp += 1
        mantissa, rest, divisor = _divide(magnitude, den, exp)
    if rest * 2 > divisor or (rest * 2 == divisor and mantissa & 1):
        mantissa += 1
        if mantissa >> _LD_MANTISSA_BITS:
            mantissa, exp = mantissa >> 1, exp + 1
    if exp + mantissa.bit_length() > _LD_OVERFLOW_EXP:
        raise _OutOfRange()
    return (-mantissa if num < 0 else mantissa), exp


def scale_long_double(value: tuple[int, int], factor: int) -> tuple[int, int] | None:
    """`value` (mantissa, exp2) times `factor`, rounded to a long double as C computes a
    long double product; None if it overflows (a timeout's seconds to milliseconds)."""
    mantissa, exp = value
    num = mantissa * factor
    try:
        if exp >= 0:
            return _round_to_long_double(num << exp, 1)
        return _round_to_long_double(num, 1 << -exp)
    except _OutOfRange:
        return None


def _divide(num: int, den: int, exp: int) -> tuple[int, int, int]:
    """num / (den * 2**exp) as quotient, remainder and the divisor they refer to."""
    if exp >= 0:
        divisor = den << exp
        return num // divisor, num % divisor, divisor
    scaled = num << -exp
    return scaled // den, scaled % den, den


def _decimal_digits(digits: bytes) -> int:
    if len(digits) > 4000:
        # int() refuses more than 4300 decimal digits; Decimal converts exactly.
        return int(Decimal(digits.decode()))
    return int(digits or b"0")


def _exponent(raw: bytes | None) -> int:
    """An exponent's value, clamped: beyond _HUGE_EXPONENT only its sign matters."""
    if not raw:
        return 0
    digits = raw.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 10:
        magnitude = _HUGE_EXPONENT * 10
    else:
        magnitude = min(int(digits or b"0"), _HUGE_EXPONENT * 10)
    return -magnitude if raw[:1] == b"-" else magnitude


def _scaled(sign: bytes, mantissa: int, exp: int, radix: int) -> tuple[int, int]:
    """sign * mantissa * radix**exp as a long double (radix 10 or 2)."""
    if sign == b"-":
        mantissa = -mantissa
    if exp >= 0:
        return _round_to_long_double(mantissa * radix**exp, 1)
    return _round_to_long_double(mantissa, radix**-exp)


def _parse_finite(raw: bytes) -> tuple[int, int] | None:
    """A decimal or hexadecimal number as strtold reads it; None if it is not one,
    _OutOfRange if it over- or underflows."""
    match = _LD_HEX.fullmatch(raw)
    radix, limits = 2, (_LD_OVERFLOW_EXP + 64, _LD_LEAST_EXP - 64)
    if match is None:
        match = _LD_DECIMAL.fullmatch(raw)
        # Decimal orders past LDBL_MAX (~1.19e4932) and below the least subnormal (~3.6e-4951).
        radix, limits = 10, (4940, -4960)
    if match is None:
        return None
    sign, whole, fraction, power = match.groups()
    fraction = fraction or b""
    if not whole and not fraction:
        return None  # no digit at all: ".", "0x", "e5"
    digits = (whole + fraction).lstrip(b"0")
    if radix == 2:
        mantissa = int(digits or b"0", 16)
        exp = _exponent(power) - 4 * len(fraction)
        reach = exp + mantissa.bit_length()
    else:
        mantissa = _decimal_digits(digits)
        exp = _exponent(power) - len(fraction)
        reach = exp + len(digits)
    if mantissa == 0:
        return 0, 0
    if not limits[1] <= reach <= limits[0]:
        raise _OutOfRange()
    value = _scaled(sign, mantissa, exp, radix)
    if value[0] == 0:
        raise _OutOfRange()  # underflow: a nonzero number rounded to zero
    return value


def parse_long_double(raw: bytes) -> tuple[int, int] | float:
    """A long double as Redis's string2ld reads it: (mantissa, exp2) for a finite value,
    or float +-inf for "inf"/"infinity". NotFloat for anything else: NaN, blanks, a text
    strtold does not read to its end, and what over- or underflows (strtold's ERANGE)."""
    if not raw or len(raw) > _LD_MAX_TEXT:
        raise NotFloat()
    infinite = _LD_INFINITY.fullmatch(raw)
    if infinite is not None:
        return -math.inf if infinite.group(1) == b"-" else math.inf
    try:
        value = _parse_finite(raw)
    except _OutOfRange:
        value = None
    if value is None:
        raise NotFloat()
    return value


def format_long_double(value: tuple[int, int]) -> bytes:
    """printf's "%.17Lf" of a long double with trailing zeros (and a bare point) trimmed,
    as Redis prints INCRBYFLOAT's result; "-0" becomes "0"."""
    mantissa, exp = value
    magnitude = abs(mantissa)
    scale = 10**17
    if exp >= 0:
        hundred_quadrillionths = (magnitude << exp) * scale
    else:
        quotient, rest = divmod(magnitude * scale, 1 << -exp)
        twice = rest * 2
        if twice > 1 << -exp or (twice == 1 << -exp and quotient & 1):
            quotient += 1
        hundred_quadrillionths = quotient
    whole, fraction = divmod(hundred_quadrillionths, scale)
    text = _int_text(whole)
    if fraction:
        text += "." + f"{fraction:017d}".rstrip("0")
    if mantissa < 0 and text != "0":
        text = "-" + text
    return text.encode()


def _int_text(n: int) -> str:
    if n.bit_length() < 13000:  # well under str()'s 4300-digit limit
        return str(n)
    return str(Decimal(n))


def add_long_doubles(base: bytes, increment: bytes) -> bytes:
    """INCRBYFLOAT's new value as Redis computes and prints it: both texts read as long
    doubles (NotFloat if one is not), added with long double rounding; an infinite or
    NaN sum is refused with Redis's error."""
    left, right = parse_long_double(base), parse_long_double(increment)
    if isinstance(left, float) or isinstance(right, float):
        raise CommandError("increment would produce NaN or Infinity")
    (m1, e1), (m2, e2) = left, right
    low = min(e1, e2)
    total = (m1 << (e1 - low)) + (m2 << (e2 - low))
    try:
        value = _scaled(b"+", total, low, 2)
    except _OutOfRange:
        raise CommandError("increment would produce NaN or Infinity") from None
    return format_long_double(value)


def match_option(raw: bytes, *names: bytes) -> bytes | None:
    """The upper-cased option if `raw` is one of `names` (case-insensitive), else None."""
    upper = raw.upper()
    return upper if upper in names else None


# HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a negative count repeat their picks, so the
# reply is as long as the count asks. Redis builds it whatever the count (and runs out of
# memory); past this many picks we refuse, with the text Redis uses for counts too large.
MAX_RANDOM_REPLY: Final = 1_000_000


def check_random_reply(count: int) -> None:
    """Refuse a negative (repeating) random-pick count whose reply would be too long."""
    if -count > MAX_RANDOM_REPLY:
        raise CommandError("value is out of range")
