"""The CPU scheduling policy a node asks for in its place in the group (Linux only).

The primary is the group's bottleneck: every write passes through it, and it wakes a
backup for every append it sends. When nodes share a machine (a small deployment, a test
group, a benchmark), the kernel lets a woken task preempt the running one if it has slept
more, and a backup, mostly waiting, nearly always has; so each append could cost the
primary its core. A node that is not primary therefore runs under SCHED_BATCH, which
takes away that wake-up preemption and nothing else: a backup still gets its fair share
of the CPU and runs as soon as a core is free. A node that becomes primary goes back to
the normal policy. On machines of their own the nodes see no difference.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("tandemkv.node")


def apply_role_policy(primary: bool, backup_scheduling: str) -> None:
    """Best effort: a platform without these policies simply keeps its default."""
    batch = backup_scheduling == "batch" and not primary
    policy_name = "SCHED_BATCH" if batch else "SCHED_OTHER"
    policy = getattr(os, policy_name, None)
    setter = getattr(os, "sched_setscheduler", None)
    if policy is None or setter is None:
        return
    try:
        # pid 0: this thread, the one running the event loop.
        setter(0, policy, os.sched_param(0))
    except OSError as error:
        log.debug("could not switch to %s: %s", policy_name, error)
