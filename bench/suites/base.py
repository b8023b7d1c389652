"""What every suite receives (a Context) and gives back (a Section of the report)."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import ProcessBook
from bench.tools import Tool


@dataclass(frozen=True)
class Options:
    suites: tuple[str, ...]
    systems: tuple[str, ...]
    persistence: tuple[str, ...]
    repeats: int
    quick: bool
    duration: float
    out_dir: Path
    results_dir: Path
    argv: tuple[str, ...]
    # SIGKILLs of the primary in the failover suite.
    kills: int = 5


@dataclass
class Context:
    options: Options
    tools: dict[str, Tool]
    book: ProcessBook
    scratch: Path
    img_dir: Path
    log: Callable[[str], None]
    # Every command the run executed, with temporary paths and ports as placeholders.
    commands: list[str] = field(default_factory=list)
    # The same, per suite (the report keeps each suite's commands with its figures).
    suite_commands: dict[str, list[str]] = field(default_factory=dict)
    current_suite: str = ""

    def record_command(self, command: Sequence[str], workdir: Path | None = None) -> None:
        self.record_text(display_command(command, self.scratch, workdir))

    def record_text(self, text: str) -> None:
        """Record a command already written out for the reader."""
        if text not in self.commands:
            self.commands.append(text)
        mine = self.suite_commands.setdefault(self.current_suite, [])
        if text not in mine:
            mine.append(text)


@dataclass
class Section:
    """A suite's part of the report. ``skipped`` set means it did not run, and says why."""

    suite: str
    title: str
    skipped: str | None = None
    markdown: list[str] = field(default_factory=list)
    # Markdown for the report's summary at the top (e.g. each target met or missed).
    summary: list[str] = field(default_factory=list)
    # Chart file names inside the report's img/ directory.
    charts: list[str] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    description: str
    run: Callable[[Context], Section]


def skipped(suite: Suite, reason: str) -> Section:
    return Section(suite.name, suite.title, skipped=reason)


def display_command(command: Sequence[str], scratch: Path, workdir: Path | None) -> str:
    """The command as a reader would type it: temp paths as $TMP, ports and pids as $PORT/$PID."""
    words = [_program_name(command[0])] if command else []
    for previous, word in itertools.pairwise(command):
        if previous in _PLACEHOLDERS:
            words.append(_PLACEHOLDERS[previous])
            continue
        text = shlex.quote(word)
        text = text.replace(str(workdir), "$TMP") if workdir is not None else text
        words.append(text.replace(str(scratch), "$TMP"))
    return " ".join(words)


_PLACEHOLDERS = {"-p": "$PORT", "--port": "$PORT", "--pid": "$PID"}


def _program_name(path: str) -> str:
    name = Path(path).name
    return "python3" if name.startswith("python") else name
