"""PNG bar charts (matplotlib, the optional ``bench`` extra); without it, no charts, and why."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.stats import Summary

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MISSING_REASON = "matplotlib is not installed (pip install 'matplotlib>=3.7', the bench extra)"


@dataclass(frozen=True)
class Panel:
    """One subplot: groups along x, one bar per series in each group, whiskers = min..max."""

    title: str
    ylabel: str
    groups: tuple[str, ...]
    series: dict[str, list[Summary | None]]


def unavailable_reason() -> str | None:
    return None if importlib.util.find_spec("matplotlib") is not None else MISSING_REASON


def draw(path: Path, title: str, panels: Sequence[Panel]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for axis, panel in zip(axes[0], panels, strict=True):
        _draw_panel(axis, panel)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _draw_panel(axis: Axes, panel: Panel) -> None:
    width = 0.8 / max(len(panel.series), 1)
    for index, (label, values) in enumerate(panel.series.items()):
        xs, heights, below, above = [], [], [], []
        for group, value in enumerate(values):
            if value is not None:
                xs.append(group + (index - (len(panel.series) - 1) / 2) * width)
                heights.append(value.median)
                below.append(value.median - value.low)
                above.append(value.high - value.median)
        axis.bar(xs, heights, width, label=label, yerr=[below, above], capsize=3)
    axis.set_xticks(range(len(panel.groups)), panel.groups)
    axis.set_title(panel.title, fontsize=10)
    axis.set_ylabel(panel.ylabel)
    axis.grid(axis="y", alpha=0.3)
