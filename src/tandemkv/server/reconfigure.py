"""CONFIG SET's effects beyond a new value, and CONFIG REWRITE of the TOML config file.

The engine parses and validates; here the running server carries a change out (the log's
fsync policy, turning the log on or off, the log level) and remembers which settings
changed, so that CONFIG REWRITE writes those into the file the server was started with
and leaves every other line of it as it was.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from typing import TYPE_CHECKING

from tandemkv.commands.errors import CommandError
from tandemkv.commands.output_limits import OutputLimits
from tandemkv.commands.settings import save_points
from tandemkv.config import Config
from tandemkv.node import persistence
from tandemkv.protocol.types import OK
from tandemkv.server.logs import set_level
from tandemkv.storage.syncer import FsyncPolicy

if TYPE_CHECKING:
    from tandemkv.server.app import Server

NO_CONFIG_FILE = "The server is running without a config file"
# A runtime setting's attribute -> the config file's key for it, where they differ.
_FILE_KEYS = {"appendfsync": "fsync", "loglevel": "log-level"}
# Other spellings the file may already use for a key (config.py's aliases).
_FILE_SPELLINGS = {"fsync": ("appendfsync",), "log-level": ("loglevel",)}
_CONFIG_FIELDS = set(Config.__dataclass_fields__)


def apply_settings(server: Server, changes: dict[str, object]) -> str:
    """Carry out `changes` (see Host.apply_settings); "" when done, else the refusal."""
    node = server.node
    if "appendonly" in changes and bool(changes["appendonly"]) != server.settings.appendonly:
        if node.sole_voter:
            # Writes before CONFIG SET in this pipeline or MULTI belong in the snapshot
            # the switch takes (as with SAVE): commit them first.
            server.log_pending_mutations()
        refusal = persistence.set_appendonly(node, bool(changes["appendonly"]))
        if refusal:
            return refusal
    policy = changes.get("appendfsync")
    if isinstance(policy, str) and policy != server.settings.appendfsync:
        persistence.set_fsync_policy(node, FsyncPolicy(policy))
    level = changes.get("loglevel")
    if isinstance(level, str):
        set_level(level)
    save = changes.get("save")
    if isinstance(save, str):
        server.save_points = save_points(save)
    server.changed_settings.update(changes)
    return ""


def rewrite_config(server: Server) -> object:
    """Write the settings CONFIG SET changed into the config file, atomically."""
    path = server.config.config_file
    if not path:
        raise CommandError(NO_CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise CommandError(f"Rewriting config file: {error.strerror or error}") from None
    for attr in sorted(server.changed_settings):
        key = _FILE_KEYS.get(attr, attr.replace("_", "-"))
        if key.replace("-", "_") not in _CONFIG_FIELDS:
            continue  # a setting only CONFIG knows: nothing in the file can hold it
        value = _toml_value(getattr(server.settings, attr))
        text = _set_key(text, key, value)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # a file we could not edit line by line
        raise CommandError(f"Rewriting config file: the result would not parse ({error})") from None
    try:
        _write_atomically(path, text)
    except OSError as error:
        raise CommandError(f"Rewriting config file: {error.strerror or error}") from None
    return OK


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, OutputLimits):
        value = value.show()
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are valid in it


def _set_key(text: str, key: str, value: str) -> str:
    """Replace the top-level `key = ...` line (under any spelling), or add one before the
    first table so the key stays top-level."""
    spellings = (key, key.replace("-", "_"), *_FILE_SPELLINGS.get(key, ()))
    names = "|".join(re.escape(name) for name in spellings)
    line = re.compile(rf"^[ \t]*(?:{names})[ \t]*=.*$", re.MULTILINE)
    lines = text.splitlines()
    table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), len(lines))
    for i in range(table):
        if line.match(lines[i]):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    lines.insert(table, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def _write_atomically(path: str, text: str) -> None:
    """Temp file in the same directory, fsync, rename over, fsync the directory: a crash
    leaves the old file or the new one, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".tandemkv-config-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        mode = os.stat(path).st_mode & 0o777
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
