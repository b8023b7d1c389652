"""Durability settings applied to both systems, so each comparison is like for like."""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import dataclass

from bench.paths import REPO_ROOT
from bench.servers import tandemkv_env

STORAGE_REASON = "needs the storage issue: this tandemkv has no --fsync setting"
_REDIS_NO_AOF = ("--save", "", "--appendonly", "no")


@dataclass(frozen=True)
class Persistence:
    """One setting for both systems; ``tandemkv_args`` None: tandemkv cannot run it yet."""

    key: str
    title: str
    note: str
    redis_args: tuple[str, ...]
    tandemkv_args: tuple[str, ...] | None


def _redis_aof(fsync: str) -> tuple[str, ...]:
    return ("--save", "", "--appendonly", "yes", "--appendfsync", fsync)


@functools.cache
def server_help() -> str:
    """``tandemkv server --help``: which durability flags this tandemkv has."""
    done = subprocess.run(
        [sys.executable, "-m", "tandemkv", "server", "--help"],
        env=tandemkv_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout


def off() -> Persistence:
    flags = server_help()
    if "--appendonly" in flags:
        return Persistence(
            "off",
            "Persistence off",
            "Redis: no RDB snapshots, no AOF. tandemkv: `--appendonly no` (no log; it takes "
            "snapshots only when asked).",
            _REDIS_NO_AOF,
            ("--appendonly", "no"),
        )
    if "--fsync" in flags:
        return Persistence(
            "off",
            "Persistence off",
            "Redis: no RDB snapshots, no AOF. This tandemkv cannot turn its log off, so it runs "
            "with `--fsync no`: every write still goes to the log, never fsynced.",
            _REDIS_NO_AOF,
            ("--fsync", "no"),
        )
    return Persistence(
        "off", "Persistence off", "Neither system writes to disk.", _REDIS_NO_AOF, ()
    )


def with_fsync() -> tuple[Persistence, ...]:
    flags = server_help()
    log_on = ("--appendonly", "yes") if "--appendonly" in flags else ()
    supported = "--fsync" in flags
    return (
        Persistence(
            "everysec",
            "Log fsynced about once a second, on both",
            "Redis: AOF with `appendfsync everysec`. tandemkv: `--fsync everysec`.",
            _redis_aof("everysec"),
            (*log_on, "--fsync", "everysec") if supported else None,
        ),
        Persistence(
            "always",
            "Log fsynced before every reply, on both",
            "Redis: AOF with `appendfsync always`. tandemkv: `--fsync always` (group commit).",
            _redis_aof("always"),
            (*log_on, "--fsync", "always") if supported else None,
        ),
    )
