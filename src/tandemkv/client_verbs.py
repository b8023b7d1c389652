"""The CLI's client verbs (put, get, delete, keys, import, export) against a running server,
and how they find it: flags, environment, a config file, or the servers registered on this
machine. Errors propagate to cli.main, which turns each into one line and an exit status."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tandemkv
from tandemkv.cli import (
    EXIT_DATA_DIR,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    Failure,
)
from tandemkv.client import (
    Auth,
    AuthError,
    Client,
    ClientError,
    ConnectFailed,
    Credentials,
    Executor,
    NotRedisError,
    ServerError,
)
from tandemkv.config import DEFAULT_ADDRESS, load_config, parse_address
from tandemkv.server import registry
from tandemkv.storage.errors import DataDirLockedError, StorageError

PROBE_TIMEOUT = 1.0
# Verbs that only read or remove: on a --db-path that does not exist they fail, not create.
READING_VERBS = frozenset({"get", "delete", "keys", "export"})


def run_client_verb(args: argparse.Namespace) -> int:
    created = _creates_data_dir(args)
    target = connect(args)
    status = EXIT_USAGE
    try:
        status = _VERBS[args.verb](target, args)
        return status
    finally:
        target.close()
        if created is not None and status != EXIT_OK:
            # A failed import (or put) into a directory it created leaves nothing behind.
            shutil.rmtree(created, ignore_errors=True)


def _creates_data_dir(args: argparse.Namespace) -> str | None:
    """The data directory this run would create (in-process, not there yet), else None."""
    if _server_given(args) or not args.db_path or os.path.lexists(args.db_path):
        return None
    return str(args.db_path)


class DataDirError(Failure):
    """The data directory asked for cannot be opened here."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_DATA_DIR, message)


def connect(args: argparse.Namespace) -> Executor:
    """--server (or TANDEMKV_SERVER) means the network; else --db-path means in-process;
    with neither, the server named by --config or found by `find_server`."""
    if not _server_given(args) and args.db_path:
        return open_data_dir(args.db_path, args.verb)
    addresses = server_addresses(args)
    return RedirectingClient(addresses, password_of(args), wait_seconds=args.wait_seconds)


def open_data_dir(path: str, verb: str) -> Executor:
    if verb in READING_VERBS and not os.path.exists(path):
        # A typo must not read as an empty store (a backup script would never notice),
        # nor leave an empty directory behind.
        raise DataDirError(f"no data directory at {path}: check --db-path")
    try:
        return tandemkv.open(path)
    except DataDirLockedError as error:
        raise DataDirError(locked_advice(error, verb)) from None
    except StorageError as error:
        raise DataDirError(str(error)) from None


def locked_advice(error: DataDirLockedError, verb: str) -> str:
    """Name the running server that holds the directory, so the fix is one flag away."""
    holder = next((e for e in registry.live_entries() if e.data_dir == error.path), None)
    if holder is None:
        return (
            f"data directory {error.path} is in use by "
            f"{f'process {error.pid}' if error.pid else 'another process'}: if a server "
            "runs on it, talk to it with --server HOST:PORT instead of --db-path"
        )
    return (
        f"data directory {error.path} is in use by the server at {holder.address} "
        f"(pid {holder.pid}): run `tandemkv --server {holder.address} {verb} ...` instead"
    )


def _server_given(args: argparse.Namespace) -> bool:
    return bool(args.server or os.environ.get("TANDEMKV_SERVER"))


def password_of(args: argparse.Namespace) -> Auth:
    """--user/TANDEMKV_USER with --password/TANDEMKV_PASSWORD (or the config file's
    requirepass, the default user's password)."""
    user = getattr(args, "user", None) or os.environ.get("TANDEMKV_USER")
    given = args.password or os.environ.get("TANDEMKV_PASSWORD")
    if not given:
        config = _config_file_settings(args)
        given = config[1] if config is not None else None
    if user:
        return Credentials(str(user), str(given or ""))
    return str(given) if given else None


def server_address(args: argparse.Namespace) -> str:
    """The first of `server_addresses`."""
    return server_addresses(args)[0]


def server_addresses(args: argparse.Namespace) -> list[str]:
    """--server, else TANDEMKV_SERVER (either may list several members of one group), else
    the address in --config's file, else (cluster verbs) the server registered on --db-path,
    else the server found on this machine."""
    given = args.server or os.environ.get("TANDEMKV_SERVER")
    if given:
        listed = [a.strip() for a in str(given).split(",") if a.strip()]
        if not listed:
            raise Failure(EXIT_USAGE, f"--server {given!r} names no HOST:PORT")
        return listed
    config = _config_file_settings(args)
    if config is not None:
        return [config[0]]
    if args.db_path:  # only cluster verbs get here: client verbs open it in-process
        return [registered_on(str(args.db_path))]
    found = find_server(registry.live_entries(), lambda a: probe(a, password_of(args)))
    if found == DEFAULT_ADDRESS:
        _check_default_is_tandemkv(password_of(args))
    return [found]


def registered_on(data_dir: str) -> str:
    path = os.path.abspath(data_dir)
    for entry in registry.live_entries():
        if entry.data_dir == path:
            return entry.address
    raise DataDirError(
        f"no running server on this machine uses the data directory {path}: start one "
        "(tandemkv --db-path DIR server), or pass --server HOST:PORT"
    )


def _config_file_settings(args: argparse.Namespace) -> tuple[str, str | None] | None:
    """(address, password) a client should use for the server --config describes."""
    path = getattr(args, "config_file", None)
    if not path:
        return None
    config = load_config({"config_file": path})  # ConfigError: a usage error
    address = parse_address(config.advertise or config.address)
    host = "127.0.0.1" if address.host in ("0.0.0.0", "") else address.host
    host = "::1" if host == "::" else host
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{address.port}", config.requirepass or None


def _check_default_is_tandemkv(password: Auth) -> None:
    """Used without being named, the default address must be a tandemkv server: another
    program listening there (a Redis, say) is not silently written to."""
    found = probe(DEFAULT_ADDRESS, password)
    if found is not None and found.kind == "foreign":
        raise DiscoveryError(
            f"the server at {DEFAULT_ADDRESS} is not tandemkv ({found.note}), and no "
            "tandemkv server is registered on this machine: start one, or pass --server "
            f"{DEFAULT_ADDRESS} to use that server anyway"
        )


# ------------------------------------------------------------------ following the primary

_REDIRECTS = (
    re.compile(r"primary is (\S+:\d+)"),  # a write (or an operator command) on a backup
    re.compile(r"reads go to the primary \((\S+:\d+)\)"),  # a read on a backup
)
# Refusals that pass once the group has a (settled) primary again.
_TRANSIENT = ("TRYAGAIN", "LOADING", "MASTERDOWN")
# Commands the CLI may send again after a connection broke mid-command: doing them twice
# is harmless (FAILOVER, REMOVE_NODE and PROMOTE are not: they are never resent).
IDEMPOTENT = frozenset(
    {"GET", "SET", "DEL", "MSET", "MGET", "SCAN", "TYPE", "DBSIZE", "STATUS", "ADD_BACKUP"}
)
RETRY_PAUSE = 0.1
MAX_RETRY_PAUSE = 0.5
MAX_REDIRECTS = 5


def redirect_target(message: str) -> str | None:
    """The primary a READONLY error names, if it names one."""
    if not message.startswith("READONLY"):
        return None
    for pattern in _REDIRECTS:
        found = pattern.search(message)
        if found:
            return found.group(1)
    return None


def transient(message: str) -> bool:
    """A refusal that a failover explains: retry it (within --wait-seconds)."""
    if message.startswith(_TRANSIENT):
        return True
    return message.startswith("READONLY") and (
        message.rstrip().endswith("retry") or "not known yet" in message
    )


class RedirectingClient:
    """A Client for a server or group. When a backup refuses a command and names the
    primary, the command goes there and the client stays with the primary. Through a
    failover (the primary gone, a refusal that says to retry) it retries for up to
    `wait_seconds`, finding the new primary through the group's other members."""

    def __init__(
        self,
        address: str | Sequence[str],
        password: Auth,
        timeout: float = 10.0,
        wait_seconds: float = 0.0,
    ) -> None:
        self._known = [address] if isinstance(address, str) else list(address)
        self._password = password
        self._timeout = timeout
        self._wait = wait_seconds
        self._asked_registry = False
        self._client = self._connect(time.monotonic() + wait_seconds)
        if wait_seconds > 0:
            self._learn_members()

    @property
    def address(self) -> str:
        return self._client.address

    def execute(self, *args: bytes | str | int) -> object:
        deadline = time.monotonic() + self._wait
        pause, redirects = RETRY_PAUSE, 0
        while True:
            try:
                return self._client.call(*args)
            except AuthError:
                raise
            except ServerError as error:
                primary = redirect_target(error.message)
                if primary and primary != self.address and redirects < MAX_REDIRECTS:
                    self._switch(deadline, primary)
                    if self.address == primary:
                        redirects += 1
                        continue
                    # The primary it names does not answer: maybe it just died and the
                    # members have not elected another yet. Wait, then ask again.
                elif not transient(error.message):
                    raise
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
            except NotRedisError:
                raise
            except ClientError:  # the connection broke: the node may be gone
                if not _resendable(args) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                self._switch(deadline, None)
            pause = min(pause * 2, MAX_RETRY_PAUSE)

    def _switch(self, deadline: float, prefer: str | None) -> None:
        self._client.close()
        self._client = self._connect(deadline, prefer)

    def _connect(self, deadline: float, prefer: str | None = None) -> Client:
        """A connection to `prefer`, else to any address known for the group, retried
        until the deadline; the first address's error if none answers."""
        pause = RETRY_PAUSE
        while True:
            candidates = ([prefer] if prefer else []) + self._known
            failures: list[ClientError] = []
            for address in dict.fromkeys(candidates):
                try:
                    return _open(address, self._password, self._timeout)
                except ConnectFailed as error:
                    failures.append(error)
            if time.monotonic() + pause > deadline:
                if self._wait <= 0:
                    raise failures[0]
                others = len(failures) - 1
                tried = f" and {others} other member{'s' * (others > 1)}" if others else ""
                raise ConnectFailed(
                    f"{failures[0]}{tried}, retried for {self._wait:g}s (--wait-seconds)"
                )
            if not self._asked_registry:
                self._asked_registry = True
                self._known += local_members_of(self._known, self._password)
            time.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE)

    def _learn_members(self) -> None:
        """Remember the group's members, so that a failover can be followed even when
        the node named on the command line is the one that died."""
        try:
            status = reply_map(self._client.call("STATUS"))
        except AuthError:
            raise
        except (ServerError, ClientError):
            return  # not tandemkv, or a version without STATUS: no group to follow
        for member in _member_maps(status):
            address = str(member.get("address", ""))
            if address and address not in self._known:
                self._known.append(address)

    def close(self) -> None:
        self._client.close()


def local_members_of(addresses: list[str], password: Auth) -> list[str]:
    """Members of a group running on this machine that counts one of `addresses` as a
    member: how `--server OLD-PRIMARY put ...` finds the group after OLD-PRIMARY died."""
    wanted = set(addresses)
    found: list[str] = []
    for group in group_servers(registry.live_entries(), lambda a: probe(a, password)):
        if group.addresses & wanted:
            found += sorted(group.addresses - wanted)
    return found


def _resendable(args: Sequence[bytes | str | int]) -> bool:
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    return name.upper() in IDEMPOTENT


def _open(address: str, password: Auth, timeout: float) -> Client:
    try:
        return Client(address, password=password, timeout=timeout)
    except ValueError as error:
        raise Failure(EXIT_USAGE, f"bad server address {address!r}: {error}") from None


# ------------------------------------------------------------------ finding a local server


@dataclass(frozen=True)
class Probe:
    """What one registered server says about itself (its STATUS, in short)."""

    address: str  # where it answered
    # "member" of a group, "standalone", "detached" (in no group yet), "unknown", or
    # "foreign" (a server that is not tandemkv: it has no STATUS)
    kind: str
    members: frozenset[str] = frozenset()  # member addresses, its own included
    primary: str = ""  # the primary's address, "" if it knows none
    note: str = ""  # why kind is "unknown"


@dataclass
class Group:
    probes: list[Probe]
    data_dirs: list[str]

    @property
    def addresses(self) -> set[str]:
        found = {p.address for p in self.probes}
        for p in self.probes:
            found |= p.members
        return found

    def target(self) -> str:
        """Its primary if any member knows it (a node that is primary first), else a member
        that answered: the command then gets that node's own redirect or error."""
        for p in self.probes:
            if p.primary == p.address:
                return p.address
        for p in self.probes:
            if p.primary:
                return p.primary
        return self.probes[0].address

    def describe(self) -> str:
        kinds = {p.kind for p in self.probes}
        first = self.probes[0]
        if "member" in kinds:
            primary = next((p.primary for p in self.probes if p.primary), "")
            what = f"group of {', '.join(sorted(self.addresses))}"
            what += f" (primary {primary})" if primary else " (no primary known)"
        elif kinds == {"standalone"}:
            what = f"standalone server {first.address}"
        elif kinds == {"detached"}:
            what = f"node {first.address} (in no group yet)"
        else:
            what = f"server {first.address} ({first.note})"
        dirs = ", ".join(sorted(d for d in self.data_dirs if d))
        return f"{what}, data in {dirs}" if dirs else what


class DiscoveryError(Failure):
    """Several unrelated servers run here (or a foreign one at the default address), so
    which one to use is the operator's choice."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_USAGE, message)


def find_server(entries: Sequence[registry.Entry], ask: Callable[[str], Probe | None]) -> str:
    """The address client verbs use when given none: the default address if a server is
    registered there; else the primary of the one group (or the one server) registered;
    with none, the default address (whose connection error then says what is wrong)."""
    if not entries or any(e.address == DEFAULT_ADDRESS for e in entries):
        return DEFAULT_ADDRESS
    groups = group_servers(entries, ask)
    if not groups:
        return DEFAULT_ADDRESS
    in_groups = [g for g in groups if any(p.kind != "detached" for p in g.probes)]
    candidates = in_groups or groups
    if len(candidates) == 1:
        return candidates[0].target()
    listed = "; ".join(g.describe() for g in candidates)
    raise DiscoveryError(
        f"several tandemkv servers run on this machine and none at {DEFAULT_ADDRESS}: "
        f"{listed}. Pass --server HOST:PORT (or set TANDEMKV_SERVER) to choose one"
    )


def group_servers(
    entries: Sequence[registry.Entry], ask: Callable[[str], Probe | None]
) -> list[Group]:
    """The servers that answered, gathered into groups: two are in one group when either
    lists the other as a member. Servers that do not answer are left out."""
    groups: list[Group] = []
    for entry in entries:
        answer = ask(entry.address)
        if answer is None:
            continue
        mine = Group([answer], [entry.data_dir])
        for other in [g for g in groups if g.addresses & mine.addresses]:
            groups.remove(other)
            mine = Group(other.probes + mine.probes, other.data_dirs + mine.data_dirs)
        groups.append(mine)
    return groups


def probe(address: str, password: Auth) -> Probe | None:
    """Ask the server at `address` for its STATUS; None if it does not answer."""
    try:
        with Client(address, password=password, timeout=PROBE_TIMEOUT) as client:
            reply = client.call("STATUS")
    except (ClientError, ValueError):
        return None
    except ServerError as error:
        if "cluster support disabled" in error.message:
            return Probe(address, "standalone")
        if error.message.startswith("ERR unknown command"):
            return Probe(address, "foreign", note="it does not know STATUS")
        note = "needs a password: pass --password" if "AUTH" in error.message else error.message
        return Probe(address, "unknown", note=note)
    status = reply_map(reply)
    members = {str(m.get("address", "")) for m in _member_maps(status)} - {""}
    primary = str(status.get("primary", ""))
    if status.get("role") == "primary":
        primary = address  # it answered here, whatever address it advertises
    kind = "member" if members else "detached"
    return Probe(address, kind, frozenset(members | {address}), primary)


def reply_map(reply: object) -> dict[str, object]:
    """A map reply (RESP3) or its RESP2 form, a flat [key, value, ...] array, with str keys
    and bytes values decoded."""
    if isinstance(reply, dict):
        pairs = list(reply.items())
    elif isinstance(reply, list) and len(reply) % 2 == 0:
        pairs = list(zip(reply[::2], reply[1::2], strict=True))
    else:
        raise ClientError(f"unexpected reply: {reply!r:.200}")
    return {_text(key): _text(value) if isinstance(value, bytes) else value for key, value in pairs}


def _member_maps(status: dict[str, object]) -> list[dict[str, object]]:
    members = status.get("members", [])
    return [reply_map(m) for m in members] if isinstance(members, list) else []


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# ------------------------------------------------------------------ the verbs


def _print_bytes(value: bytes) -> None:
    sys.stdout.buffer.write(value + b"\n")
    sys.stdout.flush()


def _put(client: Executor, args: argparse.Namespace) -> int:
    client.execute("SET", args.key, args.value)
    print("OK")
    return EXIT_OK


def _get(client: Executor, args: argparse.Namespace) -> int:
    value = client.execute("GET", args.key)
    if value is None:
        print(f"tandemkv: key not found: {args.key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    assert isinstance(value, bytes)
    _print_bytes(value)
    return EXIT_OK


def _delete(client: Executor, args: argparse.Namespace) -> int:
    if client.execute("DEL", args.key) == 0:
        print(f"tandemkv: key not found: {args.key}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print("OK")
    return EXIT_OK


def _keys(client: Executor, args: argparse.Namespace) -> int:
    cursor: bytes = b"0"
    while True:
        reply = client.execute("SCAN", cursor, "MATCH", args.pattern, "COUNT", 1000)
        assert isinstance(reply, list)
        cursor, batch = reply[0], reply[1]
        for key in batch:
            _print_bytes(key)
        if cursor == b"0":
            return EXIT_OK


def _import(client: Executor, args: argparse.Namespace) -> int:
    from tandemkv.jsonio import JsonImportError, import_json

    try:
        count = import_json(client, args.file, show_progress=sys.stderr.isatty())
    except JsonImportError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"imported {count} keys from {args.file}")
    return EXIT_OK


def _export(client: Executor, args: argparse.Namespace) -> int:
    from tandemkv.jsonio import JsonExportError, export_json

    skipped: list[tuple[bytes, bytes]] = []
    try:
        count = export_json(client, args.file, show_progress=sys.stderr.isatty(), skipped=skipped)
    except JsonExportError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"exported {count} keys to {args.file}")
    if skipped:
        kinds = sorted({kind.decode("ascii", "replace") for _, kind in skipped})
        print(
            f"tandemkv: left out {len(skipped)} keys holding {', '.join(kinds)}: the JSON "
            "format holds strings only (SAVE or BGSAVE snapshots keep every type)",
            file=sys.stderr,
        )
    return EXIT_OK


_VERBS = {
    "put": _put,
    "get": _get,
    "delete": _delete,
    "keys": _keys,
    "import": _import,
    "export": _export,
}
