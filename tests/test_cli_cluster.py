"""The CLI in cluster mode: the seed README's sequence run verbatim, the cluster verbs
(status, failover, remove-node, promote), redirects, and local discovery of servers.

Unit tests first (registry, discovery, redirects, the status table: no processes), then
end-to-end tests on real two-node groups started exactly as the README says, except that
free ports replace its 7001 and 7002.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.servers import READY_PATTERN, free_port, run_tandemkv, tandemkv_command, tandemkv_env
from tandemkv import cli
from tandemkv.client_verbs import DiscoveryError, Probe, find_server, redirect_target
from tandemkv.cluster_verbs import member_row, status_table
from tandemkv.commands.cluster_view import MemberStatus, NodeStatus
from tandemkv.config import DEFAULT_ADDRESS
from tandemkv.server import registry

# ------------------------------------------------------------------ registry


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "runtime"
    monkeypatch.setenv(registry.RUNTIME_DIR_ENV, str(path))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_entry(directory: Path, pid: int, address: str, data_dir: str = "/data") -> Path:
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / f"server-{pid}-{address.rpartition(':')[2]}.json"
    entry = {"pid": pid, "address": address, "data_dir": data_dir, "started": "2024-01-01"}
    path.write_text(json.dumps(entry))
    return path


def test_register_writes_an_entry_in_a_private_directory(runtime: Path, tmp_path: Path) -> None:
    path = registry.register("127.0.0.1:7123", "relative-data")
    assert path is not None and path.parent == runtime
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    [entry] = registry.live_entries()
    assert (entry.pid, entry.address) == (os.getpid(), "127.0.0.1:7123")
    assert entry.data_dir == os.path.abspath("relative-data")
    assert entry.started
    registry.unregister(path)
    assert registry.live_entries() == []
    assert list(runtime.iterdir()) == []


def test_only_loopback_servers_register(runtime: Path) -> None:
    assert registry.register("0.0.0.0:7123", "data") is None
    assert registry.register("192.0.2.1:7123", "data") is None
    assert registry.live_entries() == []


def test_entries_of_dead_processes_are_ignored_and_removed(runtime: Path) -> None:
    stale = write_entry(runtime, dead_pid(), "127.0.0.1:7124")
    live = write_entry(runtime, os.getpid(), "127.0.0.1:7125")
    (runtime / "server-garbage.json").write_text("{not json")
    assert [e.address for e in registry.live_entries()] == ["127.0.0.1:7125"]
    assert not stale.exists()
    assert live.exists()


def test_a_directory_others_can_enter_is_made_private_and_a_symlink_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    monkeypatch.setenv(registry.RUNTIME_DIR_ENV, str(loose))
    assert registry.register("127.0.0.1:7126", "data") is not None
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    link = tmp_path / "link"
    link.symlink_to(loose)
    monkeypatch.setenv(registry.RUNTIME_DIR_ENV, str(link))
    assert registry.register("127.0.0.1:7127", "data") is None
    assert registry.live_entries() == []


def test_runtime_dir_without_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registry.RUNTIME_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert registry.runtime_dir() == tmp_path / "tandemkv"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    assert registry.runtime_dir() == tmp_path / "tmp" / f"tandemkv-{os.getuid()}"


# ------------------------------------------------------------------ discovery


def entry(address: str, data_dir: str = "") -> registry.Entry:
    return registry.Entry(1, address, data_dir or f"/data/{address}", "", Path("x.json"))


def member(address: str, *others: str, primary: str = "") -> Probe:
    return Probe(address, "member", frozenset({address, *others}), primary)


def asker(answers: dict[str, Probe | None]) -> Callable[[str], Probe | None]:
    def ask(address: str) -> Probe | None:
        return answers[address]

    return ask


def test_nothing_registered_means_the_default_address() -> None:
    assert find_server([], asker({})) == DEFAULT_ADDRESS


def test_a_server_at_the_default_address_wins_without_asking_anyone() -> None:
    entries = [entry("127.0.0.1:9001"), entry(DEFAULT_ADDRESS)]
    assert find_server(entries, asker({})) == DEFAULT_ADDRESS


def test_one_group_means_its_primary() -> None:
    a, b = "127.0.0.1:9001", "127.0.0.1:9002"
    answers = {a: member(a, b, primary=b), b: member(b, a, primary=b)}
    assert find_server([entry(a), entry(b)], asker(answers)) == b
    # Only a backup registered (the primary runs elsewhere): it names the primary.
    assert find_server([entry(a)], asker(answers)) == b


def test_one_group_without_a_known_primary_means_one_of_its_members() -> None:
    a, b = "127.0.0.1:9001", "127.0.0.1:9002"
    answers = {a: member(a, b), b: member(b, a)}
    assert find_server([entry(a), entry(b)], asker(answers)) in (a, b)


def test_servers_that_do_not_answer_are_left_out() -> None:
    a, b = "127.0.0.1:9001", "127.0.0.1:9002"
    answers = {a: None, b: Probe(b, "standalone")}
    assert find_server([entry(a), entry(b)], asker(answers)) == b
    assert find_server([entry(a)], asker(answers)) == DEFAULT_ADDRESS


def test_a_node_in_no_group_yet_does_not_compete_with_a_group() -> None:
    a, b, c = "127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"
    answers = {
        a: member(a, b, primary=a),
        b: member(b, a, primary=a),
        c: Probe(c, "detached", frozenset({c})),
    }
    entries = [entry(a), entry(b), entry(c)]
    assert find_server(entries, asker(answers)) == a


def test_several_groups_is_an_error_that_lists_them() -> None:
    a, b, c = "127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"
    answers = {a: member(a, b, primary=a), b: member(b, a, primary=a), c: Probe(c, "standalone")}
    with pytest.raises(DiscoveryError) as raised:
        find_server([entry(a), entry(b), entry(c)], asker(answers))
    message = str(raised.value)
    assert "\n" not in message
    for text in (a, b, c, "/data/127.0.0.1:9003", "standalone", "--server"):
        assert text in message


def test_redirect_targets_from_the_servers_refusals() -> None:
    write = "READONLY You can't write against a read only replica. The primary is 127.0.0.1:7001"
    read = (
        "READONLY this node is a backup; reads go to the primary (127.0.0.1:7001), or "
        "send READONLY first to read possibly stale data here"
    )
    admin = "READONLY this node is not the primary; the primary is [::1]:7001"
    assert redirect_target(write) == "127.0.0.1:7001"
    assert redirect_target(read) == "127.0.0.1:7001"
    assert redirect_target(admin) == "[::1]:7001"
    assert (
        redirect_target("READONLY The primary is not known yet (an election is under way)") is None
    )
    assert redirect_target("ERR the primary is 127.0.0.1:7001") is None


# ------------------------------------------------------------------ status table


def test_status_rows_merge_each_members_view_with_the_primarys() -> None:
    p = MemberStatus(1, "127.0.0.1:9001", "primary", 9, 0, True, 0)
    b = MemberStatus(2, "127.0.0.1:9002", "backup", 7, 2, False, 1500)
    primary = NodeStatus(1, p.address, "primary", 4, 1, p.address, 9, 9, 9, "majority", (p, b))
    backup = NodeStatus(2, b.address, "backup", 4, 1, p.address, 7, 7, 7, "majority", (p, b))
    rows = [member_row(p, primary, primary), member_row(b, backup, primary)]
    assert (rows[0].health, rows[0].last_contact_ms) == ("ok", None)
    assert (rows[1].health, rows[1].lag, rows[1].last_contact_ms) == ("unhealthy", 2, 1500)
    down = member_row(b, None, primary)
    assert (down.health, down.term, down.last_index, down.role) == ("down", None, None, "backup")
    table = status_table("tandemkv", primary, [rows[0], down]).splitlines()
    assert table[0] == "group tandemkv: primary 127.0.0.1:9001, term 4"
    assert table[1].split() == [
        "ID",
        "ADDRESS",
        "ROLE",
        "TERM",
        "LAST",
        "INDEX",
        "COMMIT",
        "INDEX",
        "LAG",
        "HEALTH",
        "LAST",
        "CONTACT",
    ]
    assert table[2].split() == ["1", p.address, "primary", "4", "9", "9", "0", "ok", "-"]
    assert table[3].split() == ["2", b.address, "backup", "-", "-", "-", "2", "down", "1500ms"]
    assert table[2].index(p.address) == table[3].index(b.address)  # aligned columns


@pytest.mark.parametrize("verb", cli.CLUSTER_VERBS)
def test_cluster_verbs_have_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([verb, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tandemkv {verb}") and "--server" in out


def test_promote_without_force_refuses_before_contacting_anyone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["promote", "--server", f"127.0.0.1:{free_port()}", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tandemkv: promote needs --force") and err.count("\n") == 1


# ------------------------------------------------------------------ the README, end to end

SEED = (
    "tandemkv --db-path primary.json server --address 127.0.0.1:7001 --role primary",
    "tandemkv --db-path backup.json server --address 127.0.0.1:7002 --role backup "
    "--primary 127.0.0.1:7001",
    "tandemkv add-backup --primary 127.0.0.1:7001 --backup 127.0.0.1:7002",
    "tandemkv put mykey myvalue",
    "tandemkv get mykey",
)
START_TIMEOUT = 15.0


class PortTaken(Exception):
    pass


class SeedGroup:
    """The README's two servers, run from one directory with their relative --db-path."""

    def __init__(self, workdir: Path, runtime: Path) -> None:
        self.workdir = workdir
        self.env = {registry.RUNTIME_DIR_ENV: str(runtime)}
        self.ports = (free_port(), free_port())
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def primary(self) -> str:
        return f"127.0.0.1:{self.ports[0]}"

    @property
    def backup(self) -> str:
        return f"127.0.0.1:{self.ports[1]}"

    def words(self, line: str) -> list[str]:
        """A README line with this group's ports, minus the leading `tandemkv`."""
        first, second = self.ports
        line = line.replace("127.0.0.1:7001", f"127.0.0.1:{first}")
        line = line.replace("127.0.0.1:7002", f"127.0.0.1:{second}")
        program, *args = line.split()
        assert program == "tandemkv"
        return args

    def start(self, line: str) -> None:
        n = len(self.procs)
        with (
            open(self.workdir / f"server{n}.out", "wb") as out,
            open(self.workdir / f"server{n}.err", "wb") as err,
        ):
            proc = subprocess.Popen(
                tandemkv_command(*self.words(line)),
                cwd=self.workdir,
                env=tandemkv_env(self.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.procs.append(proc)
        self._await_ready(n, proc)

    def _await_ready(self, n: int, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            out = (self.workdir / f"server{n}.out").read_text()
            if any(READY_PATTERN.match(line) for line in out.splitlines()):
                return
            if proc.poll() is not None:
                err = (self.workdir / f"server{n}.err").read_text()
                if "already in use" in err:
                    raise PortTaken(err)
                raise AssertionError(f"server {n} exited ({proc.returncode}):\n{err}")
            time.sleep(0.02)
        raise AssertionError(f"server {n} printed no ready line")

    def run(self, line: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.cli(*self.words(line), stdin=stdin)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_tandemkv(
            *args,
            env=self.env,
            cwd=self.workdir,
            timeout=40,
            stdin=stdin.encode() if stdin is not None else None,
        )

    def status(self, server: str) -> dict[str, object]:
        result = self.cli("status", "--json", "--server", server)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert isinstance(data, dict)
        return data

    def stop_all(self) -> list[int | None]:
        """SIGTERM each server by pid, SIGKILL it if it lingers; their exit codes."""
        codes: list[int | None] = []
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            codes.append(proc.returncode)
        return codes


def ok(result: subprocess.CompletedProcess[str], stdout: str = "OK\n") -> None:
    assert (result.returncode, result.stdout) == (0, stdout), result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[SeedGroup]:
    """The README's first two lines, run: a primary and a backup that joins it."""
    groups: list[SeedGroup] = []
    try:
        for _attempt in range(3):
            group = SeedGroup(tmp_path / f"try{len(groups)}", tmp_path / "runtime")
            group.workdir.mkdir()
            groups.append(group)
            try:
                group.start(SEED[0])
                group.start(SEED[1])
                break
            except PortTaken:
                group.stop_all()
        else:
            pytest.fail("no free pair of ports in three tries")
        yield groups[-1]
    finally:
        for group in groups:
            group.stop_all()


@pytest.fixture
def seeded(servers: SeedGroup) -> SeedGroup:
    ok(servers.run(SEED[2]))
    return servers


@pytest.mark.timeout(60)
def test_readme_sequence_verbatim(servers: SeedGroup, tmp_path: Path) -> None:
    assert sorted(p.name for p in servers.workdir.iterdir() if p.is_dir()) == [
        "backup.json",
        "primary.json",
    ]  # the README's relative data directories
    ok(servers.run(SEED[2]))
    ok(servers.run(SEED[3]))  # no --server: found through the registry
    ok(servers.run(SEED[4]), "myvalue\n")
    # A clean stop removes the servers' registry entries.
    assert len(list((tmp_path / "runtime").glob("server-*.json"))) == 2
    assert servers.stop_all() == [0, 0]
    assert list((tmp_path / "runtime").glob("server-*.json")) == []


@pytest.mark.timeout(60)
def test_status_redirects_and_promote_refusals(seeded: SeedGroup) -> None:
    table = seeded.cli("status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"group tandemkv: primary {seeded.primary}")
    rows = {line.split()[1]: line.split() for line in lines[2:]}
    assert rows[seeded.primary][2] == "primary" and rows[seeded.backup][2] == "backup"
    assert rows[seeded.primary][7] == "ok" and rows[seeded.backup][7] == "ok"

    from_backup = seeded.status(seeded.backup)  # works from any member
    assert from_backup["primary"] == seeded.primary
    members = from_backup["members"]
    assert isinstance(members, list)
    assert {m["address"]: m["role"] for m in members} == {
        seeded.primary: "primary",
        seeded.backup: "backup",
    }

    # A backup refuses writes and plain reads; the CLI follows it to the primary.
    ok(seeded.cli("--server", seeded.backup, "put", "k", "v"))
    ok(seeded.cli("--server", seeded.backup, "get", "k"), "v\n")
    ok(seeded.cli("get", "k"), "v\n")

    refused = seeded.cli("promote", "--server", seeded.backup, "--yes")
    assert refused.returncode == 2 and "--force" in refused.stderr
    declined = seeded.cli("promote", "--force", "--server", seeded.backup, stdin="no\n")
    assert declined.returncode == 2
    assert "only voter" in declined.stderr and "Type yes to continue:" in declined.stderr
    assert seeded.status(seeded.backup)["primary"] == seeded.primary


@pytest.mark.timeout(60)
def test_failover_moves_the_primary_to_the_backup(seeded: SeedGroup) -> None:
    ok(seeded.cli("failover"), f"{seeded.backup}\n")
    status = seeded.status(seeded.primary)
    assert status["primary"] == seeded.backup
    assert isinstance(status["members"], list)
    roles = {m["address"]: m["role"] for m in status["members"]}
    assert roles == {seeded.primary: "backup", seeded.backup: "primary"}
    ok(seeded.cli("put", "after", "failover"))  # discovery follows the group
    ok(seeded.cli("--server", seeded.primary, "put", "again", "x"))  # and the redirect
    ok(seeded.cli("get", "after"), "failover\n")
    ok(
        seeded.cli("failover", "--server", seeded.backup, "--to", seeded.primary),
        f"{seeded.primary}\n",
    )


@pytest.mark.timeout(60)
def test_remove_node_removes_the_backup(seeded: SeedGroup) -> None:
    ok(seeded.cli("remove-node", "--server", seeded.backup, seeded.backup))
    status = seeded.status(seeded.primary)
    assert isinstance(status["members"], list)
    assert [m["address"] for m in status["members"]] == [seeded.primary]
    ok(seeded.cli("--server", seeded.primary, "put", "alone", "yes"))
    unknown = seeded.cli("remove-node", seeded.backup)
    assert unknown.returncode == cli.EXIT_SERVER_ERROR and "no member" in unknown.stderr
    assert unknown.stderr.count("\n") == 1


@pytest.mark.timeout(60)
def test_promote_force_after_losing_the_primary(seeded: SeedGroup) -> None:
    ok(seeded.cli("put", "before", "loss"))
    seeded.procs[0].send_signal(signal.SIGTERM)
    assert seeded.procs[0].wait(timeout=10) == 0
    # A stopped primary hands its role over first, so the backup may briefly be a primary
    # that still counts the stopped node as in touch; it accepts PROMOTE FORCE once its
    # election timeout has passed without hearing from it.
    deadline = time.monotonic() + 10
    while True:
        promoted = seeded.cli("promote", "--force", "--server", seeded.backup, stdin="yes\n")
        if "working group" not in promoted.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ok(promoted)
    assert "only voter" in promoted.stderr and seeded.primary in promoted.stderr
    deadline = time.monotonic() + 10
    while seeded.status(seeded.backup)["primary"] != seeded.backup:
        assert time.monotonic() < deadline, "the promoted node did not become primary"
        time.sleep(0.1)
    ok(seeded.cli("put", "after", "loss"))  # the only server left is found and used
    ok(seeded.cli("get", "before"), "loss\n")
