"""The glob matcher: Redis's semantics, checked against a reference, with bounded work.

The reference is the whole-pattern regex translation tandemkv used before the bounded
matcher. It agrees with redis-server on the cases test_keys.py pins, but backtracks
exponentially on patterns with many stars, so the property test draws patterns with few.
"""

from __future__ import annotations

import re
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tandemkv.commands.glob import compile_glob

# ------------------------------------------------------------------ the reference


def reference_match(pattern: bytes, key: bytes) -> bool:
    return re.fullmatch(_translate(pattern), key, re.DOTALL) is not None


def _translate(pattern: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i : i + 1]
        if ch == b"*":
            out += b".*"
        elif ch == b"?":
            out += b"."
        elif ch == b"[":
            i = _translate_set(pattern, i + 1, out)
            continue
        elif ch == b"\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i : i + 1])
        else:
            out += re.escape(ch)
        i += 1
    return bytes(out)


def _translate_set(pattern: bytes, i: int, out: bytearray) -> int:
    n = len(pattern)
    negate = i < n and pattern[i : i + 1] == b"^"
    if negate:
        i += 1
    members = bytearray()
    while i < n and pattern[i : i + 1] != b"]":
        ch = pattern[i : i + 1]
        if ch == b"\\" and i + 1 < n:
            i += 1
            ch = pattern[i : i + 1]
        if i + 2 < n and pattern[i + 1 : i + 2] == b"-":
            low, high = sorted((ch, pattern[i + 2 : i + 3]))
            members += _class_escape(low) + b"-" + _class_escape(high)
            i += 3
            continue
        members += _class_escape(ch)
        i += 1
    if not members:
        out += b"[\\s\\S]" if negate else b"[^\\s\\S]"
    else:
        out += b"[" + (b"^" if negate else b"") + bytes(members) + b"]"
    return i + 1


def _class_escape(ch: bytes) -> bytes:
    return b"\\" + ch if ch in (b"\\", b"]", b"[", b"^", b"-") else re.escape(ch)


# ------------------------------------------------------------------ agreement

# Few distinct bytes, so that patterns and keys collide often, plus the glob's own syntax.
ALPHABET = b"ab-^]\\\n\xff"
key_bytes = st.binary(max_size=12).map(lambda raw: bytes(ALPHABET[b % len(ALPHABET)] for b in raw))
pattern_parts = st.sampled_from(
    [b"a", b"b", b"?", b"*", b"[", b"]", b"^", b"-", b"\\", b"[a-b]", b"[^a]", b"\xff", b"\n"]
)
patterns = st.lists(pattern_parts, max_size=8).map(b"".join).filter(lambda p: p.count(b"*") <= 4)


@settings(max_examples=3000, deadline=None)
@given(pattern=patterns, keys=st.lists(key_bytes, max_size=8))
@example(pattern=b"a*a*b", keys=[b"aab", b"ab", b"aaab", b"aba"])
@example(pattern=b"*[*", keys=[b"*", b"a*", b""])
@example(pattern=b"[a-]", keys=[b"]", b"a", b"-"])
@example(pattern=b"\\", keys=[b"\\", b""])
@example(pattern=b"[^]", keys=[b"", b"x", b"xy"])
def test_agrees_with_the_reference(pattern: bytes, keys: list[bytes]) -> None:
    matches = compile_glob(pattern)
    for key in keys:
        assert matches(key) == reference_match(pattern, key), (pattern, key)


@given(key=st.binary(max_size=20))
def test_star_and_stars_match_everything(key: bytes) -> None:
    assert compile_glob(b"*")(key)
    assert compile_glob(b"***")(key)


def test_empty_pattern_matches_only_the_empty_key() -> None:
    assert compile_glob(b"")(b"")
    assert not compile_glob(b"")(b"a")


def test_segments_between_stars_do_not_overlap() -> None:
    # "aba" holds "ab" and "ba" only by sharing the middle byte.
    assert not compile_glob(b"*ab*ba*")(b"aba")
    assert compile_glob(b"*ab*ba*")(b"abba")
    assert not compile_glob(b"a*a")(b"a")


# ------------------------------------------------------------------ bounded work


def test_the_cve_pattern_answers_at_once() -> None:
    """The pattern that froze the server (issue: Hostile clients), on a 66-byte key.

    The reference takes longer than any test timeout on it; the bound below is 100x what
    the matcher needs, so it fails only for a matcher that backtracks."""
    key = b"a" * 66
    pattern = b"a*" * 17 + b"b"
    started = time.perf_counter()
    assert not compile_glob(pattern)(key)
    assert compile_glob(pattern[:-1] + b"a")(key)
    assert time.perf_counter() - started < 0.5


def test_long_patterns_on_long_keys_stay_bounded() -> None:
    key = b"a" * 20_000 + b"c"
    many_stars = b"*a" * 500 + b"*b*c"
    long_segment = b"*" + b"a" * 1000 + b"b*"
    started = time.perf_counter()
    assert not compile_glob(many_stars)(key)
    assert not compile_glob(long_segment)(key)
    assert time.perf_counter() - started < 2.0
