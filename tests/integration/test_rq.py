"""python-rq, a real Redis application, against one server and against a group that fails over.

The jobs and the worker process live in rq_jobs.py beside this file; the worker imports
it by name, so jobs are enqueued by their dotted path ("rq_jobs.record"). Each run of a
job adds a member of its own to rq_jobs.RUNS_KEY, which tells how often every job ran.

The single-server tests pass against Redis too (TANDEMKV_TEST_TARGET=redis). 2,000 jobs
run under ``-m slow``; the default suite runs fewer (see JOBS).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker
from rq import Retry as RqRetry
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.results import Result

from helpers.cluster import Cluster, Node, wait_for
from helpers.servers import ServerGroup, ServerProcess, current_target, tandemkv_env

from . import rq_jobs

HERE = Path(__file__).resolve().parent
FULL_JOBS = 2000
# The default suite's share. On a quiet 2-core machine a pure-Python server runs rq's ~20
# commands a job at about 150 jobs a second: 2,000 jobs take about 15 s on one server and
# 45 s through a group that fails over (whose writes wait for a majority).
JOBS = 300
CLUSTER_JOBS = 200
WORKER_TIMEOUT = 240.0


# ------------------------------------------------------------------ helpers


def start_worker(log: Path, *args: str) -> subprocess.Popen[bytes]:
    """rq_jobs.py's worker in its own process (and session, so it is killed by pid)."""
    env = tandemkv_env()
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env["PYTHONPATH"]])
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, str(HERE / "rq_jobs.py"), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes a test starts; any still running afterwards are killed by pid."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def run_burst_worker(
    workers: list[subprocess.Popen[bytes]], log: Path, *args: str, timeout: float = WORKER_TIMEOUT
) -> None:
    """Run a worker until its queue is empty; it must exit 0."""
    proc = start_worker(log, *args, "--burst")
    workers.append(proc)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the rq worker ran past {timeout} s:\n{tail(log)}")
    assert code == 0, f"the rq worker exited with {code}:\n{tail(log)}"


def tail(log: Path, chars: int = 6000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def enqueue(queue: Queue, count: int, **options: object) -> list[Job]:
    return [queue.enqueue("rq_jobs.record", n, **options) for n in range(count)]  # type: ignore[arg-type]


def runs_per_job(conn: redis.Redis) -> collections.Counter[str]:
    """How many times each job ran, from the members its runs added to RUNS_KEY."""
    members = conn.smembers(rq_jobs.RUNS_KEY)
    return collections.Counter(m.split(b" ")[0].decode() for m in members)


def run_times(conn: redis.Redis) -> dict[str, list[float]]:
    """When each run of each job started writing (wall time), oldest first."""
    times: dict[str, list[float]] = collections.defaultdict(list)
    for member in conn.smembers(rq_jobs.RUNS_KEY):
        job_id, stamp, *_rest = member.decode().split(" ")
        times[job_id].append(float(stamp))
    return {job_id: sorted(stamps) for job_id, stamps in times.items()}


def check_all_finished(conn: redis.Redis, queue: Queue, jobs: list[Job]) -> None:
    """Every job finished, its result readable; nothing left queued, running or failed."""
    fetched = Job.fetch_many([job.id for job in jobs], connection=conn)
    missing = [job.id for job, found in zip(jobs, fetched, strict=True) if found is None]
    assert not missing, f"{len(missing)} job hashes are gone: {missing[:5]}"
    statuses = collections.Counter(job.get_status(refresh=False) for job in fetched if job)
    assert statuses == {JobStatus.FINISHED: len(jobs)}, statuses
    for job in fetched:
        assert job is not None
        assert job.return_value() == 2 * job.args[0], (job.id, job.args)
    for job in fetched[:: max(1, len(jobs) // 10)]:
        assert job is not None
        result = job.latest_result()
        assert result is not None and result.type == Result.Type.SUCCESSFUL, result
        assert result.return_value == job.return_value()
    assert queue.count == 0
    assert len(StartedJobRegistry(queue=queue)) == 0
    assert len(FailedJobRegistry(queue=queue)) == 0
    assert conn.llen(IntermediateQueue.get_intermediate_queue_key(queue.key)) == 0
    assert len(FinishedJobRegistry(queue=queue)) == len(jobs)


# ------------------------------------------------------------------ one server


def every_job_runs_once(
    server: ServerProcess, workers: list[subprocess.Popen[bytes]], tmp_path: Path, count: int
) -> None:
    conn = server.client()
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    started = time.monotonic()
    jobs = enqueue(queue, count)
    assert queue.count == count
    enqueued = time.monotonic()
    run_burst_worker(workers, tmp_path / "worker.log", "--port", str(server.port))
    worked = time.monotonic()
    runs = runs_per_job(conn)
    assert set(runs) == {job.id for job in jobs}
    assert set(runs.values()) == {1}, [j for j, n in runs.items() if n != 1][:5]
    check_all_finished(conn, queue, jobs)
    print(
        f"{count} jobs: enqueued in {enqueued - started:.1f} s, "
        f"worked in {worked - enqueued:.1f} s, checked in {time.monotonic() - worked:.1f} s"
    )


def test_a_burst_worker_runs_every_job_once(
    server: ServerProcess, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    every_job_runs_once(server, workers, tmp_path, JOBS)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_burst_worker_runs_2000_jobs_once(
    server: ServerProcess, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    every_job_runs_once(server, workers, tmp_path, FULL_JOBS)


def test_failures_retries_and_dependencies(
    server: ServerProcess, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    conn = server.client()
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    first = queue.enqueue("rq_jobs.record", 1)
    second = queue.enqueue("rq_jobs.record", 2, depends_on=first)
    failing = queue.enqueue("rq_jobs.fail", 3, retry=RqRetry(max=2))
    after_failure = queue.enqueue("rq_jobs.record", 4, depends_on=failing)
    canceled = queue.enqueue("rq_jobs.record", 5)
    canceled.cancel()
    assert queue.count == 2, "the dependents wait in their DeferredJobRegistry"
    run_burst_worker(workers, tmp_path / "worker.log", "--port", str(server.port))

    assert first.return_value() == 2
    assert second.return_value() == 4
    assert second.get_status() == JobStatus.FINISHED
    failing.refresh()
    assert failing.get_status(refresh=False) == JobStatus.FAILED
    assert failing.retries_left == 0
    results = list(failing.results())
    assert [r.type for r in results] == [Result.Type.FAILED], "only the last try is kept"
    assert "job 3 fails on purpose" in (results[0].exc_string or "")
    assert failing.id in FailedJobRegistry(queue=queue)
    assert after_failure.get_status() == JobStatus.DEFERRED, "a failed dependency holds it"
    assert canceled.get_status() == JobStatus.CANCELED
    assert set(runs_per_job(conn)) == {first.id, second.id}

    # rq's own way back from failure: requeue from the FailedJobRegistry.
    FailedJobRegistry(queue=queue).requeue(failing.id)
    assert queue.count == 1
    assert failing.get_status() == JobStatus.QUEUED


def test_queues_and_workers_are_listed(
    server: ServerProcess, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    conn = server.client()
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    enqueue(queue, 3)
    assert [q.name for q in Queue.all(connection=conn)] == [rq_jobs.QUEUE]
    assert queue.get_job_ids() == [job.id for job in Queue(rq_jobs.QUEUE, connection=conn).jobs]
    proc = start_worker(tmp_path / "worker.log", "--port", str(server.port))
    workers.append(proc)

    def one_idle_worker() -> bool | None:
        found = Worker.all(connection=conn)
        return True if len(found) == 1 and queue.count == 0 else None

    wait_for(one_idle_worker, 30, tail(tmp_path / "worker.log"))
    [worker] = Worker.all(connection=conn)
    assert worker.queue_names() == [rq_jobs.QUEUE]
    # The worker waits in BLMOVE; a job enqueued now wakes it.
    late = queue.enqueue("rq_jobs.record", 21)
    wait_for(lambda: late.get_status() == JobStatus.FINISHED or None, 30, "the late job")
    assert late.return_value() == 42
    os.kill(proc.pid, signal.SIGTERM)  # rq's warm shutdown
    assert proc.wait(timeout=30) == 0, tail(tmp_path / "worker.log")
    assert Worker.all(connection=conn) == [], "a stopped worker deregisters"


def test_what_a_killed_worker_leaves_is_run_again(
    server: ServerProcess, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """A worker SIGKILLed in the middle of a job, and one killed between LMOVE and
    starting the job, leave work behind; recover_like_rq hands both back to rq."""
    conn = server.client()
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    retry = RqRetry(max=1)
    interrupted = queue.enqueue("rq_jobs.linger", 0, retry=retry)
    waiting = enqueue(queue, 3, retry=retry)
    log = tmp_path / "worker.log"
    worker = start_worker(log, "--port", str(server.port))
    workers.append(worker)
    wait_for(lambda: conn.get(rq_jobs.LINGERED_KEY) or None, 30, tail(log))
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    assert interrupted.get_status() == JobStatus.STARTED
    assert queue.count == 3
    # As a worker killed right after its LMOVE would: the job is in the intermediate list.
    moved = conn.lmove(queue.key, IntermediateQueue.get_intermediate_queue_key(queue.key))
    assert moved == waiting[0].id.encode()

    assert recover_like_rq(conn, queue) == {"abandoned": 1, "stuck": 1, "queued": 3}
    run_burst_worker(workers, log, "--port", str(server.port))
    jobs = [interrupted, *waiting]
    check_all_finished(conn, queue, jobs)
    runs = runs_per_job(conn)
    assert runs == {interrupted.id: 2, **{job.id: 1 for job in waiting}}


@pytest.mark.xfail(
    current_target() == "tandemkv",
    reason="tandemkv has no Lua scripting (EVAL, EVALSHA, SCRIPT LOAD), which rq uses here",
    raises=redis.ResponseError,
    strict=True,
)
def test_what_rq_does_with_lua_scripts(server: ServerProcess) -> None:
    """Queue.empty() is a Lua script; so are unique jobs (enqueue(unique=True)) and, in
    rq 3, the scheduler's lock (a worker started with --with-scheduler)."""
    conn = server.client()
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    enqueue(queue, 3)
    queued = queue.count
    assert queue.empty() == queued
    assert queue.count == 0


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[ServerGroup]:
    group = ServerGroup(tmp_path / "runs")
    yield group
    group.stop_all()


@pytest.mark.tandemkv_only("restarts a tandemkv data directory")
def test_queued_jobs_and_results_survive_a_crash(
    restartable: ServerGroup, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    data = tmp_path / "db"
    server = restartable.start(data)
    jobs = enqueue(Queue(rq_jobs.QUEUE, connection=server.client()), 50)
    server.stop(signal.SIGKILL)

    server = restartable.start(data)
    conn = server.client()
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    assert queue.get_job_ids() == [job.id for job in jobs]
    run_burst_worker(workers, tmp_path / "worker.log", "--port", str(server.port))
    server.stop(signal.SIGKILL)

    server = restartable.start(data)
    conn = server.client()
    check_all_finished(conn, Queue(rq_jobs.QUEUE, connection=conn), jobs)
    assert set(runs_per_job(conn).values()) == {1}


# ------------------------------------------------------------------ a group that fails over


@dataclass
class Failover:
    killed: str
    ran_before: int
    killed_at: float
    new_primary: str
    elected_at: float


def three_nodes(cluster: Cluster) -> list[Node]:
    primary = cluster.start("a", "--role", "primary")
    for name in ("b", "c"):
        cluster.start(name, "--role", "backup", "--primary", primary.address)
    cluster.converged(list(cluster.nodes), timeout=20)

    def both_backups() -> bool | None:
        return len(primary.client().execute_command("ROLE")[2]) == 2 or None

    wait_for(both_backups, 20, cluster.describe())
    return list(cluster.nodes.values())


def kill_primary_when(cluster: Cluster, conn: redis.Redis, ran: int) -> Failover:
    """SIGKILL the primary once `ran` jobs have run, and wait for the group to elect another."""
    wait_for(lambda: conn.scard(rq_jobs.RUNS_KEY) >= ran or None, 120, cluster.describe())
    old = cluster.primary()
    ran_before = int(conn.scard(rq_jobs.RUNS_KEY))
    cluster.kill(old.name)
    killed_at = time.time()
    survivors = [name for name in cluster.nodes if name != old.name]
    new = cluster.primary(timeout=20, among=survivors)
    return Failover(old.name, ran_before, killed_at, new.name, time.time())


def recover_like_rq(conn: redis.Redis, queue: Queue) -> dict[str, int]:
    """Hand back what a worker left behind when its writes failed, as rq would in time.

    A job whose worker lost track of it stays in the StartedJobRegistry until its
    heartbeat lapses (job timeout + 60 s), and one moved to the intermediate queue but
    never started is cleaned up after a minute. Rather than wait, advance those clocks:
    clean the registry as of a day from now (each job is retried, it has retries left),
    and date the intermediate queue's first sightings a day back (the next worker's
    maintenance fails it into a retry).
    """
    started = StartedJobRegistry(queue=queue)
    abandoned = len(started)
    started.cleanup(timestamp=time.time() + 86400)
    intermediate = IntermediateQueue(queue.key, connection=conn)
    stuck = intermediate.get_job_ids()
    for job_id in stuck:
        conn.set(intermediate.get_first_seen_key(job_id), time.time() - 86400)
    return {"abandoned": abandoned, "stuck": len(stuck), "queued": queue.count}


def jobs_run_twice(conn: redis.Redis, failover: Failover) -> dict[str, list[float]]:
    """The jobs that ran more than once; each must have first run around the failover."""
    times = run_times(conn)
    twice = {job_id: stamps for job_id, stamps in times.items() if len(stamps) > 1}
    for job_id, stamps in twice.items():
        first = stamps[0]
        assert failover.killed_at - 5 <= first <= failover.elected_at + 5, (
            f"job {job_id} ran at {stamps}, the primary died at {failover.killed_at} and "
            f"{failover.new_primary} took over at {failover.elected_at}"
        )
    return twice


def wait_until_idle(worker: subprocess.Popen[bytes], queue: Queue, log: Path) -> None:
    """Until nothing is queued or running, twice in a row half a second apart (between
    LMOVE and its registration a job is in neither)."""
    deadline = time.monotonic() + WORKER_TIMEOUT
    quiet = 0
    while quiet < 2:
        assert worker.poll() is None, f"the worker died:\n{tail(log)}"
        assert time.monotonic() < deadline, f"the worker did not finish:\n{tail(log)}"
        busy = queue.count or len(StartedJobRegistry(queue=queue))
        quiet = 0 if busy else quiet + 1
        time.sleep(0.5)


def work_through_a_failover(
    cluster: Cluster, workers: list[subprocess.Popen[bytes]], tmp_path: Path, count: int
) -> None:
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        phases[name] = round(time.monotonic() - mark, 1)
        mark = time.monotonic()

    nodes = three_nodes(cluster)
    addresses = ",".join(node.address for node in nodes)
    conn = rq_jobs.sentinel_primary(addresses)
    queue = Queue(rq_jobs.QUEUE, connection=conn)
    phase("start")
    jobs = enqueue(queue, count, retry=RqRetry(max=2))
    assert queue.count == count, "every enqueue call returned"
    assert cluster.primary().name == "a"
    phase("enqueue")

    log = tmp_path / "worker.log"
    worker = start_worker(log, "--sentinel", addresses)
    workers.append(worker)
    failover = kill_primary_when(cluster, conn, count // 4)
    assert failover.ran_before < count - 50, "the primary died mid-run"
    phase("failover")

    wait_until_idle(worker, queue, log)
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, tail(log)
    phase("work")

    recovered = recover_like_rq(conn, queue)
    run_burst_worker(workers, log, "--sentinel", addresses)
    phase("recover")
    check_all_finished(conn, queue, jobs)
    runs = runs_per_job(conn)
    assert set(runs) == {job.id for job in jobs}, "a job that never ran"
    twice = jobs_run_twice(conn, failover)
    assert len(twice) <= 2, twice
    after = [t for stamps in run_times(conn).values() for t in stamps if t > failover.elected_at]
    assert len(after) >= count - failover.ran_before - 10, "the worker went on with the new primary"
    phase("check")
    print(
        f"{count} jobs through a failover ({failover.killed} killed after "
        f"{failover.ran_before} runs, {failover.new_primary} "
        f"took over in {failover.elected_at - failover.killed_at:.2f} s): left behind "
        f"{recovered}, ran twice {len(twice)}, runs {sum(runs.values())}; seconds {phases}"
    )


@pytest.mark.tandemkv_only("cluster mode is tandemkv's own")
@pytest.mark.timeout(300)
def test_a_worker_follows_a_failover_and_no_job_is_lost(
    cluster: Cluster, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    work_through_a_failover(cluster, workers, tmp_path, CLUSTER_JOBS)


@pytest.mark.slow
@pytest.mark.tandemkv_only("cluster mode is tandemkv's own")
@pytest.mark.timeout(900)
def test_2000_jobs_through_a_failover(
    cluster: Cluster, workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    work_through_a_failover(cluster, workers, tmp_path, FULL_JOBS)
