"""The pure cores stay pure: no I/O, clock, threads or global randomness, no shell imports.

A handler that called time.time() would make replay and replication diverge; this test is
what stops such an import from landing.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tandemkv"
PURE = [
    "protocol",
    "commands",
    "replication",
    "storage/keyspace.py",
    "storage/mutation.py",
    "storage/codec.py",
    "storage/record.py",
    "storage/segment.py",
    "storage/wire.py",
    "storage/errors.py",
]
FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "selectors",
    "threading",
    "time",
    "random",
    "os",
    "subprocess",
    "multiprocessing",
    "signal",
    "datetime",
}
FORBIDDEN_PACKAGES = ("tandemkv.server", "tandemkv.node", "tandemkv.cli", "tandemkv.client")


def _pure_files() -> list[Path]:
    files: list[Path] = []
    for entry in PURE:
        path = SRC / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # The Random class as a type for an injected, seeded generator is fine;
            # the module-level functions (global, unseeded state) are not.
            if node.module == "random" and all(a.name == "Random" for a in node.names):
                continue
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_imports_no_io(path: Path) -> None:
    for module in _imported_modules(path):
        top = module.split(".")[0]
        assert top not in FORBIDDEN_MODULES, f"{path.name} imports {module}"
        assert not module.startswith(FORBIDDEN_PACKAGES), f"{path.name} imports {module}"


def test_purity_check_sees_files() -> None:
    assert len(_pure_files()) >= 10


# Importing a pure package in a fresh interpreter loads no shell module, directly or
# through anything it imports (the check above reads each file's own imports only).
PURE_ENTRY_POINTS = [
    "tandemkv.protocol",
    "tandemkv.protocol.hiredis_decoder",
    "tandemkv.commands.engine",
    "tandemkv.replication",
    "tandemkv.storage.keyspace",
    "tandemkv.storage.mutation",
    "tandemkv.storage.codec",
    "tandemkv.storage.record",
]
SHELL_MODULES = (
    "asyncio",
    "socket",
    "selectors",
    "threading",
    "subprocess",
    "multiprocessing",
    "signal",
    "ssl",
    "uvloop",
    "concurrent",
    "tandemkv.server",
    "tandemkv.node",
    "tandemkv.cli",
    "tandemkv.client",
    "tandemkv.embedded",
    "tandemkv.testing",
)
_PROBE = """
import sys
before = set(sys.modules)
import {module}
print("\\n".join(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("module", PURE_ENTRY_POINTS)
def test_pure_packages_load_no_shell_module_transitively(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(SRC.parent)},
    )
    loaded = result.stdout.split()
    assert module in loaded
    shell = [
        name
        for name in loaded
        if name in SHELL_MODULES or name.startswith(tuple(f"{p}." for p in SHELL_MODULES))
    ]
    assert not shell, f"importing {module} loads {shell}"
