"""Settings that may change while the server runs (CONFIG SET), with Redis's names.

Only these are reachable through CONFIG: nothing that names a file or directory, so no
client can make the server write where it likes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tandemkv.commands.output_limits import OutputLimits, parse_output_limits
from tandemkv.storage.eviction import POLICIES

# client-query-buffer-limit's default and most (Redis allows more): what one request or one
# transaction may hold, hence the largest log entry (storage/record.py: DEFAULT_MAX_BODY).
MAX_QUERY_BUFFER = 1024 * 1024 * 1024


@dataclass(slots=True)
class Settings:
    requirepass: str = ""
    maxclients: int = 10000
    timeout: int = 0  # seconds a client may idle before being closed; 0 = never
    proto_max_bulk_len: int = 512 * 1024 * 1024
    # One request's bytes in all, and one transaction's: each is logged as one entry.
    client_query_buffer_limit: int = MAX_QUERY_BUFFER
    client_output_buffer_limit: OutputLimits = field(default_factory=OutputLimits)
    protected_mode: bool = True
    bind: str = "127.0.0.1"
    port: int = 7000
    hz: int = 10
    # Persistence (docs/operations.md "CONFIG SET at run time"): snapshot points as Redis
    # writes them ("3600 1 300 100"; "" = none, only the log's size triggers snapshots),
    # whether writes are logged, and when the log is fsynced. The shell applies changes.
    save: str = ""
    appendonly: bool = False
    appendfsync: str = "everysec"
    # The server log's level, by Redis's names (or Python's); the shell applies changes.
    loglevel: str = "notice"
    # LATENCY keeps spikes of at least this many ms (0 = none; commands/latency.py).
    latency_monitor_threshold: int = 0
    # The memory limit (bytes of the keyspace's estimate, 0 = none) and what happens past
    # it (storage/eviction.py; docs/operations.md "Memory limit").
    maxmemory: int = 0
    maxmemory_policy: str = "noeviction"
    maxmemory_samples: int = 5
    # Read-only: one database. Tools ask for it.
    databases: int = 1
    # Read-only mirrors of the TLS setup (tls.py); with tls_replication, PEER commands need
    # a connection that showed a certificate the CA verified.
    tls_port: int = 0
    tls_auth_clients: str = "yes"
    tls_replication: bool = False
    # SLOWLOG (commands/slowlog.py): commands at least this many microseconds long are
    # logged (-1: none, 0: all); the log keeps the newest slowlog-max-len.
    slowlog_log_slower_than: int = 10000
    slowlog_max_len: int = 128
    # Not a setting: the server's start as a Unix time, 0 until known. LASTSAVE answers
    # it before the first snapshot, as Redis answers its start (commands/server.py).
    started_at: int = field(default=0, compare=False)


INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1
LLONG_MAX = 2**63 - 1
_UNITS = {"b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value not in ("yes", "no"):
        raise ValueError("argument must be 'yes' or 'no'")
    return value == "yes"


def _canonical_int(text: str) -> int | None:
    """An integer written as Redis's string2ll accepts it: no sign '+', no leading zeros."""
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or (digits[0] == "0" and (len(digits) > 1 or digits is not text)):
        return None
    return int(text)


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = _canonical_int(raw)
        if value is None:
            raise ValueError("argument couldn't be parsed into an integer")
        if not low <= value <= high:
            raise ValueError(f"argument must be between {low} and {high} inclusive")
        return value

    return parse


def _memory_at_least(low: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.lower()
        value: int | None = None
        for suffix in sorted(_UNITS, key=len, reverse=True):
            if text.endswith(suffix):
                number = _canonical_int(text[: -len(suffix)])
                value = None if number is None else number * _UNITS[suffix]
                break
        else:
            value = _canonical_int(text)
        if value is None or value < 0:
            raise ValueError("argument must be a memory value")
        if not low <= value <= LLONG_MAX:
            raise ValueError(f"argument must be between {low} and {LLONG_MAX} inclusive")
        return value

    return parse


def _memory_between(low: int, high: int) -> Callable[[str], int]:
    at_least = _memory_at_least(low)

    def parse(raw: str) -> int:
        value = at_least(raw)
        if value > high:
            raise ValueError(f"argument must be between {low} and {high} inclusive")
        return value

    return parse


def parse_policy(raw: str) -> str:
    policy = raw.lower()
    if policy not in POLICIES:
        raise ValueError(f"argument(s) must be one of the following: {', '.join(POLICIES)}")
    return policy


def parse_memory(raw: str) -> int:
    """A byte count as Redis writes one: 1048576, 100mb, 2gb (ValueError if not)."""
    return _memory_at_least(0)(raw)


FSYNC_POLICIES = ("everysec", "always", "no")  # in Redis's order, for its error text
LOG_LEVELS = ("debug", "verbose", "notice", "warning", "info", "error", "nothing")


def _one_of(names: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in names:
            raise ValueError(f"argument(s) must be one of the following: {', '.join(names)}")
        return value

    return parse


def parse_save(raw: str) -> str:
    """Redis's save points, "SECONDS CHANGES [SECONDS CHANGES ...]", normalised; "" = none."""
    return show_save(save_points(raw))


def save_points(raw: str) -> list[tuple[int, int]]:
    """(seconds, changes) pairs of a save setting (ValueError if malformed)."""
    words = raw.split()
    if len(words) % 2 or any(_canonical_int(w) is None or int(w) < 0 for w in words):
        raise ValueError("Invalid save parameters")
    numbers = [int(w) for w in words]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def show_save(points: list[tuple[int, int]]) -> str:
    return " ".join(f"{seconds} {changes}" for seconds, changes in points)


def _parse_hz(raw: str) -> int:
    # Redis accepts any non-negative int and clamps it to the range it can honour.
    return min(max(_int_in(0, INT_MAX)(raw), 1), 500)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    parse: Callable[[str], object] | None  # None: readable, not settable at runtime
    show: Callable[[object], str] = str
    # For a setting that CONFIG SET changes in part: (current value, raw) -> new value.
    update: Callable[[object, str], object] | None = None


def _show_output_limits(value: object) -> str:
    assert isinstance(value, OutputLimits)
    return value.show()


def _update_output_limits(current: object, raw: str) -> object:
    assert isinstance(current, OutputLimits)
    return parse_output_limits(raw, current, _memory_at_least(0))


def output_limits_from(raw: str) -> OutputLimits:
    """The setting as a config file or the environment gives it: Redis's defaults, with the
    classes `raw` names replaced ("" keeps them all); ValueError if malformed."""
    return parse_output_limits(raw, OutputLimits(), _memory_at_least(0)) if raw else OutputLimits()


def _show_bool(value: object) -> str:
    return "yes" if value else "no"


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("requirepass", str),
        Param("maxclients", _int_in(1, UINT_MAX)),
        Param("timeout", _int_in(0, INT_MAX)),
        Param("proto_max_bulk_len", _memory_at_least(1024 * 1024)),
        Param("client_query_buffer_limit", _memory_between(1024 * 1024, MAX_QUERY_BUFFER)),
        Param("client_output_buffer_limit", None, _show_output_limits, _update_output_limits),
        Param("protected_mode", _parse_bool, _show_bool),
        Param("bind", None),
        Param("port", None),
        Param("hz", _parse_hz),
        Param("save", parse_save),
        Param("appendonly", _parse_bool, _show_bool),
        Param("appendfsync", _one_of(FSYNC_POLICIES)),
        Param("loglevel", _one_of(LOG_LEVELS)),
        Param("latency_monitor_threshold", _int_in(0, LLONG_MAX)),
        Param("maxmemory", parse_memory),
        Param("maxmemory_policy", parse_policy),
        Param("maxmemory_samples", _int_in(1, INT_MAX)),
        Param("databases", None),
        Param("tls_port", None),
        Param("tls_auth_clients", None),
        Param("tls_replication", None, _show_bool),
        Param("slowlog_log_slower_than", _int_in(-1, LLONG_MAX)),
        Param("slowlog_max_len", _int_in(0, LLONG_MAX)),
    )
}


# Other names CONFIG GET and SET take for a setting (tandemkv's own flag names).
ALIASES = {"fsync": "appendfsync", "log_level": "loglevel"}


def redis_name(attr: str) -> str:
    return attr.replace("_", "-")


def attr_name(redis: str) -> str:
    return redis.lower().replace("-", "_")
