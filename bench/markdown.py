"""Small Markdown and number-formatting helpers for the report."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A GitHub table; ``align`` holds one of l/r per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [_row(headers), _row(rule)]
    lines += [_row(row) for row in rows]
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def times_near(value: float, bound: float) -> str:
    """A ratio next to a target: an extra digit when two would round it onto the bound."""
    text = f"{value:.2f}"
    if text == f"{bound:.2f}" and value != bound:
        text = f"{value:.3f}"
    return f"{text}x"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def micros(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def millis(value: float) -> str:
    return f"{value:.3f}"
