"""One frozen Config, built once from flags > environment > TOML file > defaults.

The CLI only parses arguments into a dict of overrides; everything about sources,
precedence and validation lives here, so a bad value is reported the same way wherever it
came from: one line naming the setting and its source.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from tandemkv.commands.settings import (
    LOG_LEVELS,
    MAX_QUERY_BUFFER,
    Settings,
    output_limits_from,
    parse_memory,
    parse_save,
)
from tandemkv.storage.eviction import POLICIES
from tandemkv.storage.syncer import FsyncPolicy

DEFAULT_ADDRESS = "127.0.0.1:7000"
DEFAULT_DB_PATH = "./tandemkv-data"
ENV_PREFIX = "TANDEMKV_"


class ConfigError(Exception):
    """A setting is missing, unknown or malformed; the message names it and its source."""


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_address(text: str, *, allow_port_zero: bool = True) -> Address:
    """HOST:PORT, [IPv6]:PORT, or :PORT (loopback)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"'{text}' is not HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    port = int(port_text)
    if not (0 if allow_port_zero else 1) <= port <= 65535:
        raise ValueError(f"port {port} is out of range (1-65535)")
    return Address(host, port)


@dataclass(frozen=True, slots=True)
class Config:
    db_path: str = DEFAULT_DB_PATH
    address: str = DEFAULT_ADDRESS
    requirepass: str = ""
    aclfile: str = ""  # Redis's ACL file: seeds the users of a new group, ACL LOAD/SAVE
    protected_mode: bool = True
    maxclients: int = 10000
    timeout: int = 0
    proto_max_bulk_len: int = 512 * 1024 * 1024
    client_query_buffer_limit: int = MAX_QUERY_BUFFER
    client_output_buffer_limit: str = ""  # Redis's syntax; "" keeps Redis's defaults
    hz: int = 10
    maxmemory: int = 0  # bytes; flags, env and the file also take Redis's units (100mb)
    maxmemory_policy: str = "noeviction"
    maxmemory_samples: int = 5
    slowlog_log_slower_than: int = 10000  # microseconds; -1 logs nothing, 0 everything
    slowlog_max_len: int = 128
    # HOST:PORT of the Prometheus endpoint (GET /metrics); "" serves none.
    metrics_address: str = ""
    parser: str = "auto"
    event_loop: str = "auto"
    fsync: str = "everysec"
    appendonly: bool = True
    snapshot_log_bytes: int = 64 * 1024 * 1024
    truncate_corrupt_log: bool = False
    config_file: str = ""
    # Snapshot points as Redis writes them ("3600 1 300 100"); "" = none (the default:
    # snapshots are cut when the log has grown by snapshot-log-bytes).
    save: str = ""
    # The server log (server/logs.py): level by Redis's or Python's names, text or json
    # lines, and a file to append to ("" = stderr).
    log_level: str = "notice"
    log_format: str = "text"
    log_file: str = ""
    latency_monitor_threshold: int = 0  # ms; LATENCY keeps spikes at least this long
    # Groups (docs/operations.md). No role: a group of one, or whatever group the data
    # directory already belongs to.
    role: str = ""
    primary: str = ""  # the node a new backup or witness asks to join
    learner: bool = False  # stay a non-voting backup
    advertise: str = ""  # the address peers and clients are told (default: address)
    cluster_secret: str = ""  # required unless every member is on loopback
    group_name: str = "tandemkv"  # the Sentinel master name
    ack: str = "majority"
    read_mode: str = "index"
    heartbeat_ms: int = 100
    election_ms: int = 400
    replica_max_lag_ms: int = 10_000  # READONLY reads refused past this silence
    backup_scheduling: str = "batch"  # the Linux CPU policy a node takes while not primary
    peer_routes: str = ""  # "ADDR=VIA,ADDR=VIA": dial VIA to reach the peer at ADDR
    # TLS (docs/operations.md "TLS"; checked together, and the files loaded, by tls.py).
    tls: bool = False  # the main address speaks only TLS
    tls_port: int = 0  # an extra TLS listener on the address's host (0: none)
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_cert_file: str = ""
    tls_ca_cert_dir: str = ""
    tls_auth_clients: str = "yes"  # client certificates: required, not asked, optional
    tls_replication: bool = False  # peer links use TLS, both sides showing certificates

    @property
    def listen(self) -> Address:
        return parse_address(self.address)

    def runtime_settings(self) -> Settings:
        listen = self.listen
        return Settings(
            requirepass=self.requirepass,
            maxclients=self.maxclients,
            timeout=self.timeout,
            proto_max_bulk_len=self.proto_max_bulk_len,
            client_query_buffer_limit=self.client_query_buffer_limit,
            client_output_buffer_limit=output_limits_from(self.client_output_buffer_limit),
            protected_mode=self.protected_mode,
            bind=listen.host,
            port=listen.port,
            hz=self.hz,
            maxmemory=self.maxmemory,
            maxmemory_policy=self.maxmemory_policy,
            maxmemory_samples=self.maxmemory_samples,
            slowlog_log_slower_than=self.slowlog_log_slower_than,
            slowlog_max_len=self.slowlog_max_len,
            appendonly=self.appendonly,
            appendfsync=self.fsync,
            tls_port=self.tls_port,
            tls_auth_clients=self.tls_auth_clients,
            tls_replication=self.tls_replication,
            save=self.save,
            loglevel=self.log_level,
            latency_monitor_threshold=self.latency_monitor_threshold,
        )


_CHOICES = {
    "parser": ("auto", "python", "hiredis"),
    "event_loop": ("auto", "asyncio", "uvloop"),
    "fsync": tuple(FsyncPolicy),
    "role": ("", "primary", "backup", "witness"),
    "ack": ("majority", "leader"),
    "read_mode": ("index", "lease"),
    "backup_scheduling": ("batch", "normal"),
    "maxmemory_policy": POLICIES,
    "tls_auth_clients": ("yes", "no", "optional"),
    "log_level": LOG_LEVELS,
    "log_format": ("text", "json"),
}
# Redis's names for settings whose tandemkv name differs, accepted in the config file.
_FILE_ALIASES = {"loglevel": "log_level", "logfile": "log_file", "appendfsync": "fsync"}
# Settings only a flag may give: the file is named by a flag, and truncating a corrupt log
# is a one-off operator decision that must never linger in a file or the environment.
MiB = 1024 * 1024
_FLAG_ONLY = ("config_file", "truncate_corrupt_log")
_FIELD_TYPES = {f.name: f.type for f in fields(Config)}


def _coerce(name: str, raw: object, source: str) -> object:
    kind = _FIELD_TYPES[name]
    try:
        if kind == "bool":
            return _to_bool(raw)
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, (int, str)):
                raise ValueError("expected an integer")
            value = parse_memory(str(raw)) if name == "maxmemory" else int(raw)
            if name == "slowlog_log_slower_than" and value == -1:
                return value  # logs nothing, as in Redis
            if value < 0:
                raise ValueError("must not be negative")
            if name == "client_query_buffer_limit" and not MiB <= value <= MAX_QUERY_BUFFER:
                raise ValueError(f"must be between {MiB} and {MAX_QUERY_BUFFER}")
            if name == "maxmemory_samples" and value < 1:
                raise ValueError("must be at least 1")
            if name == "tls_port" and value > 65535:
                raise ValueError("port out of range (0-65535)")
            return value
        if name == "tls_auth_clients" and isinstance(raw, bool):
            raw = "yes" if raw else "no"  # TOML's true/false for Redis's yes/no
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        if name == "log_level":
            raw = raw.lower()
        if name in _CHOICES and raw not in _CHOICES[name]:
            raise ValueError(f"must be one of {', '.join(_CHOICES[name])}")
        if name in ("address", "primary", "advertise", "metrics_address") and raw:
            parse_address(raw, allow_port_zero=name in ("address", "metrics_address"))
        if name == "peer_routes":
            parse_peer_routes(raw)
        if name == "client_output_buffer_limit":
            output_limits_from(raw)
        if name == "save":
            return parse_save(raw)
        return raw
    except ValueError as error:
        raise ConfigError(f"invalid {name.replace('_', '-')} {raw!r} ({source}): {error}") from None


def parse_peer_routes(text: str) -> dict[str, str]:
    """ "ADDR=VIA,..." -> {ADDR: VIA}, both normalised HOST:PORT."""
    routes: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        target, sep, via = item.partition("=")
        if not sep:
            raise ValueError(f"'{item}' is not ADDR=VIA")
        routes[str(parse_address(target, allow_port_zero=False))] = str(
            parse_address(via, allow_port_zero=False)
        )
    return routes


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("yes", "true", "1", "on"):
        return True
    if isinstance(raw, str) and raw.lower() in ("no", "false", "0", "off"):
        return False
    raise ValueError("expected yes or no")


def _from_toml(path: str) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    values: dict[str, object] = {}
    for key, raw in data.items():
        name = key.replace("-", "_")
        name = _FILE_ALIASES.get(name, name)
        if name not in _FIELD_TYPES or name in _FLAG_ONLY:
            raise ConfigError(f"unknown setting '{key}' in config file {path}")
        values[name] = _coerce(name, raw, f"config file {path}")
    return values


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in _FIELD_TYPES:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and name not in _FLAG_ONLY:
            values[name] = _coerce(name, raw, f"environment {ENV_PREFIX}{name.upper()}")
    return values


def load_config(flags: Mapping[str, object], env: Mapping[str, str] | None = None) -> Config:
    """Merge flags (None = not given) over the environment over the TOML file over defaults."""
    env = os.environ if env is None else env
    given = {k: v for k, v in flags.items() if v is not None}
    config_file = str(given.get("config_file") or env.get(ENV_PREFIX + "CONFIG", ""))
    merged: dict[str, object] = {}
    if config_file:
        merged.update(_from_toml(config_file))
        merged["config_file"] = str(Path(config_file).resolve())
    merged.update(_from_env(env))
    for name, raw in given.items():
        if name != "config_file":
            merged[name] = _coerce(name, raw, "command line")
    return replace(Config(), **merged)  # type: ignore[arg-type]
