"""Each suite's parts of docs/benchmarks.md, so a run replaces only the suites it ran.

A suite has three parts: its lines in the summary, its section (which opens with the run that
measured it) and its commands. In the report each part is fenced by HTML comments, which
GitHub does not show:

    <!-- bench:summary NAME -->  ...  <!-- bench:end -->

A report written before the fences existed is read by its headings instead (see _unfenced).
Pure text in, text out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

KINDS = ("summary", "body", "commands")
_OPEN = re.compile(r"^<!-- bench:(summary|body|commands) (\S+) -->$")
_CLOSE = "<!-- bench:end -->"
_MACHINE_ROW = re.compile(r"^\| (Date|tandemkv) \| (.*) \|$")
_THIS_RUN = re.compile(r"^This run: `(.*)`$")
_SKIP_LINE = re.compile(r"^- (.*): skipped \(")


@dataclass
class Blocks:
    """One suite's parts, each a list of Markdown lines without the fences."""

    summary: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def part(self, kind: str) -> list[str]:
        parts: dict[str, list[str]] = {
            "summary": self.summary,
            "body": self.body,
            "commands": self.commands,
        }
        return parts[kind]


def fenced(kind: str, name: str, lines: Sequence[str]) -> list[str]:
    return [f"<!-- bench:{kind} {name} -->", *lines, _CLOSE]


def provenance(date: str, command: str, tandemkv: str, quick: bool) -> str:
    """The line that opens a suite's section: which run measured it."""
    text = f"*Measured {date} by `{command}`; {tandemkv}.*"
    return text + (" **A --quick smoke run: these figures mean nothing.**" if quick else "")


def read_blocks(text: str, titles: Mapping[str, str]) -> dict[str, Blocks]:
    """Every suite's parts in an existing report; ``titles`` maps suite name to heading."""
    if "<!-- bench:" in text:
        return _fenced(text.splitlines())
    return _unfenced(text.splitlines(), titles)


def _fenced(lines: Sequence[str]) -> dict[str, Blocks]:
    blocks: dict[str, Blocks] = {}
    current: list[str] | None = None
    for line in lines:
        match = _OPEN.match(line)
        if match:
            current = blocks.setdefault(match.group(2), Blocks()).part(match.group(1))
            current.clear()
        elif line == _CLOSE:
            current = None
        elif current is not None:
            current.append(line)
    for block in blocks.values():
        block.commands = _commands_only(block.commands)
    return blocks


def _commands_only(lines: Sequence[str]) -> list[str]:
    """A commands part without the heading and code fence the report wraps it in, which the
    writer adds again. (Reports written before this was read back hold the wrapper several
    times over: every layer goes.)"""
    return [line for line in lines if line.strip() and not _is_wrapper(line)]


def _is_wrapper(line: str) -> bool:
    return line.startswith("### ") or line in ("```sh", "```")


def _unfenced(lines: Sequence[str], titles: Mapping[str, str]) -> dict[str, Blocks]:
    """A report from before the fences: sections by their headings. Such a report came from
    one run, so its summary (less the skip lines) and its commands go with the first suite
    it measured, and every section gets that run's provenance line."""
    headings = {f"## {title}": name for name, title in titles.items()}
    stops = {*headings, "## Exact commands"}
    blocks: dict[str, Blocks] = {}
    for index, line in enumerate(lines):
        if line in headings:
            end = next((j for j in range(index + 1, len(lines)) if lines[j] in stops), len(lines))
            blocks[headings[line]] = Blocks(body=_trim(lines[index + 1 : end]))
    measured = [name for name, b in blocks.items() if not _is_skipped(b.body)]
    summary = _between(lines, "## Summary", "## Machine")
    names_by_title = {title: name for name, title in titles.items()}
    rest = []
    for line in summary:
        match = _SKIP_LINE.match(line)
        if match and match.group(1) in names_by_title and names_by_title[match.group(1)] in blocks:
            blocks[names_by_title[match.group(1)]].summary = [line]
        elif not line.startswith("**This was a --quick"):
            rest.append(line)
    if measured:
        first = blocks[measured[0]]
        first.summary = _trim(rest)
        commands = _code_lines(_between(lines, "## Exact commands", None))
        if commands:
            first.commands = [f"# the whole run that measured {', '.join(measured)}", *commands]
    opening = _old_provenance(lines)
    for block in blocks.values():
        block.body = [opening, "", *block.body]
    return blocks


def _is_skipped(body: Sequence[str]) -> bool:
    return bool(body) and body[0].startswith("Skipped: ")


def _between(lines: Sequence[str], start: str, end: str | None) -> list[str]:
    if start not in lines:
        return []
    first = lines.index(start) + 1
    last = lines.index(end) if end is not None and end in lines else len(lines)
    return list(lines[first:last])


def _code_lines(lines: Sequence[str]) -> list[str]:
    if "```sh" not in lines:
        return []
    start = lines.index("```sh") + 1
    end = next((i for i in range(start, len(lines)) if lines[i] == "```"), len(lines))
    return list(lines[start:end])


def _old_provenance(lines: Sequence[str]) -> str:
    rows = {m.group(1): m.group(2) for m in map(_MACHINE_ROW.match, lines) if m}
    command = next((m.group(1) for m in map(_THIS_RUN.match, lines) if m), "python3 -m bench")
    quick = any(line.startswith("**This was a --quick") for line in lines)
    return provenance(rows.get("Date", "(date unknown)"), command, rows.get("tandemkv", "?"), quick)


def _trim(lines: Sequence[str]) -> list[str]:
    """Without the blank lines at either end."""
    kept = list(lines)
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept
