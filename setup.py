"""Build: the pure-Python package, plus the hot modules compiled with mypyc when possible.

TANDEMKV_COMPILE=auto (the default) compiles src/tandemkv/build.py's COMPILED_MODULES if
mypyc and a C compiler work, and otherwise builds pure Python, saying so in one line;
=1 fails instead of falling back; =0 builds pure Python. The same .py files ship either
way, and tandemkv loads them instead of a compiled build whose sources changed since.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "src" / "tandemkv"
MANIFEST = "_compiled.json"
MODE = os.environ.get("TANDEMKV_COMPILE", "auto").strip().lower() or "auto"


def say(line: str) -> None:
    print(f"tandemkv build: {line}", file=sys.stderr, flush=True)


def compiled_modules() -> list[str]:
    """COMPILED_MODULES as build.py lists it (read, not imported: importing runs it)."""
    tree = ast.parse((PACKAGE / "build.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMPILED_MODULES":
            assert node.value is not None
            return list(ast.literal_eval(node.value))
    raise RuntimeError("src/tandemkv/build.py lists no COMPILED_MODULES")


def source(module: str) -> Path:
    return PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")


def forget_compiled() -> None:
    """A pure build in place removes the manifest, so stale extensions are never loaded."""
    (PACKAGE / MANIFEST).unlink(missing_ok=True)


# The compiled modules' sources as mypyc read them, for the manifest.
SOURCE_HASHES: dict[str, str] = {}


def mypyc_extensions(modules: list[str]) -> list[Any]:
    if MODE == "0":
        say("pure Python (TANDEMKV_COMPILE=0)")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        return fall_back(f"mypyc is not installed ({error})")
    started = time.monotonic()
    # Hashed before mypyc reads them: a source edited while the C compiles must not be
    # recorded as compiled (build.py would then trust extensions built from older code).
    SOURCE_HASHES.update({m: hashlib.sha256(source(m).read_bytes()).hexdigest() for m in modules})
    try:
        extensions = mypycify(
            [str(source(module).relative_to(ROOT)) for module in modules], opt_level="3"
        )
    except (Exception, SystemExit) as error:  # mypyc exits on type errors
        return fall_back(f"mypyc could not translate the modules ({error!r})")
    say(f"mypyc translated {len(modules)} modules in {time.monotonic() - started:.0f} s")
    return list(extensions)


def fall_back(why: str) -> list[Any]:
    if MODE == "1":
        raise SystemExit(f"tandemkv build: TANDEMKV_COMPILE=1 but {why}")
    say(f"pure Python: {why}")
    return []


class BuildExt(build_ext):  # type: ignore[misc]
    """Compiles the extensions; on failure (no C compiler...) falls back under auto."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1  # one C file per module: compile them at once

    def run(self) -> None:
        target = PACKAGE if self.inplace else Path(self.build_lib) / "tandemkv"
        if not self.extensions:
            forget_compiled()
            return
        started = time.monotonic()
        try:
            super().run()
        except Exception as error:  # CompileError, LinkError, a missing compiler...
            forget_compiled()
            if MODE == "1":
                raise
            say(f"pure Python: compiling the C failed ({error})")
            self.extensions = []
            return
        modules = compiled_modules()
        manifest = {"sources": {m: SOURCE_HASHES[m] for m in modules}}
        target.mkdir(parents=True, exist_ok=True)
        (target / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        say(f"compiled {len(modules)} modules in {time.monotonic() - started:.0f} s")


setup(
    ext_modules=mypyc_extensions(compiled_modules()),
    cmdclass={"build_ext": BuildExt},
)
