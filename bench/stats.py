"""Medians and spread of repeated measurements on a noisy shared machine."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    count: int

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the repeats landed."""
        return (self.high - self.low) / self.median if self.median else 0.0


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("cannot summarize no values")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
