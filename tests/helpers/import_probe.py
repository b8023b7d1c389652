"""Run in a fresh interpreter (``python3 -c "$(cat import_probe.py)" MODULE...``): import
every module under each MODULE and print, as JSON, what was walked, which forbidden
modules that import reached (each with the chain of importers that led to it), and which
forbidden modules were loaded before the walk began.

A forbidden module counts when the walk newly loaded it, and also when an import
statement executed during the walk named it although it was loaded already: site hooks
(certifi's .pth, setuptools' distutils hack) load ``threading`` before any test code
runs, so comparing loaded modules alone against that baseline would miss it.

Argument 1 is the comma-separated forbidden names (a name covers its submodules); the
rest are the modules to walk.
"""

from __future__ import annotations

import builtins
import importlib
import json
import pkgutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType

# The first module whose import statement named each module, during the walk.
asked_by: dict[str, str] = {}


def named_modules(
    name: str, globals_: Mapping[str, object] | None, fromlist: Sequence[str] | None, level: int
) -> Iterator[str]:
    """Every dotted name an import statement may load: each prefix of its module, and
    each ``from`` name as a possible submodule."""
    if level:
        package = str((globals_ or {}).get("__package__") or "")
        base = package.rsplit(".", level - 1)[0]
        name = f"{base}.{name}" if name else base
    parts = name.split(".")
    for n in range(1, len(parts) + 1):
        yield ".".join(parts[:n])
    for item in fromlist or ():
        yield f"{name}.{item}"


def recording_import(
    name: str,
    globals: Mapping[str, object] | None = None,  # __import__'s own parameter names
    locals: Mapping[str, object] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> ModuleType:
    importer = str((globals or {}).get("__name__", "?"))
    if importer == "pkgutil":  # the walk importing a package: no module of the tree asked
        return real_import(name, globals, locals, fromlist, level)
    for module in named_modules(name, globals, fromlist, level):
        asked_by.setdefault(module, importer)
    return real_import(name, globals, locals, fromlist, level)


def walk(root: str) -> list[str]:
    """Import ``root`` and, if it is a package, every module under it."""
    walked = [importlib.import_module(root).__name__]
    package = sys.modules[root]
    if hasattr(package, "__path__"):
        for info in pkgutil.walk_packages(package.__path__, root + "."):
            walked.append(importlib.import_module(info.name).__name__)
    return walked


def is_forbidden(module: str, forbidden: Sequence[str]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def chain(module: str) -> list[str]:
    """``module`` and who asked for it, back to a module the walk itself imported."""
    links = [module]
    while (importer := asked_by.get(links[-1])) is not None and importer not in links:
        links.append(importer)
    return links


def main(forbidden: Sequence[str], roots: Sequence[str], baseline: set[str]) -> None:
    walked = [module for root in roots for module in walk(root)]
    reached = (set(sys.modules) - baseline) | (set(asked_by) & set(sys.modules))
    found = {m: chain(m) for m in sorted(reached) if is_forbidden(m, forbidden)}
    preloaded = sorted(m for m in baseline if is_forbidden(m, forbidden))
    print(json.dumps({"walked": walked, "forbidden": found, "preloaded": preloaded}))


real_import = builtins.__import__
_baseline = set(sys.modules)  # the interpreter, its site hooks, and this probe
builtins.__import__ = recording_import
main(sys.argv[1].split(","), sys.argv[2:], _baseline)
