"""The CLI's cluster verbs: add-backup, remove-node, failover, promote and status.

Each finds the node to talk to as the client verbs do (--server, TANDEMKV_SERVER, --config,
the server registered on --db-path, or the group running on this machine); commands only
the primary runs go to the primary, found through the STATUS of that node or a READONLY
redirect, waiting up to --wait-seconds for a group in the middle of an election. Errors
propagate to cli.main, which turns each into one line and an exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from tandemkv.cli import EXIT_OK, EXIT_SERVER_ERROR, EXIT_UNAVAILABLE, EXIT_USAGE, Failure
from tandemkv.client import Auth, Client, ClientError, ConnectFailed, NotRedisError, ServerError
from tandemkv.client_verbs import (
    RedirectingClient,
    password_of,
    registered_on,
    reply_map,
    server_addresses,
)
from tandemkv.commands.cluster_view import BACKUP, PRIMARY, WITNESS, MemberStatus, NodeStatus
from tandemkv.config import parse_address

ADMIN_TIMEOUT = 30.0  # ADD_BACKUP waits up to 15 s for the new node to join
STATUS_TIMEOUT = 1.0
RETRY_PAUSE = 0.2
NEW_PRIMARY_WAIT = 3.0
PROMOTION_WAIT = 30.0


class UsageError(Failure):
    """The command line asks for something this verb will not do."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_USAGE, message)


class ClusterError(Failure):
    """The group cannot do what was asked now; the message says why."""

    def __init__(self, message: str, status: int = EXIT_UNAVAILABLE) -> None:
        super().__init__(status, message)


def run_cluster_verb(args: argparse.Namespace) -> int:
    return _VERBS[args.verb](args)


# ------------------------------------------------------------------ talking to nodes


@dataclass(frozen=True)
class Report:
    """One node's STATUS."""

    group: str
    status: NodeStatus


def fetch_status(address: str, password: Auth, timeout: float = 10.0) -> Report:
    try:
        with Client(address, password=password, timeout=timeout) as client:
            reply = client.call("STATUS")
    except ValueError as error:
        raise UsageError(f"bad server address {address!r}: {error}") from None
    except ServerError as error:
        if "cluster support disabled" in error.message:
            raise ClusterError(
                f"{address} runs standalone, not in a group (start nodes with "
                "`tandemkv server --role primary|backup` to form one)",
                EXIT_SERVER_ERROR,
            ) from None
        raise
    return parse_status(reply)


def parse_status(reply: object) -> Report:
    fields = reply_map(reply)
    members = fields.get("members", [])
    status = NodeStatus(
        node_id=_int(fields, "node_id"),
        address=str(fields.get("address", "")),
        role=str(fields.get("role", "")),
        term=_int(fields, "term"),
        leader_id=_int(fields, "leader_id"),
        primary_address=str(fields.get("primary", "")),
        last_index=_int(fields, "last_index"),
        commit_index=_int(fields, "commit_index"),
        applied_index=_int(fields, "applied_index"),
        ack_level=str(fields.get("ack_level", "")),
        members=tuple(_member(m) for m in members) if isinstance(members, list) else (),
        last_election_ago_ms=_int(fields, "last_election_ago_ms", -1),
        last_election_term=_int(fields, "last_election_term", 0),
        last_election_reason=str(fields.get("last_election_reason", "")),
        elections_started=_int(fields, "elections_started", 0),
        times_became_primary=_int(fields, "times_became_primary", 0),
        primary_changes=_int(fields, "primary_changes", 0),
    )
    return Report(str(fields.get("group", "")), status)


def _member(reply: object) -> MemberStatus:
    fields = reply_map(reply)
    return MemberStatus(
        node_id=_int(fields, "node_id"),
        address=str(fields.get("address", "")),
        role=str(fields.get("role", "")),
        match_index=_int(fields, "match_index"),
        lag=_int(fields, "lag"),
        healthy=_int(fields, "healthy") > 0,
        last_contact_ms=_int(fields, "last_contact_ms"),
    )


def _int(fields: dict[str, object], name: str, missing: int = -1) -> int:
    value = fields.get(name)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return missing


def find_primary(addresses: str | list[str], password: Auth, wait: float = 0.0) -> str:
    """Where the primary of the group is, as its members know it; through an election,
    asked again for up to `wait` seconds."""
    candidates = [addresses] if isinstance(addresses, str) else list(addresses)
    deadline = time.monotonic() + wait
    while True:
        try:
            return _primary_known_to(list(candidates), password)
        except (ClusterError, ClientError) as error:
            if isinstance(error, NotRedisError):
                raise
            if isinstance(error, ClusterError) and error.status != EXIT_UNAVAILABLE:
                raise
            if time.monotonic() + RETRY_PAUSE > deadline:
                raise
        time.sleep(RETRY_PAUSE)


def _primary_known_to(candidates: list[str], password: Auth) -> str:
    """The primary the first member that answers knows; members it lists are asked next."""
    failures: list[ClientError] = []
    asked: set[str] = set()
    while candidates:
        address = candidates.pop(0)
        if address in asked:
            continue
        asked.add(address)
        try:
            status = fetch_status(address, password).status
        except ConnectFailed as error:
            failures.append(error)
            continue
        if status.role == PRIMARY:
            return address
        if status.primary_address:
            return status.primary_address
        candidates += [m.address for m in status.members]
    if failures and len(failures) == len(asked):
        raise failures[0]
    raise ClusterError(
        f"{', '.join(sorted(asked))} know of no primary now (an election may be under way); "
        "retry in a moment, or see `tandemkv status`"
    )


def admin(address: str, password: Auth, *command: str, wait: float = 0.0) -> object:
    """Run an operator command, following a redirect to the primary."""
    client = RedirectingClient(address, password, timeout=ADMIN_TIMEOUT, wait_seconds=wait)
    try:
        return client.execute(*command)
    finally:
        client.close()


# ------------------------------------------------------------------ membership


def _add_backup(args: argparse.Namespace) -> int:
    command = ["ADD_BACKUP", args.backup]
    command += ["WITNESS"] if args.witness else []
    command += ["LEARNER"] if args.learner else []
    password = password_of(args)
    where = [args.primary] if args.primary else server_addresses(args)
    client = RedirectingClient(where, password, ADMIN_TIMEOUT, args.wait_seconds)
    try:
        client.execute(*command)
        primary = client.address
    finally:
        client.close()
    if not args.learner:
        _await_voter(primary, args.backup, password)
    print("OK")
    return EXIT_OK


def _await_voter(primary: str, address: str, password: Auth) -> None:
    """A new backup joins as a learner and may vote once it has caught up; wait for that,
    so that what follows (a failover, say) can count on it."""
    deadline = time.monotonic() + PROMOTION_WAIT
    while True:
        members = fetch_status(primary, password).status.members
        if any(m.address == address and m.role in (BACKUP, WITNESS) for m in members):
            return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{address} joined as a learner but has not caught up enough to vote after "
                f"{PROMOTION_WAIT:.0f}s; `tandemkv status` shows its progress"
            )
        time.sleep(0.05)


def _remove_node(args: argparse.Namespace) -> int:
    password = password_of(args)
    primary = find_primary(server_addresses(args), password, args.wait_seconds)
    admin(primary, password, "REMOVE_NODE", args.node, wait=args.wait_seconds)
    print("OK")
    return EXIT_OK


def _failover(args: argparse.Namespace) -> int:
    command = ["FAILOVER"]
    if args.to:
        try:
            target = parse_address(args.to, allow_port_zero=False)
        except ValueError as error:
            raise UsageError(f"--to: {error}") from None
        command += ["TO", target.host, str(target.port)]
    password = password_of(args)
    primary = find_primary(server_addresses(args), password, args.wait_seconds)
    admin(primary, password, *command, wait=args.wait_seconds)
    print(_new_primary(primary, password))
    return EXIT_OK


def _new_primary(old: str, password: Auth) -> str:
    """The primary after a handover, as the old one sees it (it learns at once; a moment
    more is allowed in case the reply overtook the news)."""
    deadline = time.monotonic() + NEW_PRIMARY_WAIT
    while True:
        status = fetch_status(old, password).status
        if status.role != PRIMARY and status.primary_address:
            return status.primary_address
        if time.monotonic() > deadline:
            raise ClusterError(f"the failover was accepted but {old} names no new primary yet")
        time.sleep(0.05)


# ------------------------------------------------------------------ forced promotion


def _promote(args: argparse.Namespace) -> int:
    if not args.force:
        raise UsageError(
            "promote needs --force: it makes one node the only voter of its group and loses "
            "writes it lacks; for a planned handover use `tandemkv failover`"
        )
    target = args.server or os.environ.get("TANDEMKV_SERVER")
    if not target and args.db_path:
        target = registered_on(str(args.db_path))
    if not target:
        raise UsageError(
            "promote needs --server HOST:PORT (or TANDEMKV_SERVER), or the --db-path of the "
            "node to promote"
        )
    if "," in str(target):
        raise UsageError("promote takes one node: --server HOST:PORT, not a list")
    password = password_of(args)
    print(promotion_risks(fetch_status(target, password).status), file=sys.stderr)
    if not args.yes and not _confirmed(sys.stdin.readline):
        print("tandemkv: not promoted (confirmation not given)", file=sys.stderr)
        return EXIT_USAGE
    with Client(target, password=password, timeout=ADMIN_TIMEOUT) as client:
        client.call("PROMOTE", "FORCE")
    print("OK")
    return EXIT_OK


def promotion_risks(status: NodeStatus) -> str:
    others = [m.address for m in status.members if m.node_id != status.node_id]
    listed = ", ".join(others) if others else "none known"
    return "\n".join(
        (
            f"tandemkv: PROMOTE FORCE on {status.address} (node {status.node_id}, {status.role}, "
            f"log index {status.last_index}, committed {status.commit_index}):",
            "  - it becomes the primary and the only voter of its group;",
            "  - writes the lost majority acknowledged that this node lacks are lost for good;",
            f"  - every other member ({listed}) must be stopped and its data directory removed "
            "before it rejoins as a new backup "
            f"(tandemkv server --role backup --primary {status.address}).",
            "Do this only if the majority cannot come back.",
        )
    )


def _confirmed(read_line: Callable[[], str]) -> bool:
    print("Type yes to continue: ", end="", file=sys.stderr, flush=True)
    return read_line().strip() == "yes"


# ------------------------------------------------------------------ status


@dataclass(frozen=True)
class MemberRow:
    """One member as `tandemkv status` shows it; None where it is not known."""

    node_id: int
    address: str
    role: str
    term: int | None
    last_index: int | None
    commit_index: int | None
    applied_index: int | None
    lag: int | None
    health: str  # ok, unhealthy (the primary lost touch), down (no answer here), up
    last_contact_ms: int | None


def _status(args: argparse.Namespace) -> int:
    password = password_of(args)
    asked, first = _first_status(server_addresses(args), password)
    views: dict[int, NodeStatus | None] = {first.status.node_id: first.status}
    primary = _primary_view(first.status, password)
    if primary is not None:
        views[primary.node_id] = primary
    membership = (primary or first.status).members
    if not membership:
        raise ClusterError(f"{asked} is in no group yet (role {first.status.role})")
    for member in membership:
        if member.node_id not in views:
            views[member.node_id] = _try_status(member, password)
    rows = [member_row(m, views.get(m.node_id), primary) for m in membership]
    seen_by = primary or first.status
    if args.json:
        report = status_json(first.group, asked, primary, rows)
        report["last_election"] = last_election_json(seen_by)
        print(json.dumps(report, indent=2))
    else:
        print(status_table(first.group, primary, rows, seen_by))
    return EXIT_OK


def last_election_json(status: NodeStatus) -> dict[str, object] | None:
    """When and why the current primary came, as `status` (preferably the primary's)
    saw it; None if that node has seen no primary come since it started."""
    if status.last_election_ago_ms < 0:
        return None
    return {
        "seen_by": status.address,
        "seconds_ago": round(status.last_election_ago_ms / 1000, 1),
        "term": status.last_election_term,
        "reason": status.last_election_reason,
        "elections_started_here": status.elections_started,
        "primary_changes_seen": status.primary_changes,
    }


def last_election_line(status: NodeStatus) -> str:
    if status.last_election_ago_ms < 0:
        return ""
    return (
        f"last election: {_ago(status.last_election_ago_ms)} ago, term "
        f"{status.last_election_term}, {status.last_election_reason or 'reason unknown'} "
        f"(as seen by {status.address}; {status.primary_changes} primary changes seen there "
        "since it started)"
    )


def _ago(ms: int) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _first_status(addresses: list[str], password: Auth) -> tuple[str, Report]:
    """The STATUS of the first of `addresses` that answers (any member will do)."""
    for address in addresses[:-1]:
        try:
            return address, fetch_status(address, password)
        except ConnectFailed:
            continue
    return addresses[-1], fetch_status(addresses[-1], password)


def _primary_view(status: NodeStatus, password: Auth) -> NodeStatus | None:
    if status.role == PRIMARY:
        return status
    if not status.primary_address:
        return None
    try:
        view = fetch_status(status.primary_address, password, STATUS_TIMEOUT).status
    except (ClientError, ServerError, ClusterError):
        return None
    return view if view.role == PRIMARY else None


def _try_status(member: MemberStatus, password: Auth) -> NodeStatus | None:
    try:
        view = fetch_status(member.address, password, STATUS_TIMEOUT).status
    except (ClientError, ServerError, ClusterError):
        return None
    return view if view.node_id == member.node_id else None  # another node took the port


def member_row(
    member: MemberStatus, own: NodeStatus | None, primary: NodeStatus | None
) -> MemberRow:
    """Merge what the member says of itself with what the primary knows of it."""
    seen = _seen_by(primary, member.node_id)
    is_primary = primary is not None and member.node_id == primary.node_id
    return MemberRow(
        node_id=member.node_id,
        address=member.address,
        role=own.role if own is not None else member.role,
        term=own.term if own is not None else None,
        last_index=own.last_index if own is not None else None,
        commit_index=own.commit_index if own is not None else None,
        applied_index=own.applied_index if own is not None else None,
        lag=_known(seen.lag) if seen is not None else None,
        health=_health(own, primary, seen, is_primary),
        last_contact_ms=None if seen is None or is_primary else _known(seen.last_contact_ms),
    )


def _health(
    own: NodeStatus | None,
    primary: NodeStatus | None,
    seen: MemberStatus | None,
    is_primary: bool,
) -> str:
    if own is None:
        return "down"
    if primary is None:
        return "up"
    if is_primary or seen is None or seen.healthy:
        return "ok"
    return "unhealthy"


def _seen_by(primary: NodeStatus | None, node_id: int) -> MemberStatus | None:
    if primary is None:
        return None
    return next((m for m in primary.members if m.node_id == node_id), None)


def _known(value: int) -> int | None:
    return None if value < 0 else value


def status_json(
    group: str, asked: str, primary: NodeStatus | None, rows: list[MemberRow]
) -> dict[str, object]:
    return {
        "group": group,
        "asked": asked,
        "primary": primary.address if primary is not None else None,
        "term": primary.term if primary is not None else None,
        "members": [asdict(row) for row in rows],
    }


COLUMNS = (
    "ID",
    "ADDRESS",
    "ROLE",
    "TERM",
    "LAST INDEX",
    "COMMIT INDEX",
    "LAG",
    "HEALTH",
    "LAST CONTACT",
)


def status_table(
    group: str,
    primary: NodeStatus | None,
    rows: list[MemberRow],
    seen_by: NodeStatus | None = None,
) -> str:
    heading = f"group {group}: " + (
        f"primary {primary.address}, term {primary.term}"
        if primary is not None
        else "no primary known"
    )
    cells = [list(COLUMNS)] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    view = seen_by or primary
    election = last_election_line(view) if view is not None else ""
    return "\n".join([heading, *lines] + ([election] if election else []))


def _cells(row: MemberRow) -> list[str]:
    def shown(value: int | None, unit: str = "") -> str:
        return "-" if value is None else f"{value}{unit}"

    return [
        str(row.node_id),
        row.address,
        row.role,
        shown(row.term),
        shown(row.last_index),
        shown(row.commit_index),
        shown(row.lag),
        row.health,
        shown(row.last_contact_ms, "ms"),
    ]


_VERBS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add-backup": _add_backup,
    "remove-node": _remove_node,
    "failover": _failover,
    "promote": _promote,
    "status": _status,
}
