"""Running one suite replaces that suite's part of the report and keeps every other one."""

from __future__ import annotations

from pathlib import Path

from bench.procs import ProcessBook
from bench.report import write_report
from bench.report_blocks import read_blocks
from bench.suites import SUITES
from bench.suites.base import Context, Options, Section

MACHINE = [("Date", "2030-01-01 00:00 UTC"), ("tandemkv", "tandemkv 9, commit abc, source def")]
TITLES = {name: suite.title for name, suite in SUITES.items()}


def context(tmp_path: Path, *suites: str) -> Context:
    options = Options(
        suites=suites,
        systems=("tandemkv-py",),
        persistence=("off",),
        repeats=1,
        quick=False,
        duration=1.0,
        out_dir=tmp_path / "docs",
        results_dir=tmp_path / "results",
        argv=("--suites", ",".join(suites)),
    )
    staging = tmp_path / f"staging-{'-'.join(suites)}"
    staging.mkdir()
    return Context(options, {}, ProcessBook(), tmp_path, staging, lambda _: None)


def section(ctx: Context, suite: str, figure: str, chart: str | None = None) -> Section:
    made = Section(suite, SUITES[suite].title, markdown=[f"figure: {figure}"])
    made.summary = [f"- {suite} summary: {figure}"]
    ctx.current_suite = suite
    ctx.record_text(f"command-for-{suite} {figure}")
    if chart is not None:
        (ctx.img_dir / chart).write_bytes(b"png")
        made.charts.append(chart)
    return made


def test_a_second_suite_keeps_the_first_suites_figures_charts_and_commands(
    tmp_path: Path,
) -> None:
    first = context(tmp_path, "single")
    write_report(first, MACHINE, [section(first, "single", "one", "single-off-cpu.png")])
    second = context(tmp_path, "replicated")
    path = write_report(
        second, MACHINE, [section(second, "replicated", "two", "replicated-cpu.png")]
    )
    text = path.read_text()
    assert "figure: one" in text and "figure: two" in text
    assert "- single summary: one" in text and "- replicated summary: two" in text
    assert "command-for-single one" in text and "command-for-replicated two" in text
    assert "--suites single`" in text and "--suites replicated`" in text  # each its provenance
    assert {p.name for p in (tmp_path / "docs" / "img").iterdir()} == {
        "single-off-cpu.png",
        "replicated-cpu.png",
    }
    # Sections keep the registry's order, whatever order they were measured in.
    assert text.index(f"## {TITLES['single']}") < text.index(f"## {TITLES['replicated']}")


def test_re_running_a_suite_replaces_its_figures_and_drops_its_stale_charts(
    tmp_path: Path,
) -> None:
    first = context(tmp_path, "single", "replicated")
    write_report(
        first,
        MACHINE,
        [
            section(first, "single", "old", "single-off-cpu.png"),
            section(first, "replicated", "kept", "replicated-cpu.png"),
        ],
    )
    again = context(tmp_path, "single")
    text = write_report(again, MACHINE, [section(again, "single", "new")]).read_text()
    assert "figure: new" in text and "figure: old" not in text
    assert "figure: kept" in text
    assert [p.name for p in (tmp_path / "docs" / "img").iterdir()] == ["replicated-cpu.png"]


LEGACY = f"""# Benchmarks

This run: `python3 -m bench`

## Summary

| Single node | System |
| --- | --- |
| off | tandemkv |

- {TITLES["failover"]}: skipped (needs cluster mode).

## Machine

|  |  |
| --- | --- |
| Date | 2026-11-26 17:10 UTC |
| tandemkv | tandemkv 0.1.0, commit a99f6aa, source 4afdbc3dde7a |

## {TITLES["single"]}

### Persistence off

figures

## {TITLES["failover"]}

Skipped: needs cluster mode.

## {TITLES["profile"]}

profile figures

## Closing note: a heading of the findings, inside the profile section

## Exact commands

```sh
redis-server --port $PORT
```
"""


def test_a_report_from_before_the_fences_is_read_by_its_headings() -> None:
    blocks = read_blocks(LEGACY, TITLES)
    assert list(blocks) == ["single", "failover", "profile"]
    opening = (
        "*Measured 2026-11-26 17:10 UTC by `python3 -m bench`; tandemkv 0.1.0, commit a99f6aa, "
        "source 4afdbc3dde7a.*"
    )
    assert blocks["single"].body == [opening, "", "### Persistence off", "", "figures"]
    assert blocks["single"].summary == [
        "| Single node | System |",
        "| --- | --- |",
        "| off | tandemkv |",
    ]
    assert blocks["failover"].summary == [f"- {TITLES['failover']}: skipped (needs cluster mode)."]
    assert blocks["profile"].body[-1].startswith("## Closing note")
    assert blocks["single"].commands[1:] == ["redis-server --port $PORT"]
    assert blocks["profile"].commands == []


def commands_part(text: str, suite: str) -> list[str]:
    start = text.index(f"<!-- bench:commands {suite} -->")
    end = text.index("<!-- bench:end -->", start)
    return text[start:end].splitlines()[1:]


def test_carried_over_commands_keep_one_heading_and_one_code_block(tmp_path: Path) -> None:
    first = context(tmp_path, "single")
    write_report(first, MACHINE, [section(first, "single", "one")])
    for suite in ("replicated", "failover"):
        later = context(tmp_path, suite)
        path = write_report(later, MACHINE, [section(later, suite, "later")])
    part = commands_part(path.read_text(), "single")
    assert part == [f"### {TITLES['single']}", "", "```sh", "command-for-single one", "```"]


def test_commands_wrapped_several_times_by_older_runs_are_read_as_the_commands() -> None:
    heading = f"### {TITLES['failover']}"
    text = "\n".join(
        [
            "<!-- bench:commands failover -->",
            *(heading, "", "```sh") * 3,
            "# a note",
            "redis-server --port $PORT",
            *("```",) * 3,
            "<!-- bench:end -->",
        ]
    )
    blocks = read_blocks(text, TITLES)
    assert blocks["failover"].commands == ["# a note", "redis-server --port $PORT"]
