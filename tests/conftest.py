"""Suite-wide pytest options (options must be registered in the root conftest)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tandemkv")
    group.addoption(
        "--sim-seeds",
        type=int,
        default=None,
        help="number of deterministic-simulator seeds to run (default: the suite's own count)",
    )
    group.addoption(
        "--sim-seed",
        type=int,
        default=None,
        help="replay exactly this simulator seed (printed by a failing run)",
    )
