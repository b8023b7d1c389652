"""Settings that may change while the server runs (CONFIG SET), with Redis's names.

Only these are reachable through CONFIG: nothing that names a file or directory, so no
client can make the server write where it likes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Settings:
    requirepass: str = ""
    maxclients: int = 10000
    timeout: int = 0  # seconds a client may idle before being closed; 0 = never
    proto_max_bulk_len: int = 512 * 1024 * 1024
    protected_mode: bool = True
    bind: str = "127.0.0.1"
    port: int = 7000
    hz: int = 10
    # Read-only mirrors of the persistence setup, for tools such as redis-benchmark that
    # ask for them. There are no RDB save points; "appendonly" says whether writes are logged.
    save: str = ""
    appendonly: bool = False
    appendfsync: str = "everysec"


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value not in ("yes", "no"):
        raise ValueError("argument must be 'yes' or 'no'")
    return value == "yes"


def _parse_nonneg(raw: str) -> int:
    value = _parse_size(raw)
    if value < 0:
        raise ValueError("argument must be non-negative")
    return value


def _parse_size(raw: str) -> int:
    units = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
    text = raw.lower()
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * units[suffix]
    if not text.lstrip("-").isdigit():
        raise ValueError("argument couldn't be parsed into an integer")
    return int(text)


def _parse_hz(raw: str) -> int:
    value = _parse_nonneg(raw)
    return min(max(value, 1), 500)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    parse: Callable[[str], object] | None  # None: readable, not settable at runtime
    show: Callable[[object], str] = str


def _show_bool(value: object) -> str:
    return "yes" if value else "no"


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("requirepass", str),
        Param("maxclients", _parse_nonneg),
        Param("timeout", _parse_nonneg),
        Param("proto_max_bulk_len", _parse_nonneg),
        Param("protected_mode", _parse_bool, _show_bool),
        Param("bind", None),
        Param("port", None),
        Param("hz", _parse_hz),
        Param("save", None),
        Param("appendonly", None, _show_bool),
        Param("appendfsync", None),
    )
}


def redis_name(attr: str) -> str:
    return attr.replace("_", "-")


def attr_name(redis: str) -> str:
    return redis.lower().replace("-", "_")
