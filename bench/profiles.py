"""Reading profiler output (py-spy raw stacks, cProfile stats) into shares of server CPU."""

from __future__ import annotations

import functools
import linecache
import pstats
import re
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.paths import SRC_DIR

_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
_STDLIB = re.compile(r"/lib/python\d+\.\d+/")
_LIBRARY_ROOTS = tuple(Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib", "stdlib"))


@dataclass(frozen=True)
class Cost:
    name: str
    where: str
    share: float
    code: str = ""


@dataclass(frozen=True)
class Profile:
    tool: str
    samples: int
    # Self cost by source line (py-spy) or by function (cProfile).
    hot_lines: list[Cost]
    # Cost including callees, by function.
    inclusive: list[Cost]
    # Self cost grouped by package area (tandemkv.server, asyncio, ...).
    areas: list[Cost]


@dataclass(frozen=True)
class Frame:
    name: str
    path: str
    line: int

    @property
    def function(self) -> tuple[str, str]:
        return self.name, short_path(self.path)


def parse_frame(text: str) -> Frame:
    match = _FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "?", 0)
    return Frame(match["name"], match["path"], int(match["line"] or 0))


@functools.cache
def resolve(path: str) -> Path | None:
    """The file a frame names; py-spy reports modules relative to their sys.path entry."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate if candidate.exists() else None
    for root in (SRC_DIR, *_LIBRARY_ROOTS):
        if (root / candidate).exists():
            return root / candidate
    return None


def short_path(path: str) -> str:
    for marker in ("/site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    stdlib = _STDLIB.search(path)
    return path[stdlib.end() :] if stdlib else path


def area_of(path: str) -> str:
    """The package a frame belongs to: tandemkv.<subpackage>, asyncio, uvloop, stdlib: x, ..."""
    short = short_path(path)
    head, _, rest = short.partition("/")
    if head == "tandemkv" and "/" in rest:
        return f"tandemkv.{rest.split('/')[0]}"
    if head in ("tandemkv", "asyncio", "uvloop", "hiredis"):
        return head
    if short.startswith("<"):
        return "generated code (dataclass __init__ etc.)" if short == "<string>" else short
    resolved = resolve(path)
    if resolved is not None and _in_stdlib(resolved):
        return f"stdlib: {head.removesuffix('.py')}"
    return short


def _in_stdlib(path: Path) -> bool:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return path.is_relative_to(stdlib) and "site-packages" not in path.parts


def parse_pyspy_raw(text: str) -> Profile:
    """py-spy ``--format raw``: one ``frame;frame;...;leaf COUNT`` line per distinct stack."""
    lines: Counter[Frame] = Counter()
    functions: Counter[tuple[str, str]] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for row in text.splitlines():
        stack_text, _, count_text = row.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = [parse_frame(part) for part in stack_text.split(";")]
        total += count
        lines[stack[-1]] += count
        areas[area_of(stack[-1].path)] += count
        for function in {frame.function for frame in stack}:
            functions[function] += count
    return Profile(
        "py-spy",
        total,
        [
            Cost(f.name, f"{short_path(f.path)}:{f.line}", n / total, _source(f))
            for f, n in lines.most_common()
        ]
        if total
        else [],
        _costs(functions, total),
        [Cost(name, "", n / total) for name, n in areas.most_common()] if total else [],
    )


def load_cprofile(path: Path) -> Profile:
    """cProfile stats: self time (tottime) and inclusive time (cumtime) per function."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    self_time: Counter[tuple[str, str]] = Counter()
    inclusive: Counter[tuple[str, str]] = Counter()
    areas: Counter[str] = Counter()
    for (file, line, name), (_cc, _nc, tottime, cumtime, _callers) in stats.items():
        where = f"{short_path(file)}:{line}" if file != "~" else "built-in"
        self_time[(name, where)] += tottime
        inclusive[(name, where)] += cumtime
        areas[area_of(file) if file != "~" else "built-ins (C)"] += tottime
    total = sum(self_time.values())
    return Profile(
        "cProfile",
        sum(1 for _ in stats),
        _costs(self_time, total),
        _costs(inclusive, total),
        [Cost(name, "", t / total) for name, t in areas.most_common()] if total else [],
    )


def _costs(counter: Counter[tuple[str, str]], total: float) -> list[Cost]:
    if not total:
        return []
    return [
        Cost(name, where, min(value / total, 1.0)) for (name, where), value in counter.most_common()
    ]


def _source(frame: Frame) -> str:
    path = resolve(frame.path)
    return linecache.getline(str(path), frame.line).strip() if path and frame.line else ""
