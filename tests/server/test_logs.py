"""The server log's formats and levels (server/logs.py), and CONFIG REWRITE's line editing
of the TOML file (server/reconfigure.py)."""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandemkv.commands.settings import LOG_LEVELS
from tandemkv.server import logs
from tandemkv.server.reconfigure import _set_key, _write_atomically


@pytest.fixture
def restore_logger() -> Iterator[None]:
    root = logging.getLogger(logs.ROOT)
    handlers, level, propagate = list(root.handlers), root.level, root.propagate
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = propagate


def test_every_level_name_config_accepts_is_known_to_the_log() -> None:
    assert set(LOG_LEVELS) == set(logs.LEVELS)


def test_json_lines_carry_time_level_logger_message_and_fields(
    tmp_path: Path, restore_logger: None
) -> None:
    path = tmp_path / "server.log"
    logs.configure_logging("notice", "json", str(path))
    log = logging.getLogger("tandemkv.node")
    log.info("became primary in term %d", 7, extra={"fields": {"term": 7, "reason": "x"}})
    log.debug("not shown at notice")
    [line] = path.read_text().splitlines()
    record = json.loads(line)
    assert record["message"] == "became primary in term 7"
    assert (record["level"], record["logger"], record["term"], record["reason"]) == (
        "info",
        "tandemkv.node",
        7,
        "x",
    )
    assert record["time"].endswith("Z") and "T" in record["time"]


def test_text_lines_and_a_level_changed_at_run_time(tmp_path: Path, restore_logger: None) -> None:
    path = tmp_path / "server.log"
    logs.configure_logging("warning", "text", str(path))
    log = logging.getLogger("tandemkv.server")
    log.info("hidden")
    logs.set_level("debug")  # CONFIG SET loglevel debug
    log.debug("now shown")
    [line] = path.read_text().splitlines()
    stamp, level, rest = line.split(" ", 2)
    assert stamp.endswith("Z") and level == "DEBUG" and rest == "tandemkv.server: now shown"


def test_unknown_level_or_format_is_refused(restore_logger: None) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        logs.configure_logging("loud")
    with pytest.raises(ValueError, match="unknown log format"):
        logs.configure_logging("notice", "xml")


def test_rewrite_replaces_a_key_under_any_spelling_and_keeps_the_rest() -> None:
    text = '# top\nappendfsync = "no"  # old\nmaxclients = 5\n\n[extra]\nx = 1\n'
    edited = _set_key(text, "fsync", '"always"')
    assert edited.splitlines()[1] == 'fsync = "always"'
    added = _set_key(edited, "save", '"60 5"')
    parsed = tomllib.loads(added)
    assert parsed["save"] == "60 5" and parsed["maxclients"] == 5 and parsed["extra"] == {"x": 1}
    assert added.startswith("# top\n")


def test_atomic_write_keeps_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("a = 1\n")
    path.chmod(0o640)
    _write_atomically(str(path), "a = 2\n")
    assert path.read_text() == "a = 2\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["node.toml"]
