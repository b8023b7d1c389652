"""The server's log: where it goes, how each line looks, and how much of it is kept.

Every operator message goes through `logging` under the "tandemkv" logger. A line is
either text (time, level, logger, message) or, with --log-format json, one JSON object
with those fields plus any structured fields a caller passed with `extra={"fields": ...}`.
The level may change at run time (CONFIG SET loglevel).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO

# Redis's level names (debug, verbose, notice, warning, nothing) and Python's, to the
# level the "tandemkv" logger takes. Python has nothing between DEBUG and INFO, so
# Redis's verbose shows what notice does.
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "verbose": logging.INFO,
    "notice": logging.INFO,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "nothing": logging.CRITICAL + 10,
}
FORMATS = ("text", "json")
ROOT = "tandemkv"


def parse_level(name: str) -> int:
    """The logging level of a Redis or Python level name (ValueError if neither)."""
    level = LEVELS.get(name.lower())
    if level is None:
        raise ValueError(f"must be one of {', '.join(LEVELS)}")
    return level


def _utc_time(created: float) -> str:
    """2026-12-07T18:30:01.123Z: sortable, and the same on every machine of a group."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created * 1000) % 1000:03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = _utc_time(record.created)
        line = f"{stamp} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One object per line, for log shippers: time, level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(str(key), value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "notice", fmt: str = "text", path: str = "") -> None:
    """Send the "tandemkv" logger's records to `path` (appended to) or stderr.

    Raises ValueError for an unknown level or format and OSError if `path` cannot be
    opened; the caller turns those into its one-line start-up error.
    """
    numeric = parse_level(level)
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (text or json)")
    stream: IO[str] = open(path, "a", encoding="utf-8", buffering=1) if path else sys.stderr  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger(ROOT)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    root.propagate = False


def set_level(level: str) -> None:
    """CONFIG SET loglevel: takes effect on the next record."""
    logging.getLogger(ROOT).setLevel(parse_level(level))
