"""A description of the machine and software a run measured, for the report's header."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.paths import REPO_ROOT, SRC_DIR
from bench.servers import tandemkv_env
from bench.tools import Tool


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def tandemkv_version() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tandemkv", "--version"],
        env=tandemkv_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[-1] if text else "unknown"


def source_fingerprint() -> str:
    """A hash of tandemkv's source files: shows whether the code changed during a run."""
    digest = hashlib.sha256()
    for path in sorted((SRC_DIR / "tandemkv").rglob("*.py")):
        digest.update(str(path.relative_to(SRC_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.strip() or "no commit yet"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe_machine(tools: dict[str, Tool]) -> list[tuple[str, str]]:
    """(label, value) rows: hardware, OS, interpreter and every program version involved."""
    cores = os.cpu_count() or 0
    return [
        ("Date", utc_now()),
        ("CPU", f"{cpu_model()}, {cores} logical cores"),
        ("Memory", memory_total()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("tandemkv", f"{tandemkv_version()}, commit {git_commit()}, source {source_fingerprint()}"),
        ("hiredis / uvloop", f"{package_version('hiredis')} / {package_version('uvloop')}"),
        ("Redis server", tools["redis-server"].describe()),
        ("redis-benchmark", tools["redis-benchmark"].describe()),
        ("etcd", tools["etcd"].describe()),
        ("py-spy / strace", f"{tools['py-spy'].describe()}; {tools['strace'].describe()}"),
        ("matplotlib", package_version("matplotlib")),
        ("Load average at start", load_average()),
    ]
