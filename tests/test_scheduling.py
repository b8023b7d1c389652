"""The CPU policy a node takes for its role (Linux): batch while not primary, if asked."""

from __future__ import annotations

import os
import threading

import pytest

from helpers.scheduling import batch_scheduling_allowed
from tandemkv.scheduling import apply_role_policy

pytestmark = pytest.mark.skipif(
    not batch_scheduling_allowed(), reason="this machine does not allow SCHED_BATCH"
)


def policy_after(*calls: tuple[bool, str]) -> int:
    """Apply the calls in a thread of its own (the policy is per thread, and the test
    runner's must not change) and return the policy it ends with."""
    seen: list[int] = []

    def run() -> None:
        for primary, setting in calls:
            apply_role_policy(primary, setting)
        seen.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen[0]


def test_a_backup_asks_for_batch_and_a_primary_for_normal() -> None:
    assert policy_after((False, "batch")) == os.SCHED_BATCH
    assert policy_after((False, "batch"), (True, "batch")) == os.SCHED_OTHER
    assert policy_after((True, "batch"), (False, "batch")) == os.SCHED_BATCH


def test_normal_keeps_a_backup_on_the_default_policy() -> None:
    assert policy_after((False, "normal")) == os.SCHED_OTHER
