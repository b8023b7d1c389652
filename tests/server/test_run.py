"""The process shell's start-up tuning."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tandemkv.server.run import GC_THRESHOLDS, tune_garbage_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_leave_the_collectors_sight_and_collections_are_rarer() -> None:
    survivor = [object() for _ in range(100)]  # alive at start-up, like a recovered keyspace
    gc.unfreeze()
    tune_garbage_collector()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700, "rarer than CPython's default first generation"
    assert gc.get_freeze_count() >= len(survivor)
    assert not any(o is survivor for o in gc.get_objects()), "frozen lists are not scanned"
