"""The run's seed: `TANDEMKV_FUZZ_SEED` replays one, and every failure says how."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

SEED_ENV = "TANDEMKV_FUZZ_SEED"


def chosen_seed(environ: Mapping[str, str], fallback: int) -> int:
    value = environ.get(SEED_ENV, "").strip()
    return int(value) if value else fallback


def replay_command(test_name: str, seed: int, slow: bool = False) -> str:
    marker = " -m slow" if slow else ""
    return (
        f"{SEED_ENV}={seed} PYTHONPATH=src python3 -m pytest tests/fuzz "
        f"-k {shlex.quote(test_name)}{marker} -q -s"
    )
