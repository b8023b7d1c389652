"""Connection commands: PING ECHO AUTH HELLO SELECT RESET QUIT CLIENT, and NOAUTH gating."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tandemkv.commands.session import Session
from tandemkv.commands.settings import Settings
from tandemkv.commands.table import CommandSpec, unique_specs
from tandemkv.protocol.types import OK, PONG, SimpleString, Verbatim

from .harness import NOAUTH, NOT_INT, SYNTAX, WRONGPASS, Client, World, arity_err, err

PASSWORD = "s3cret"
NO_PASSWORD_CONFIGURED = err(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
HELLO_NOAUTH = err(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
    "select the RESP protocol version at the same time"
)
BAD_NAME = err("ERR Client names cannot contain spaces, newlines or special characters.")


@pytest.fixture
def locked() -> World:
    return World(settings=Settings(requirepass=PASSWORD))


# ------------------------------------------------------------------ PING / ECHO


def test_ping(c: Client) -> None:
    reply = c("PING")
    assert isinstance(reply, SimpleString) and reply == PONG
    assert c("PING", "hello") == b"hello"
    assert c("PING", "a", "b") == arity_err("ping")


def test_echo(c: Client) -> None:
    assert c("ECHO", b"\x00\xff") == b"\x00\xff"
    assert c("ECHO") == arity_err("echo")
    assert c("ECHO", "a", "b") == arity_err("echo")


def test_unknown_command_error_text(c: Client) -> None:
    assert c("FOO") == err("ERR unknown command 'FOO', with args beginning with: ")
    assert c("foo", "a", "b c") == err(
        "ERR unknown command 'foo', with args beginning with: 'a' 'b c' "
    )


def test_unknown_command_error_stays_short_and_printable(c: Client) -> None:
    reply = c("FOO\r\n", "x" * 500, "y")
    assert reply == err(
        "ERR unknown command 'FOO  ', with args beginning with: '" + "x" * 128 + "' "
    )


# ------------------------------------------------------------------ AUTH without a password


def test_auth_without_configured_password(c: Client) -> None:
    assert c("AUTH", "pw") == NO_PASSWORD_CONFIGURED
    assert c("AUTH", "bob", "pw") == WRONGPASS
    assert c("AUTH", "a", "b", "c") == SYNTAX
    assert c("AUTH") == arity_err("auth")


@pytest.mark.parametrize("command", ["AUTH", "HELLO"])
def test_auth_as_default_user_without_configured_password(c: Client, command: str) -> None:
    if command == "AUTH":
        assert c("AUTH", "default", "pw") == OK
    else:
        assert isinstance(c("HELLO", 3, "AUTH", "default", "pw"), dict)


def test_everything_runs_without_auth_when_no_password(c: Client) -> None:
    assert c("SET", "k", "v") == OK


# ------------------------------------------------------------------ requirepass


def test_noauth_before_authentication(locked: World) -> None:
    c = locked.client()
    for command in (
        ("GET", "k"),
        ("SET", "k", "v"),
        ("PING",),
        ("MULTI",),
        ("ECHO", "x"),
        ("CLIENT", "ID"),
        ("CONFIG", "GET", "*"),
        ("COMMAND",),
        ("SELECT", 0),
    ):
        assert c(*command) == NOAUTH
    assert locked.engine.keyspace.get(b"k", locked.now) is None


@pytest.mark.parametrize(
    "spec", [s for s in unique_specs() if "noauth" not in s.flags], ids=lambda s: s.name
)
def test_every_command_but_the_noauth_ones_needs_auth(locked: World, spec: CommandSpec) -> None:
    args = ["x"] * (abs(spec.arity) - 1)  # a valid argument count, so only auth can fail
    expected = NOAUTH
    if spec.name == "exec":  # Redis 7 reports any refused EXEC as an aborted transaction
        expected = err(
            "EXECABORT Transaction discarded because of: NOAUTH Authentication required."
        )
    assert locked.client()(spec.name, *args) == expected


def test_the_noauth_commands_are_redis_ones_and_peer() -> None:
    # PEER is ours: peers prove the cluster secret with PEER AUTH instead of a password.
    assert {s.name for s in unique_specs() if "noauth" in s.flags} == {
        "auth",
        "hello",
        "quit",
        "reset",
        "peer",
    }


def test_unknown_command_beats_noauth(locked: World) -> None:
    c = locked.client()
    assert c("FOO") == err("ERR unknown command 'FOO', with args beginning with: ")


def test_arity_error_beats_noauth(locked: World) -> None:
    assert locked.client()("GET") == arity_err("get")


def test_auth_with_password(locked: World) -> None:
    c = locked.client()
    assert c("AUTH", "wrong") == WRONGPASS
    assert c("GET", "k") == NOAUTH
    assert c("AUTH", PASSWORD) == OK
    assert c.session.authenticated
    assert c("GET", "k") is None


def test_auth_with_user_and_password(locked: World) -> None:
    c = locked.client()
    assert c("AUTH", "default", "wrong") == WRONGPASS
    assert c("AUTH", "bob", PASSWORD) == WRONGPASS
    assert c("AUTH", "default", PASSWORD) == OK
    assert c("PING") == PONG


def test_failed_auth_keeps_an_authenticated_connection(locked: World) -> None:
    c = locked.client()
    c("AUTH", PASSWORD)
    assert c("AUTH", "wrong") == WRONGPASS
    assert c("PING") == PONG


def test_quit_and_reset_need_no_auth(locked: World) -> None:
    c = locked.client()
    assert c("RESET") == "RESET"
    assert c("QUIT") == OK
    assert c.session.close_after_reply


def test_auth_inside_another_session_does_not_leak(locked: World) -> None:
    a, b = locked.client(), locked.client()
    a("AUTH", PASSWORD)
    assert b("GET", "k") == NOAUTH


def test_config_set_requirepass_locks_new_commands(world: World, c: Client) -> None:
    assert c("CONFIG", "SET", "requirepass", PASSWORD) == OK
    fresh = world.client()
    assert fresh("GET", "k") == NOAUTH
    assert fresh("AUTH", PASSWORD) == OK


# ------------------------------------------------------------------ HELLO


def test_hello_reply_shape(c: Client) -> None:
    reply = c("HELLO")
    assert isinstance(reply, dict)
    assert reply[b"server"] == b"redis"
    assert reply[b"version"] == b"7.2.0"
    assert reply[b"proto"] == 2
    assert reply[b"id"] == c.session.id
    assert reply[b"mode"] == b"standalone"
    assert reply[b"role"] == b"master"
    assert reply[b"modules"] == []


def test_hello_switches_protocol(c: Client) -> None:
    assert c("HELLO", 3)[b"proto"] == 3  # type: ignore[index]
    assert c.session.resp == 3
    assert c("HELLO")[b"proto"] == 3  # type: ignore[index]
    assert c("HELLO", 2)[b"proto"] == 2  # type: ignore[index]
    assert c.session.resp == 2


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("4",), err("NOPROTO unsupported protocol version")),
        (("1",), err("NOPROTO unsupported protocol version")),
        (("-1",), err("NOPROTO unsupported protocol version")),
        (("abc",), err("ERR Protocol version is not an integer or out of range")),
        (("02",), err("ERR Protocol version is not an integer or out of range")),
        (("3", "FOO"), err("ERR Syntax error in HELLO option 'FOO'")),
        (("3", "AUTH", "default"), err("ERR Syntax error in HELLO option 'AUTH'")),
        (("3", "SETNAME"), err("ERR Syntax error in HELLO option 'SETNAME'")),
        (("3", "SETNAME", "bad name"), BAD_NAME),
    ],
)
def test_hello_errors_leave_the_protocol_alone(
    c: Client, args: tuple[str, ...], reply: object
) -> None:
    assert c("HELLO", *args) == reply
    assert c.session.resp == 2


def test_hello_setname(c: Client) -> None:
    c("HELLO", 3, "SETNAME", "worker-1")
    assert c("CLIENT", "GETNAME") == b"worker-1"


def test_hello_requires_auth_when_locked(locked: World) -> None:
    c = locked.client()
    assert c("HELLO") == HELLO_NOAUTH
    assert c("HELLO", 3) == HELLO_NOAUTH
    assert c("HELLO", 3, "SETNAME", "x") == HELLO_NOAUTH
    assert c.session.resp == 2
    assert c("CLIENT", "GETNAME") == NOAUTH


def test_hello_auth(locked: World) -> None:
    c = locked.client()
    assert c("HELLO", 3, "AUTH", "default", "bad") == WRONGPASS
    assert not c.session.authenticated
    reply = c("HELLO", 3, "AUTH", "default", PASSWORD, "SETNAME", "nm")
    assert isinstance(reply, dict) and reply[b"proto"] == 3
    assert c.session.authenticated and c.session.resp == 3
    assert c("CLIENT", "GETNAME") == b"nm"


def test_hello_bad_version_is_reported_before_auth(locked: World) -> None:
    c = locked.client()
    assert c("HELLO", 4, "AUTH", "default", "bad") == err("NOPROTO unsupported protocol version")


# ------------------------------------------------------------------ SELECT / RESET / QUIT


def test_select(c: Client) -> None:
    assert c("SELECT", 0) == OK
    assert c("SELECT", 1) == err("ERR DB index is out of range")
    assert c("SELECT", -1) == err("ERR DB index is out of range")
    assert c("SELECT", "abc") == NOT_INT


def test_reset_returns_the_session_to_its_start(world: World, c: Client) -> None:
    other = world.client()
    c("HELLO", 3, "SETNAME", "nm")
    c("WATCH", "k")
    c("MULTI")
    c("SET", "k", "v")
    reply = c("RESET")
    assert isinstance(reply, SimpleString) and reply == "RESET"
    assert c.session.resp == 2
    assert c("CLIENT", "GETNAME") is None
    assert c.session.queued is None and not c.session.watched
    other("SET", "k", "x")
    c("MULTI")
    c("PING")
    assert c("EXEC") == ["PONG"]


def test_reset_logs_out_when_locked(locked: World) -> None:
    c = locked.client()
    c("AUTH", PASSWORD)
    c("RESET")
    assert c("GET", "k") == NOAUTH


def test_quit(c: Client) -> None:
    assert c("QUIT") == OK
    assert c.session.close_after_reply


# ------------------------------------------------------------------ CLIENT


class FakeHost:
    """A host with a fixed set of sessions that records kills."""

    def __init__(self, sessions: Iterable[Session]) -> None:
        self.all = list(sessions)
        self.killed: list[Session] = []

    def sessions(self) -> Iterable[Session]:
        return list(self.all)

    def kill(self, session: Session) -> None:
        self.killed.append(session)

    def server_info(self) -> dict[str, dict[str, object]]:
        return {}

    def request_shutdown(self) -> None:
        pass

    def save(self, background: bool) -> object:
        raise AssertionError("not used")

    def last_save_time(self) -> int:
        return 0


@pytest.fixture
def crowd() -> tuple[FakeHost, Client, list[Session]]:
    sessions = [
        Session(id=i, addr=f"127.0.0.1:{5000 + i}", laddr="127.0.0.1:7000") for i in range(1, 5)
    ]
    host = FakeHost(sessions)
    world = World(host=host)
    world.engine.now_ms = 5_000
    me = Client(world.engine, sessions[0])
    return host, me, sessions


def test_client_id_setname_getname(c: Client) -> None:
    assert c("CLIENT", "ID") == c.session.id
    assert c("CLIENT", "GETNAME") is None
    assert c("CLIENT", "SETNAME", "nm") == OK
    assert c("CLIENT", "GETNAME") == b"nm"
    assert c("CLIENT", "SETNAME", "") == OK
    assert c("CLIENT", "GETNAME") is None


@pytest.mark.parametrize("name", ["my name", "a\nb", "caf\xe9", "\x7f"])
def test_client_setname_refuses_special_characters(c: Client, name: str) -> None:
    assert c("CLIENT", "SETNAME", name) == BAD_NAME


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("GETNAME", "x"), arity_err("client|getname")),
        (("SETNAME",), arity_err("client|setname")),
        (("ID", "x"), arity_err("client|id")),
        (("INFO", "x"), arity_err("client|info")),
        (("FOO",), err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")),
        (("SETINFO", "lib-name"), arity_err("client|setinfo")),
        (("SETINFO", "FOO", "x"), err("ERR Unrecognized option 'FOO'")),
        (
            ("SETINFO", "LIB-VER", "1 2"),
            err("ERR LIB-VER cannot contain spaces, newlines or special characters."),
        ),
    ],
)
def test_client_errors(c: Client, args: tuple[str, ...], reply: object) -> None:
    assert c("CLIENT", *args) == reply


def test_client_without_subcommand(c: Client) -> None:
    assert c("CLIENT") == arity_err("client")


def test_client_setinfo_shows_in_client_info(c: Client) -> None:
    assert c("CLIENT", "SETINFO", "lib-name", "redis-py") == OK
    assert c("CLIENT", "SETINFO", "LIB-VER", "5.0.1") == OK
    info = c("CLIENT", "INFO")
    assert isinstance(info, Verbatim)
    assert b" lib-name=redis-py " in info.text
    assert info.text.endswith(b" lib-ver=5.0.1\n")


def test_client_info_describes_this_connection(c: Client) -> None:
    c("CLIENT", "SETNAME", "nm")
    info = c("CLIENT", "INFO")
    assert isinstance(info, Verbatim) and info.fmt == "txt"
    fields = dict(f.split("=", 1) for f in info.text.decode().strip().split(" "))
    assert fields["id"] == str(c.session.id)
    assert fields["name"] == "nm"
    assert fields["db"] == "0"
    assert fields["multi"] == "-1"
    assert fields["resp"] == "2"
    assert fields["user"] == "default"


def test_client_info_counts_watched_keys(c: Client) -> None:
    c("WATCH", "a", "b")
    info = c("CLIENT", "INFO")
    assert isinstance(info, Verbatim)
    assert " watch=2 " in info.text.decode()


def test_client_list_has_one_line_per_session(
    crowd: tuple[FakeHost, Client, list[Session]],
) -> None:
    _, me, sessions = crowd
    listing = me("CLIENT", "LIST")
    assert isinstance(listing, Verbatim)
    lines = listing.text.decode().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [f"id={s.id}" for s in sessions]
    assert "addr=127.0.0.1:5002 laddr=127.0.0.1:7000" in lines[1]


def test_client_kill_by_address(crowd: tuple[FakeHost, Client, list[Session]]) -> None:
    host, me, sessions = crowd
    assert me("CLIENT", "KILL", "127.0.0.1:5003") == OK
    assert host.killed == [sessions[2]]
    assert me("CLIENT", "KILL", "1.2.3.4:5") == err("ERR No such client")


def test_client_kill_filters(crowd: tuple[FakeHost, Client, list[Session]]) -> None:
    host, me, sessions = crowd
    assert me("CLIENT", "KILL", "ID", 2) == 1
    assert host.killed == [sessions[1]]
    assert me("CLIENT", "KILL", "ID", 999) == 0
    assert me("CLIENT", "KILL", "ADDR", "127.0.0.1:5004", "ID", 4) == 1
    assert me("CLIENT", "KILL", "ADDR", "127.0.0.1:5004", "ID", 3) == 0


def test_client_kill_skips_the_caller_unless_told(
    crowd: tuple[FakeHost, Client, list[Session]],
) -> None:
    host, me, sessions = crowd
    assert me("CLIENT", "KILL", "LADDR", "127.0.0.1:7000") == 3
    assert sessions[0] not in host.killed
    assert me("CLIENT", "KILL", "ID", 1, "SKIPME", "no") == 1
    assert host.killed[-1] is sessions[0]
    assert me("CLIENT", "KILL", "ID", 1, "SKIPME", "yes") == 0


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("ID",), err("ERR No such client")),
        (("FOO", "bar"), SYNTAX),
        (("SKIPME", "maybe"), SYNTAX),
        (("ID", 1, "ID"), SYNTAX),
    ],
)
def test_client_kill_syntax(
    crowd: tuple[FakeHost, Client, list[Session]], args: tuple[object, ...], reply: object
) -> None:
    host, me, _ = crowd
    assert me("CLIENT", "KILL", *args) == reply
    assert host.killed == []


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("ID", "abc"), err("ERR client-id should be greater than 0")),
        (("ID", 0), err("ERR client-id should be greater than 0")),
        (("ID", -5), err("ERR client-id should be greater than 0")),
        (("USER", "nobody"), err("ERR No such user 'nobody'")),
    ],
)
def test_client_kill_id_and_user_errors(
    crowd: tuple[FakeHost, Client, list[Session]], args: tuple[object, ...], reply: object
) -> None:
    _, me, _ = crowd
    assert me("CLIENT", "KILL", *args) == reply


def test_client_list_with_junk_arguments(c: Client) -> None:
    assert c("CLIENT", "LIST", "x") == SYNTAX


def test_client_help_lists_the_subcommands(c: Client) -> None:
    lines = c("CLIENT", "HELP")
    assert isinstance(lines, list) and len(lines) > 5
    text = b"\n".join(line.encode() if isinstance(line, str) else line for line in lines)
    for sub in (b"ID", b"GETNAME", b"SETNAME", b"LIST", b"INFO", b"KILL", b"SETINFO"):
        assert sub in text
