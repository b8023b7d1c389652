"""Server bugs the fuzzer found that are not fixed yet.

A request that would hit one is not sent, so the default run stays green and keeps looking
for new bugs instead of finding the same one every time. Each entry names the strict-xfail
test in test_known_issues.py that reproduces it: when the server is fixed that test
passes, which fails the suite (XPASS), and the test's marker and the entry here go.

One behaviour is avoided by construction rather than filtered: under Redis's default
client-output-buffer-limit (none for normal clients) a reply is built whole in memory, so
a request naming a big key many times (MGET k k k ...) amplifies a small request into a
huge reply (test_with_a_hard_output_limit_one_reply_cannot_exhaust_memory shows the limit
that bounds it). Giant requests therefore take at most GIANT_SHARED_KEYS keys from the
shared pool, and long repeating random picks (SRANDMEMBER k -100000, the same amplifier)
go only to the loader's collections, whose members are short (grammar.py,
REPEATED_PICKS_MAX).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownIssue:
    name: str
    test: str  # the regression test in test_known_issues.py
    hits: Callable[[Sequence[bytes]], bool]
    queued_only: bool = False  # only a problem when many are queued in one MULTI


# Empty while every issue the fuzzer found is fixed; an entry looks like
#   KnownIssue("what goes wrong", "test_name_in_test_known_issues", hits=lambda args: ...)
KNOWN_ISSUES: tuple[KnownIssue, ...] = ()


def known_issue(args: Sequence[bytes], queued: bool = False) -> KnownIssue | None:
    """The open issue `args` would hit, sent, or (`queued`) queued in a deep MULTI."""
    return next(
        (issue for issue in KNOWN_ISSUES if (queued or not issue.queued_only) and issue.hits(args)),
        None,
    )
