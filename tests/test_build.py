"""The build that runs is the one it claims to be: compiled (mypyc) or pure Python.

CI sets TANDEMKV_EXPECT_BUILD=compiled or pure for each of its runs, so a compiled run
that silently fell back to pure Python (a stale or failed build) fails here.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tandemkv
import tandemkv.build
from helpers.servers import tandemkv_command, tandemkv_env
from tandemkv.build import (
    BUILD,
    COMPILED_MODULES,
    MANIFEST,
    PURE_ENV,
    decide,
    loaded_compiled_modules,
    source_digest,
)

EXPECT_ENV = "TANDEMKV_EXPECT_BUILD"


def test_the_build_is_the_one_ci_expects() -> None:
    expected = os.environ.get(EXPECT_ENV)
    if expected is None:
        pytest.skip(f"{EXPECT_ENV} is not set (CI sets it for each build it tests)")
    assert ("compiled" if BUILD.compiled else "pure") == expected, BUILD.describe()


def test_a_compiled_build_loads_every_listed_module_compiled_and_a_pure_one_none() -> None:
    for name in COMPILED_MODULES:
        importlib.import_module(name)
    loaded = set(loaded_compiled_modules())
    if BUILD.compiled:
        assert set(COMPILED_MODULES) == set(BUILD.modules)
        assert loaded >= set(COMPILED_MODULES), sorted(set(COMPILED_MODULES) - loaded)
    else:
        assert not loaded, f"a pure build loaded compiled modules: {sorted(loaded)}"


def test_version_names_the_build() -> None:
    done = subprocess.run(
        [*tandemkv_command(), "--version"], env=tandemkv_env(), capture_output=True, text=True
    )
    assert done.stdout.strip() == f"tandemkv {tandemkv.__version__}, {BUILD.describe()}"


def test_tandemkv_pure_loads_everything_from_source() -> None:
    script = (
        "import tandemkv.commands.engine, tandemkv.server.connection\n"
        "from tandemkv.build import BUILD, loaded_compiled_modules\n"
        "print(BUILD.describe(), len(loaded_compiled_modules()))\n"
    )
    env = tandemkv_env({PURE_ENV: "1"})
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    installed_compiled = (Path(tandemkv.build.__file__).parent / MANIFEST).exists()
    why = f" ({PURE_ENV} is set)" if installed_compiled else ""
    assert done.stdout.strip() == f"pure Python{why} 0"


# ------------------------------------------------------------------ the decision


def package_copy(tmp_path: Path, manifest: bool) -> Path:
    """A package directory with two modules and, if asked, the manifest of a build of them."""
    package = tmp_path / "tandemkv"
    (package / "protocol").mkdir(parents=True)
    (package / "protocol" / "encoder.py").write_text("X = 1\n")
    (package / "storage").mkdir()
    (package / "storage" / "wire.py").write_text("Y = 2\n")
    if manifest:
        names = ["tandemkv.protocol.encoder", "tandemkv.storage.wire"]
        digests = {name: source_digest(name, package) for name in names}
        (package / MANIFEST).write_text(json.dumps({"sources": digests}))
    return package


def test_no_manifest_is_a_pure_build(tmp_path: Path) -> None:
    assert decide(package_copy(tmp_path, False), pure_forced=False).describe() == "pure Python"


def test_a_manifest_matching_the_sources_is_a_compiled_build(tmp_path: Path) -> None:
    package = package_copy(tmp_path, True)
    info = decide(package, pure_forced=False)
    assert info.compiled and info.modules == ("tandemkv.protocol.encoder", "tandemkv.storage.wire")
    assert info.describe() == "compiled, 2 modules (mypyc)"
    assert decide(package, pure_forced=True).describe() == f"pure Python ({PURE_ENV} is set)"


@pytest.mark.parametrize("damage", ["edit", "garbage"])
def test_an_edited_source_or_a_bad_manifest_runs_pure_and_says_so(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    package = package_copy(tmp_path, True)
    if damage == "edit":
        (package / "storage" / "wire.py").write_text("Y = 3  # edited after the build\n")
    else:
        (package / MANIFEST).write_text("{not json")
    info = decide(package, pure_forced=False)
    assert not info.compiled
    assert info.describe() == "pure Python (the compiled build is older than its sources)"
    line = capsys.readouterr().err.strip()
    assert line.startswith("tandemkv: 1 source(s) changed since the compiled build (")
    assert ("tandemkv.storage.wire" in line) == (damage == "edit")
    assert line.endswith("running the pure-Python build. Rebuild with: python3 -m pip install -e .")
