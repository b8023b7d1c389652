"""Whether this machine lets a process take the SCHED_BATCH policy (Linux, and not
forbidden by a container's seccomp profile): the scheduling tests need it."""

from __future__ import annotations

import os
import threading


def batch_scheduling_allowed() -> bool:
    if not hasattr(os, "SCHED_BATCH") or not hasattr(os, "sched_setscheduler"):
        return False
    allowed: list[bool] = []

    def probe() -> None:  # in a thread of its own: the policy is per thread
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
            allowed.append(True)
        except OSError:
            allowed.append(False)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return allowed[0]
