"""The failover suite's rounds: write, SIGKILL the primary, time the next acknowledged write on
a new primary, restart the killed node, wait for a healthy group; at the end, read back."""

from __future__ import annotations

import secrets
import signal
import time
from dataclasses import asdict, dataclass, field

import redis

from bench import persistence
from bench.failover_writer import Writer, first_ack_after, missing_writes
from bench.groups import (
    Group,
    Member,
    client,
    current_primary,
    healthy_primary,
    redis_group,
    start_member,
    stop_group,
    tandemkv_group,
    wait_until,
)
from bench.servers import SYSTEMS, StartError, SystemSpec
from bench.suites.base import Context, Section, Suite
from bench.suites.failover import QUICK_SETTLE, SENTINEL_SETTINGS, SETTLE, TANDEMKV_ARGS
from bench.suites.failover_report import KillRound, Outcome, render
from bench.suites.replicated_run import record_group_commands, tandemkv_server_args

SETTING = persistence.with_fsync()[0]  # Redis: AOF, appendfsync everysec, like tandemkv's
FAILOVER_TIMEOUT = 30.0
HEALTHY_TIMEOUT = 90.0


class RoundError(Exception):
    """A round could not finish; the message says why, for the report."""


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    family: str


SETUPS = (
    Setup("tkv", "tandemkv 3 nodes, --ack majority", "tandemkv"),
    Setup("redis-sentinel", "Redis + 2 replicas + 3 Sentinels", "redis"),
)


@dataclass
class Subject:
    """One system under the writer: its group, its writer and what each kill showed."""

    setup: Setup
    group: Group
    writer: Writer
    rounds: list[KillRound] = field(default_factory=list)
    error: str | None = None


def run_plan(ctx: Context, suite: Suite) -> Section:
    subjects: dict[str, Subject] = {}
    outcomes: list[Outcome] = []
    failed: dict[str, str] = {}
    try:
        for setup in chosen_setups(ctx, failed):
            subject = start_subject(ctx, setup, failed)
            if subject is not None:
                subjects[setup.key] = subject
        for kill in range(ctx.options.kills):
            keys = list(subjects)
            shift = kill % len(keys) if keys else 0
            for key in keys[shift:] + keys[:shift]:
                if subjects[key].error is None:
                    run_round(ctx, subjects[key], kill)
        outcomes = [finish(ctx, subject) for subject in subjects.values()]
    finally:
        for subject in subjects.values():
            try:
                subject.writer.stop()
            finally:
                stop_group(ctx.book, subject.group)
    section = Section(suite.name, suite.title)
    render(ctx, section, outcomes, failed, tandemkv_server_args(ctx))
    section.raw = {
        "outcomes": [asdict(outcome) for outcome in outcomes],
        "failed": failed,
        "tandemkv_args": list(TANDEMKV_ARGS),
        "sentinel": SENTINEL_SETTINGS,
    }
    return section


def chosen_setups(ctx: Context, failed: dict[str, str]) -> list[Setup]:
    families = {SYSTEMS[key].family for key in ctx.options.systems}
    chosen = [setup for setup in SETUPS if setup.family in families]
    redis_server = ctx.tools["redis-server"]
    if any(s.family == "redis" for s in chosen) and not redis_server.usable:
        failed["redis-sentinel"] = redis_server.describe()
        chosen = [s for s in chosen if s.family != "redis"]
    return chosen


def start_subject(ctx: Context, setup: Setup, failed: dict[str, str]) -> Subject | None:
    home = ctx.scratch / "failover" / setup.key
    try:
        if setup.family == "redis":
            binary = ctx.tools["redis-server"].path
            assert binary is not None
            spec = SystemSpec(setup.key, setup.label, "redis")
            group = redis_group(ctx.book, spec, home, binary, SETTING, SENTINEL_SETTINGS)
        else:
            spec = SystemSpec(setup.key, setup.label, "tandemkv", tandemkv_server_args(ctx))
            group = tandemkv_group(ctx.book, spec, home, TANDEMKV_ARGS)
    except StartError as error:
        failed[setup.key] = str(error)
        ctx.log(f"[failover] skipping {setup.label}: {error}")
        return None
    record_group_commands(ctx, group)
    names = ", ".join(f"{m.name} pid {m.pid} port {m.port}" for m in group.all_processes())
    ctx.log(f"[failover] started {setup.label}: {names}")
    writer = Writer(group.sentinel_addresses(), group.service, "fo", secrets.token_hex(4))
    return Subject(setup, group, writer)


def run_round(ctx: Context, subject: Subject, kill: int) -> None:
    writer = subject.writer
    started, failures = time.monotonic(), writer.failures
    killed: Member | None = None
    timings: dict[str, float | None] = {"failover": None, "rejoin": None}
    new_primary = ""
    writer.start()
    try:
        killed, new_primary = kill_primary(ctx, subject, timings)
        rejoin(ctx, subject, killed, timings)
    except RoundError as error:
        subject.error = str(error)
        ctx.log(f"[failover] {subject.setup.label}: kill {kill + 1}: {error}")
    finally:
        writer.stop()
    subject.rounds.append(
        KillRound(
            kill=kill + 1,
            killed=killed.name if killed is not None else "",
            new_primary=new_primary,
            failover_s=timings["failover"],
            rejoin_s=timings["rejoin"],
            acked=writer.acked_since(started),
            errors=writer.failures - failures,
            note=subject.error or "",
        )
    )
    ctx.log(f"[failover] {subject.setup.label}: {subject.rounds[-1].describe()}")


def kill_primary(
    ctx: Context, subject: Subject, timings: dict[str, float | None]
) -> tuple[Member, str]:
    """SIGKILL the primary of a healthy group once the writer is going; time the failover."""
    group, writer = subject.group, subject.writer
    primary = wait_until(lambda: healthy_primary(group), HEALTHY_TIMEOUT)
    if primary is None or primary.server is None:
        raise RoundError("the group was not healthy before the kill")
    settle = QUICK_SETTLE if ctx.options.quick else SETTLE
    moment = time.monotonic()
    if wait_until(lambda: writer.acked_since(moment) > 0 or None, FAILOVER_TIMEOUT) is None:
        raise RoundError(f"no write acknowledged before the kill: {writer.last_error}")
    time.sleep(settle)
    killed_at = time.monotonic()
    ctx.book.stop(primary.server.proc, signal.SIGKILL)
    ack = wait_until(
        lambda: first_ack_after(writer.acks, killed_at, primary.address), FAILOVER_TIMEOUT
    )
    if ack is None:
        raise RoundError(
            f"no write acknowledged by a new primary within {FAILOVER_TIMEOUT:.0f} s "
            f"(last error: {writer.last_error})"
        )
    timings["failover"] = ack.at - killed_at
    member = group.member_at(ack.via)
    return primary, member.name if member is not None else ack.via


def rejoin(
    ctx: Context, subject: Subject, killed: Member, timings: dict[str, float | None]
) -> None:
    """Restart the killed member with its command line; time until the group is whole."""
    group = subject.group
    restarted_at = time.monotonic()
    try:
        start_member(ctx.book, killed, group.spec)
    except StartError as error:
        raise RoundError(f"the killed member did not restart: {error}") from None
    ctx.log(f"[failover] restarted {killed.name} pid {killed.pid} port {killed.port}")
    if wait_until(lambda: healthy_primary(group), HEALTHY_TIMEOUT) is None:
        raise RoundError(f"the group was not healthy {HEALTHY_TIMEOUT:.0f} s after the restart")
    timings["rejoin"] = time.monotonic() - restarted_at


def finish(ctx: Context, subject: Subject) -> Outcome:
    """Read every acknowledged write back from the final primary."""
    group, writer = subject.group, subject.writer
    indices = [ack.index for ack in writer.acks]
    primary = wait_until(lambda: healthy_primary(group) or current_primary(group), 30.0)
    outcome = Outcome(subject.setup.key, subject.setup.label, subject.rounds, len(indices))
    if primary is None:
        outcome.error = "no primary to read the acknowledged writes back from"
        return outcome
    try:
        with client(primary.port, timeout=10.0) as connection:
            missing = missing_writes(connection, writer.prefix, writer.token, indices)
    except (redis.RedisError, OSError) as error:
        outcome.error = f"reading the acknowledged writes back failed: {error}"
        return outcome
    outcome.lost = len(missing)
    outcome.lost_examples = missing[:10]
    outcome.error = subject.error
    ctx.log(
        f"[failover] {subject.setup.label}: {len(indices)} writes acknowledged, "
        f"{len(missing)} missing on the final primary {primary.name}"
    )
    return outcome
