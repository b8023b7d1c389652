"""HSCAN, SSCAN and ZSCAN: one cursor walk over a collection's elements.

A small collection (up to SMALL elements, what Redis keeps as a listpack) is returned whole
with cursor 0, as Redis does. A larger one is walked like SCAN walks the keyspace: the
first call takes a list of the element references (no copies) into the engine's cursor
pool (commands/scan.py) and later calls page through it, so an element present for the
whole walk is returned once and none is returned after it was removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tandemkv.commands.args import parse_int
from tandemkv.commands.errors import CommandError, SyntaxErr
from tandemkv.commands.glob import compile_glob

if TYPE_CHECKING:
    from tandemkv.commands.engine import Engine

SMALL = 128
# Elements one call examines at most (SCAN's cap, for the same reason: a bounded turn).
MAX_COUNT = 100_000


@dataclass(slots=True)
class ScanArgs:
    cursor: int
    pattern: bytes
    count: int  # as asked (at least 1); each command caps it
    type: bytes | None = None  # SCAN's TYPE, lower case


_U64 = 2**64


def parse_cursor(raw: bytes) -> int:
    """A SCAN-family cursor as Redis reads it (strtoul): digits after an optional sign, a
    negative one wrapping around 2**64, nothing else (no blanks, nothing past 2**64 - 1)."""
    digits = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if not digits.isdigit() or len(digits) > 20 or int(digits) >= _U64:
        raise CommandError("invalid cursor")
    value = int(digits)
    return (_U64 - value) % _U64 if raw[:1] == b"-" else value


def parse_scan_args(args: list[bytes], at: int = 2, with_type: bool = False) -> ScanArgs:
    """`cursor [MATCH pattern] [COUNT count]` (and SCAN's `[TYPE type]`) from args[at] on:
    2 for HSCAN/SSCAN/ZSCAN (args[1] is the key), 1 for SCAN."""
    scan = ScanArgs(parse_cursor(args[at]), b"*", 10)
    i = at + 1
    while i < len(args):
        word = args[i].upper()
        if i + 1 >= len(args):
            raise SyntaxErr()
        if word == b"MATCH":
            scan.pattern = args[i + 1]
        elif word == b"COUNT":
            scan.count = parse_int(args[i + 1])
            if scan.count < 1:
                raise SyntaxErr()
        elif word == b"TYPE" and with_type:
            scan.type = args[i + 1].lower()
        else:
            raise SyntaxErr()
        i += 2
    if not with_type:
        scan.count = min(scan.count, MAX_COUNT)
    return scan


def scan_elements(
    e: Engine,
    scan: ScanArgs,
    size: int,
    elements: Iterable[bytes],
    present: Callable[[bytes], bool],
) -> tuple[bytes, list[bytes]]:
    """The cursor to continue with and the elements (names: fields or members) of this
    page that match and are still `present`. `elements` is iterated only for a new walk."""
    matches = compile_glob(scan.pattern)
    if size <= SMALL and not e.scans.continues(scan.cursor):
        return b"0", [name for name in elements if matches(name)]
    cursor, page = e.scans.page(scan.cursor, scan.count, elements)
    return str(cursor).encode(), [name for name in page if present(name) and matches(name)]
