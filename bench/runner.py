"""One benchmark run: find the tools, run each chosen suite, write the report and raw results."""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.machine import describe_machine
from bench.procs import Interrupted, ProcessBook, guarded
from bench.report import write_report
from bench.suites import SUITES
from bench.suites.base import Context, Options, Section
from bench.tools import Tool, find_tools

EXIT_INTERRUPTED = 130


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(options: Options) -> int:
    tools = find_tools()
    _report_missing_tools(tools)
    book = ProcessBook()
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tandemkv-bench-")))
        # Entered last, so it exits first: processes stop before their directories go.
        stack.enter_context(guarded(book))
        ctx = Context(options, tools, book, scratch, scratch / "img", log)
        try:
            machine = describe_machine(tools)
            sections = [_run_suite(ctx, name) for name in options.suites]
        except (KeyboardInterrupt, Interrupted) as error:
            log(
                f"interrupted ({error or 'SIGINT'}); stopping pids {book.live_pids()}; "
                "the report was not replaced"
            )
            return EXIT_INTERRUPTED
        report = write_report(ctx, machine, sections)
        results = _write_results(ctx, machine, sections)
    log(f"report: {report}\nraw results: {results}")
    return 0


def _run_suite(ctx: Context, name: str) -> Section:
    suite = SUITES[name]
    ctx.current_suite = name
    ctx.log(f"[{name}] {suite.title}")
    return suite.run(ctx)


def _report_missing_tools(tools: dict[str, Tool]) -> None:
    for tool in tools.values():
        if not tool.usable:
            log(f"note: {tool.describe()}")


def _write_results(
    ctx: Context, machine: Sequence[tuple[str, str]], sections: Sequence[Section]
) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {
        "options": {k: str(v) for k, v in asdict(ctx.options).items()},
        "machine": dict(machine),
        "started_pids": ctx.book.started,
        "commands": ctx.commands,
        "sections": [
            {"suite": s.suite, "skipped": s.skipped, "summary": s.summary, "raw": s.raw}
            for s in sections
        ],
    }
    ctx.options.results_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.options.results_dir / f"results-{stamp}.json"
    path.write_text(json.dumps(document, indent=2, default=str))
    (ctx.options.results_dir / "latest.json").write_text(path.read_text())
    return path
