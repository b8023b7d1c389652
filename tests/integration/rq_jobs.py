"""Jobs and a worker process for the python-rq tests (tests/integration/test_rq.py).

The worker imports this module by name (``rq_jobs.record``), so the tests enqueue jobs by
that dotted path and start the worker with this directory on its PYTHONPATH:

    python rq_jobs.py --port 6379 [--burst]
    python rq_jobs.py --sentinel 127.0.0.1:7001,127.0.0.1:7002 [--burst]

Each run of a job adds one member to RUNS_KEY, so the tests can tell how often each job
ran: a retried SADD (a redis-py retry after a connection error) adds nothing twice, and
two runs of the same job add two members.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection
from rq import SimpleWorker, get_current_job

RUNS_KEY = "rqtest:runs"
LINGERED_KEY = "rqtest:lingered"
QUEUE = "rqtest"
GROUP = "tandemkv"


def record(n: int) -> int:
    """Note this run (job id, wall time, pid, a token of its own) and return 2 * n."""
    job = get_current_job()
    assert job is not None
    job.connection.sadd(RUNS_KEY, f"{job.id} {time.time():.6f} {os.getpid()} {uuid.uuid4().hex}")
    return 2 * n


def linger(n: int) -> int:
    """record(n), but the first run of all then sleeps a minute (a worker killed meanwhile
    leaves the job started and abandoned)."""
    result = record(n)
    job = get_current_job()
    assert job is not None
    if job.connection.set(LINGERED_KEY, job.id, nx=True):
        time.sleep(60)
    return result


def fail(n: int) -> int:
    raise ValueError(f"job {n} fails on purpose")


class PromptWorker(SimpleWorker):
    """A SimpleWorker that leaves its pub/sub channel without waiting a minute.

    rq's own unsubscribe sends UNSUBSCRIBE and then stops redis-py's pub/sub thread. When
    the thread reads the UNSUBSCRIBE reply before the stop flag is set, it goes back to
    waiting up to 60 s (rq's sleep_time) for a subscription, and the stop waits with it:
    a client-side race, seen against Redis as well as tandemkv. Clearing the flag first
    (stop with no wait) lets the reply end the thread.
    """

    def unsubscribe(self) -> None:
        thread, pubsub = self.pubsub_thread, self.pubsub
        if thread is None or pubsub is None:
            return
        thread.stop(timeout=0)
        # After a failover the pub/sub connection may be gone; the thread ends either way.
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            pubsub.unsubscribe()
        thread.join(timeout=5)
        pubsub.close()


class FollowingConnection(SentinelManagedConnection):
    """A Sentinel-managed connection whose retries look the primary up again.

    redis-py (8.2, issue 3874) retries a failed command by reconnecting to the address
    the connection had, so after a failover every retry goes to the dead primary; only
    a connection taken afresh from the pool asks the sentinels.
    """

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if self._sock is None and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(check_health, retry_socket_connect)


def retrying() -> Retry:
    """Retries that outlast a failover (an election takes about half a second)."""
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), 60)


def sentinel_primary(addresses: str) -> redis.Redis:
    """A client that follows the group's primary through the nodes' SENTINEL commands."""
    nodes = []
    for address in addresses.split(","):
        host, _sep, port = address.rpartition(":")
        nodes.append((host, int(port)))
    sentinel = Sentinel(nodes, socket_timeout=1.0)
    primary: redis.Redis = sentinel.master_for(
        GROUP, socket_timeout=5.0, retry=retrying(), connection_class=FollowingConnection
    )
    return primary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--sentinel", help="HOST:PORT,HOST:PORT,... of the group's nodes")
    parser.add_argument("--burst", action="store_true", help="quit once the queue is empty")
    parser.add_argument("--worker-ttl", type=int, default=20, help="BLMOVE waits this - 15 s")
    options = parser.parse_args(argv)
    if options.port is not None:
        connection = redis.Redis(port=options.port, socket_timeout=15)
    else:
        connection = sentinel_primary(options.sentinel)
    worker = PromptWorker([QUEUE], connection=connection, worker_ttl=options.worker_ttl)
    worker.work(burst=options.burst, logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
