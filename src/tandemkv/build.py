"""Which build is running: pure Python, or with the hot modules compiled by mypyc.

`setup.py` compiles COMPILED_MODULES when it can (TANDEMKV_COMPILE=auto, the default) and
records, next to them, a manifest of the sources it compiled. The compiled extension of a
module sits beside its `.py` and Python prefers it. Two things make that unsafe to trust
blindly, and this module handles both when `tandemkv` is imported:

- A source edited after the build: its old compiled code would run, silently. The sources
  are checked against the manifest (a hash each, about a millisecond in all); on a mismatch
  every tandemkv module loads from source, with one line on stderr saying so.
- Profiling, or checking a bug against the reference build: TANDEMKV_PURE=1 loads every
  module from source too.

Mixing is never done: compiled modules call each other directly in C, so one module loaded
from source beside compiled ones would not be what runs.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# The modules mypyc compiles: the request path (codec, engine, handlers of every family,
# keyspace and its value classes, log format, the connection) and the write path under it
# (the node's Ready loop and log seam, the replication core, the syncer). Left out:
# exception classes whose class-level defaults mypyc drops (commands/errors.py) or that
# derive from built-in errors other than Exception (replication/errors.py); classes
# subclassed outside the set (commands/detached.py); dataclasses whose annotations are
# read at run time (replication/messages.py); a str subclass (protocol/types.py); and
# modules that only start things, parse options or wait on I/O.
COMPILED_MODULES: tuple[str, ...] = (
    "tandemkv.commands.args",
    "tandemkv.commands.atomic_work",
    "tandemkv.commands.blocking",
    "tandemkv.commands.broker",
    "tandemkv.commands.cluster_view",
    "tandemkv.commands.collection_scan",
    "tandemkv.commands.commandstats",
    "tandemkv.commands.connection",
    "tandemkv.commands.engine",
    "tandemkv.commands.expiry",
    "tandemkv.commands.glob",
    "tandemkv.commands.hashes",
    "tandemkv.commands.introspection",
    "tandemkv.commands.keys",
    "tandemkv.commands.lists",
    "tandemkv.commands.output_limits",
    "tandemkv.commands.pubsub",
    "tandemkv.commands.replication",
    "tandemkv.commands.scan",
    "tandemkv.commands.sentinel",
    "tandemkv.commands.server",
    "tandemkv.commands.session",
    "tandemkv.commands.sets",
    "tandemkv.commands.settings",
    "tandemkv.commands.streams",
    "tandemkv.commands.strings",
    "tandemkv.commands.table",
    "tandemkv.commands.transactions",
    "tandemkv.commands.typed",
    "tandemkv.commands.waiters",
    "tandemkv.commands.zsets",
    "tandemkv.node.applying",
    "tandemkv.node.disk_storage",
    "tandemkv.node.entries",
    "tandemkv.node.node",
    "tandemkv.node.replicated_log",
    "tandemkv.protocol.client_codec",
    "tandemkv.protocol.decoder",
    "tandemkv.protocol.encoder",
    "tandemkv.protocol.errors",
    "tandemkv.protocol.factory",
    "tandemkv.protocol.hiredis_decoder",
    "tandemkv.protocol.inline",
    "tandemkv.protocol.peer_frames",
    "tandemkv.protocol.python_decoder",
    "tandemkv.replication.codec",
    "tandemkv.replication.conf",
    "tandemkv.replication.config",
    "tandemkv.replication.core",
    "tandemkv.replication.election",
    "tandemkv.replication.log",
    "tandemkv.replication.log_replication",
    "tandemkv.replication.membership",
    "tandemkv.replication.progress",
    "tandemkv.replication.reads",
    "tandemkv.replication.snapshots",
    "tandemkv.replication.storage",
    "tandemkv.replication.transfer",
    "tandemkv.server.connection",
    "tandemkv.server.sliced",
    "tandemkv.storage.codec",
    "tandemkv.storage.keyspace",
    "tandemkv.storage.log",
    "tandemkv.storage.mutation",
    "tandemkv.storage.record",
    "tandemkv.storage.segment",
    "tandemkv.storage.store",
    "tandemkv.storage.stream",
    "tandemkv.storage.syncer",
    "tandemkv.storage.values",
    "tandemkv.storage.wire",
    "tandemkv.storage.zset",
)

MANIFEST = "_compiled.json"  # beside this file, written by setup.py for a compiled build
PURE_ENV = "TANDEMKV_PURE"
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BuildInfo:
    compiled: bool
    modules: tuple[str, ...]  # the modules compiled (loaded from extensions) in this build
    why_pure: str = ""  # why a compiled build present is not used

    def describe(self) -> str:
        if self.compiled:
            return f"compiled, {len(self.modules)} modules (mypyc)"
        return f"pure Python ({self.why_pure})" if self.why_pure else "pure Python"


def source_digest(module: str, package_dir: Path = _PACKAGE_DIR) -> str:
    """The hash of a compiled module's source, as the manifest records it."""
    relative = module.split(".")[1:]
    source = package_dir.joinpath(*relative).with_suffix(".py")
    return hashlib.sha256(source.read_bytes()).hexdigest()


def decide(package_dir: Path, pure_forced: bool) -> BuildInfo:
    """The build to run from `package_dir`, with a line on stderr if it is stale."""
    manifest_path = package_dir / MANIFEST
    if not manifest_path.exists():
        return BuildInfo(False, ())
    if pure_forced:
        return BuildInfo(False, (), f"{PURE_ENV} is set")
    try:
        sources: dict[str, str] = json.loads(manifest_path.read_text())["sources"]
        stale = [
            name for name, digest in sources.items() if source_digest(name, package_dir) != digest
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        sources, stale = {}, [f"unreadable {MANIFEST} ({error})"]
    if stale:
        shown = ", ".join(stale[:3]) + (", ..." if len(stale) > 3 else "")
        print(
            f"tandemkv: {len(stale)} source(s) changed since the compiled build ({shown}); "
            "running the pure-Python build. Rebuild with: python3 -m pip install -e .",
            file=sys.stderr,
        )
        return BuildInfo(False, (), "the compiled build is older than its sources")
    return BuildInfo(True, tuple(sorted(sources)))


class _SourceOnly:
    """A meta path finder that loads tandemkv's modules from their .py files only."""

    @staticmethod
    def find_spec(
        name: str, path: list[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not name.startswith("tandemkv.") or not path:
            return None
        loaders = [(importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)]
        for entry in path:
            spec = importlib.machinery.FileFinder(entry, *loaders).find_spec(name)
            if spec is not None:
                return spec
        return None


def _install() -> BuildInfo:
    info = decide(_PACKAGE_DIR, os.environ.get(PURE_ENV, "") not in ("", "0"))
    if not info.compiled:
        sys.meta_path.insert(0, _SourceOnly())  # type: ignore[arg-type]
    return info


BUILD = _install()


def loaded_compiled_modules() -> tuple[str, ...]:
    """The tandemkv modules imported so far that are compiled extensions."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return tuple(
        sorted(
            name
            for name, module in list(sys.modules.items())
            if name.startswith("tandemkv.")
            and str(getattr(module, "__file__", "") or "").endswith(suffixes)
        )
    )
