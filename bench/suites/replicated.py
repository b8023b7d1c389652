"""The replicated suite: write and read throughput of a 3-node tandemkv group (majority and
leader acknowledgement) against Redis with two replicas, interleaved; SET+WAIT 1 for both."""

from __future__ import annotations

import importlib.util

from bench.suites.base import Context, Section, Suite

REDIS_PY_REASON = "needs redis-py (pip install 'redis>=5.0', in the test extra)"


def run_replicated(ctx: Context) -> Section:
    bench = ctx.tools["redis-benchmark"]
    if bench.path is None or not bench.usable:
        return Section(
            SUITE.name, SUITE.title, skipped=f"needs redis-benchmark 7: {bench.describe()}"
        )
    if importlib.util.find_spec("redis") is None:
        return Section(SUITE.name, SUITE.title, skipped=REDIS_PY_REASON)
    # Imported here: the plan needs redis-py, which the other suites do not.
    from bench.suites.replicated_run import run_plan

    return run_plan(ctx, SUITE, bench.path)


SUITE = Suite(
    name="replicated",
    title="Replicated: write throughput and latency of a 3-node group, against Redis replicas "
    "and etcd",
    description="redis-benchmark -c 50 and -c 50 -P 16, and SET+WAIT 1, against 3-node tandemkv "
    "groups (--ack majority, --ack leader) and Redis with 2 replicas",
    run=run_replicated,
)
