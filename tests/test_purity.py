"""The pure cores stay pure: no I/O, clock, threads or global randomness, no shell imports.

A handler that called time.time() would make replay and replication diverge; this test is
what stops such an import from landing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
# Every module under a package is imported, so one nobody imports yet is covered too.
PURE_MODULES = ["tandemkv." + entry.removesuffix(".py").replace("/", ".") for entry in PURE]
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
    "tandemkv.runtime",
    "tandemkv.cli",
    "tandemkv.client",
    "tandemkv.embedded",
    "tandemkv.testing",
)
PROBE = Path(__file__).resolve().parent / "helpers" / "import_probe.py"


def probe_imports(modules: list[str], path: Path = SRC.parent) -> dict[str, Any]:
    """What importing everything under ``modules`` loads, in a fresh interpreter with
    the interpreted modules (TANDEMKV_PURE=1: compiled ones hide their imports)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.read_text(), ",".join(SHELL_MODULES), *modules],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(path), "TANDEMKV_PURE": "1"},
        cwd=path,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_packages_load_no_shell_module_transitively(module: str) -> None:
    found = probe_imports([module])
    assert found["walked"][0] == module
    chains = [" <- ".join(chain) for chain in found["forbidden"].values()]
    assert not chains, f"importing {module} reaches shell modules:\n" + "\n".join(chains)


def test_pure_packages_are_walked_whole() -> None:
    walked = probe_imports(["tandemkv.commands"])["walked"]
    files = sorted((SRC / "commands").rglob("*.py"))
    names = [".".join(f.relative_to(SRC.parent).with_suffix("").parts) for f in files]
    assert sorted(walked) == sorted(n.removesuffix(".__init__") for n in names)


def test_the_probe_names_the_chain_to_a_shell_module_even_one_already_loaded(
    tmp_path: Path,
) -> None:
    (tmp_path / "sitecustomize.py").write_text("import threading\n")  # as certifi's .pth does
    package = tmp_path / "fakepure"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from fakepure import b\n")
    (package / "b.py").write_text("import threading\n")
    (package / "unused.py").write_text("import socket\n")  # nobody imports this one
    found = probe_imports(["fakepure"], tmp_path)
    assert "threading" in found["preloaded"]
    assert found["forbidden"]["threading"] == ["threading", "fakepure.b", "fakepure.a"]
    assert found["forbidden"]["socket"] == ["socket", "fakepure.unused"]
