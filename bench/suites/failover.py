"""The failover suite: SIGKILL the primary of a 3-node group under a steady writer; time until
the writer's next acknowledged write on a new primary, and acknowledged writes lost."""

from __future__ import annotations

import importlib.util

from bench.suites.base import Context, Section, Suite
from bench.suites.replicated import REDIS_PY_REASON

TANDEMKV_ARGS = ("--ack", "majority", "--fsync", "everysec")
# Sentinel's defaults (down-after 30 s, failover-timeout 3 min) would make every round long.
SENTINEL_SETTINGS = {
    "down-after-milliseconds": "1000",
    "failover-timeout": "10000",
    "parallel-syncs": "1",
}
SENTINEL_DEFAULTS = {"down-after-milliseconds": "30000", "failover-timeout": "180000"}
# Seconds of writes acknowledged by the whole group before each kill.
SETTLE = 1.0
QUICK_SETTLE = 0.3


def run_failover(ctx: Context) -> Section:
    if importlib.util.find_spec("redis") is None:
        return Section(SUITE.name, SUITE.title, skipped=REDIS_PY_REASON)
    # Imported here: the plan needs redis-py, which the other suites do not.
    from bench.suites.failover_run import run_plan

    return run_plan(ctx, SUITE)


SUITE = Suite(
    name="failover",
    title="Failover: time to a new primary and writes lost, against Redis Sentinel and etcd",
    description="SIGKILL the primary of a 3-node tandemkv group (and of Redis watched by 3 "
    "Sentinels) under a writer: failover time and acknowledged writes lost",
    run=run_failover,
)
