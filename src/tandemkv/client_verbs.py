"""The CLI's client verbs (put, get, delete, keys, import, export) against a running server,
and how they find it: flags, environment, or the servers registered on this machine."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tandemkv
from tandemkv.cli import EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from tandemkv.client import Client, ClientError, Executor, ServerError
from tandemkv.config import DEFAULT_ADDRESS
from tandemkv.embedded import StoreError
from tandemkv.server import registry
from tandemkv.storage.errors import DataDirLockedError, StorageError

PROBE_TIMEOUT = 1.0
# Verbs that only read or remove: on a --db-path that does not exist they fail, not create.
READING_VERBS = frozenset({"get", "delete", "keys", "export"})


def run_client_verb(args: argparse.Namespace) -> int:
    try:
        target = connect(args)
    except (ClientError, DataDirError) as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ServerError as error:
        print(f"tandemkv: server error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        return _VERBS[args.verb](target, args)
    except ClientError as error:
        print(f"tandemkv: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (ServerError, StoreError) as error:
        print(f"tandemkv: server error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    finally:
        target.close()


class DataDirError(Exception):
    """The data directory asked for cannot be opened here."""


def connect(args: argparse.Namespace) -> Executor:
    """--server (or TANDEMKV_SERVER) means the network; else --db-path means in-process;
    with neither, the server found by `find_server`."""
    server_given = args.server or os.environ.get("TANDEMKV_SERVER")
    if not server_given and args.db_path:
        if args.verb in READING_VERBS and not os.path.exists(args.db_path):
            # A typo must not read as an empty store (a backup script would never notice),
            # nor leave an empty directory behind.
            raise DataDirError(f"no data directory at {args.db_path}: check --db-path")
        try:
            return tandemkv.open(args.db_path)
        except DataDirLockedError as error:
            raise DataDirError(
                f"{error} A running server owns it: use --server HOST:PORT to talk to it."
            ) from None
        except StorageError as error:
            raise DataDirError(str(error)) from None
    return RedirectingClient(server_address(args), password_of(args))


def password_of(args: argparse.Namespace) -> str | None:
    return args.password or os.environ.get("TANDEMKV_PASSWORD")


def server_address(args: argparse.Namespace) -> str:
    """--server, else TANDEMKV_SERVER, else the server found on this machine."""
    given = args.server or os.environ.get("TANDEMKV_SERVER")
    if given:
        return str(given)
    return find_server(registry.live_entries(), lambda a: probe(a, password_of(args)))


# ------------------------------------------------------------------ following redirects

_REDIRECTS = (
    re.compile(r"primary is (\S+:\d+)"),  # a write (or an operator command) on a backup
    re.compile(r"reads go to the primary \((\S+:\d+)\)"),  # a read on a backup
)


def redirect_target(message: str) -> str | None:
    """The primary a READONLY error names, if it names one."""
    if not message.startswith("READONLY"):
        return None
    for pattern in _REDIRECTS:
        found = pattern.search(message)
        if found:
            return found.group(1)
    return None


class RedirectingClient:
    """A Client that, when a backup refuses a command and names the primary, sends the
    command there once and keeps talking to the primary from then on."""

    def __init__(self, address: str, password: str | None, timeout: float = 10.0) -> None:
        self._password = password
        self._timeout = timeout
        self._client = _open(address, password, timeout)

    @property
    def address(self) -> str:
        return self._client.address

    def execute(self, *args: bytes | str | int) -> object:
        try:
            return self._client.call(*args)
        except ServerError as error:
            primary = redirect_target(error.message)
            if primary is None or primary == self._client.address:
                raise
        self._client.close()
        self._client = _open(primary, self._password, self._timeout)
        return self._client.call(*args)

    def close(self) -> None:
        self._client.close()


def _open(address: str, password: str | None, timeout: float) -> Client:
    try:
        return Client(address, password=password, timeout=timeout)
    except ValueError as error:
        raise ClientError(f"bad server address {address!r}: {error}") from None


# ------------------------------------------------------------------ finding a local server


@dataclass(frozen=True)
class Probe:
    """What one registered server says about itself (its STATUS, in short)."""

    address: str  # where it answered
    kind: str  # "member" of a group, "standalone", "detached" (in no group yet), "unknown"
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


class DiscoveryError(ClientError):
    """Several unrelated servers run here, so which one to use is the operator's choice."""


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


def probe(address: str, password: str | None) -> Probe | None:
    """Ask the server at `address` for its STATUS; None if it does not answer."""
    try:
        with Client(address, password=password, timeout=PROBE_TIMEOUT) as client:
            reply = client.call("STATUS")
    except (ClientError, ValueError):
        return None
    except ServerError as error:
        if "cluster support disabled" in error.message:
            return Probe(address, "standalone")
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
