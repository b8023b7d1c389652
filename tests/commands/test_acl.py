"""Users and ACLs in the engine: rules as Redis 7.0 parses and shows them, the checks and
their NOPERM texts, authentication, live sessions following changes, and users as
replicated state (mutations that replay, snapshots, FLUSHALL). Texts checked against
redis-server 7.0.15."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tandemkv.commands import acl_checks, acl_model
from tandemkv.commands.acl import parse_acl_file
from tandemkv.commands.acl_model import RuleError
from tandemkv.commands.detached import DetachedHost
from tandemkv.commands.session import Session
from tandemkv.commands.settings import Settings
from tandemkv.protocol.types import OK, ErrorReply, SetReply
from tandemkv.storage.codec import decode_mutation, encode_mutation
from tandemkv.storage.keyspace import Keyspace
from tandemkv.storage.mutation import DeleteUsers, FlushAll, SetUser
from tandemkv.storage.store import keyspace_items, load_items

from .harness import WRONGPASS, Client, World, replay

PW_HASH = hashlib.sha256(b"pw").hexdigest()
NOPERM_KEYS = ErrorReply(
    "NOPERM this user has no permissions to access one of the keys used as arguments"
)
NOPERM_CHANNELS = ErrorReply(
    "NOPERM this user has no permissions to access one of the channels used as arguments"
)


def noperm(command: str) -> ErrorReply:
    return ErrorReply(f"NOPERM this user has no permissions to run the '{command}' command")


class Sessions(DetachedHost):
    """A host that knows its sessions, as a server does, so changes reach them."""

    def __init__(self) -> None:
        super().__init__()
        self.live: list[Session] = []

    def sessions(self) -> list[Session]:
        return self.live

    def random_bytes(self, size: int) -> bytes:
        return bytes(range(size))


class Users:
    """An engine with a server's sessions: `connect()` opens one as a server does."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.host = Sessions()
        self.world = World(settings, host=self.host)
        self.engine = self.world.engine

    def connect(self) -> Client:
        client = self.world.client()
        self.engine.acl.start(client.session)
        self.host.live.append(client.session)
        return client


@pytest.fixture
def users() -> Users:
    return Users()


def line(rules: str) -> str:
    user = acl_model.from_rules(b"t", [r.encode() for r in rules.split()])
    return b" ".join(acl_model.describe(user)).decode()


# ------------------------------------------------------------------ rules (pure)


@pytest.mark.parametrize(
    ("rules", "shown"),
    [  # redis-server 7.0.15's ACL LIST for `ACL SETUSER t <rules>`
        ("+get -get", "off resetchannels -@all"),
        ("+@read -get +get", "off resetchannels -@all +@read"),
        ("+@all -flushall", "off resetchannels +@all -flushall"),
        ("allcommands +@read", "off resetchannels +@all"),
        ("nocommands +client|setname", "off resetchannels -@all +client|setname"),
        ("+@read +@write -@read", "off resetchannels -@all +@write"),
        ("+client -client|kill", "off resetchannels -@all +client -client|kill"),
        ("+get +set +get", "off resetchannels -@all +set +get"),
        ("-@all +@all -get", "off resetchannels +@all -get"),
        ("~a ~b %R~c %W~d %RW~e allkeys", "off ~* resetchannels -@all"),
        ("resetkeys ~x &ch allchannels", "off ~x &* -@all"),
        ("nopass >a", "off #" + hashlib.sha256(b"a").hexdigest() + " resetchannels -@all"),
        (">a >b <a", "off #" + hashlib.sha256(b"b").hexdigest() + " resetchannels -@all"),
        ("reset", "off sanitize-payload resetchannels -@all"),
        (
            "on nopass ~a %R~c %W~d %RW~e &ch &c* +get",
            "on nopass ~a %R~c %W~d ~e resetchannels &ch &c* -@all +get",
        ),
    ],
)
def test_rules_are_shown_as_redis_shows_them(rules: str, shown: str) -> None:
    assert line(rules) == shown
    # What is shown (and logged) rebuilds the same user.
    again = acl_model.from_rules(b"t", [r.encode() for r in shown.split()])
    assert b" ".join(acl_model.describe(again)).decode() == shown


def test_a_pattern_with_a_space_is_one_rule() -> None:
    user = acl_model.from_rules(b"t", [b"~a b", b"&c d"])
    rules = acl_model.describe(user)
    assert b"~a b" in rules and b"&c d" in rules
    assert acl_model.describe(acl_model.from_rules(b"t", rules)) == rules


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("foo", "Syntax error"),
        ("+nosuch", "Unknown command or category name in ACL"),
        ("+@nosuch", "Unknown command or category name in ACL"),
        (
            "#abc",
            "The password hash must be exactly 64 characters and contain only lowercase "
            "hexadecimal characters",
        ),
        ("<nosuch", "The password you are trying to remove from the user does not exist"),
        ("!" + "0" * 64, "The password you are trying to remove from the user does not exist"),
        ("%X~a", "Syntax error"),
        ("%~y", "Syntax error"),
    ],
)
def test_bad_rules_name_the_modifier(rule: str, reason: str) -> None:
    with pytest.raises(RuleError) as raised:
        acl_model.from_rules(b"t", [rule.encode()])
    assert str(raised.value) == f"Error in ACL SETUSER modifier '{rule}': {reason}"


def test_patterns_after_a_star_are_refused() -> None:
    with pytest.raises(RuleError, match="after the \\* pattern \\(or the 'allkeys' flag\\)"):
        acl_model.from_rules(b"t", [b"allkeys", b"~y"])
    with pytest.raises(RuleError, match="'allchannels' flag"):
        acl_model.from_rules(b"t", [b"&*", b"&y"])


def test_acl_file_errors_name_the_line() -> None:
    users = parse_acl_file(b"# users\n\nuser app on >pw ~app:* +@read\nuser ops on nopass +@all\n")
    assert [u.name for u in users] == [b"app", b"ops"]
    with pytest.raises(RuleError, match=r"^line 2: Error in ACL SETUSER modifier 'bogus'"):
        parse_acl_file(b"user a on\nuser b bogus\n")
    with pytest.raises(RuleError, match=r"^line 1: should start with user keyword"):
        parse_acl_file(b"users a on\n")
    with pytest.raises(RuleError, match=r"^line 2: duplicate user 'a'"):
        parse_acl_file(b"user a on\nuser a off\n")


def test_key_positions_follow_redis_for_moving_keys() -> None:
    user = acl_model.from_rules(b"t", [b"+@all", b"~app:*"])
    from tandemkv.commands.table import lookup

    def denied(*args: str) -> bool:
        raw = [a.encode() for a in args]
        spec = lookup(raw[0])
        assert spec is not None
        return acl_checks.check(user, spec, raw) is not None

    assert not denied("ZUNIONSTORE", "app:d", "2", "app:a", "app:b", "WEIGHTS", "1", "2")
    assert denied("ZUNIONSTORE", "app:d", "2", "app:a", "other")
    assert denied("ZUNIONSTORE", "other", "1", "app:a")
    assert not denied("XREAD", "COUNT", "1", "STREAMS", "app:s", "0")
    assert denied("XREAD", "STREAMS", "app:s", "other", "0", "0")
    assert not denied("BLPOP", "app:a", "app:b", "0")
    assert denied("BLPOP", "app:a", "other", "0")
    assert not denied("BLMPOP", "0", "1", "app:a", "LEFT")
    assert denied("LMPOP", "2", "app:a", "other", "LEFT")
    assert not denied("MSET", "app:a", "other", "app:b", "1")  # values are not keys
    assert denied("MSET", "app:a", "1", "other", "1")
    assert not denied("KEYS", "*")  # no key arguments: Redis checks none


def test_read_and_write_key_permissions() -> None:
    user = acl_model.from_rules(b"t", [b"+@all", b"%R~r:*", b"%W~w:*"])
    from tandemkv.commands.table import lookup

    def allowed(*args: str) -> bool:
        raw = [a.encode() for a in args]
        spec = lookup(raw[0])
        assert spec is not None
        return acl_checks.check(user, spec, raw) is None

    assert allowed("GET", "r:1") and not allowed("SET", "r:1", "v")
    assert allowed("SET", "w:1", "v") and not allowed("GET", "w:1")
    assert not allowed("INCR", "w:1")  # reads the value too: needs both
    assert not allowed("SET", "w:1", "v", "GET")  # SET ... GET reads it
    assert allowed("EXISTS", "w:1") and allowed("EXISTS", "r:1")  # neither: any pattern
    assert not allowed("EXISTS", "other")
    assert allowed("TTL", "r:1") and not allowed("TTL", "w:1")
    # A source and a destination: each key needs what Redis's key spec for it says.
    assert allowed("SINTERSTORE", "w:d", "r:a", "r:b")
    assert not allowed("SINTERSTORE", "r:d", "r:a")
    assert allowed("COPY", "r:a", "w:b") and not allowed("COPY", "w:a", "w:b")
    assert not allowed("RENAME", "r:a", "w:b")  # the source is read and deleted


# ------------------------------------------------------------------ the engine


def test_the_issues_done_when(users: Users) -> None:
    admin = users.connect()
    assert admin("ACL", "SETUSER", "app", "on", ">pw", "+@read", "~app:*") == OK
    admin("SET", "app:x", "1")
    app = users.connect()
    assert app("AUTH", "app", "pw") == OK
    assert app("GET", "app:x") == b"1"
    assert app("GET", "other:x") == NOPERM_KEYS
    assert app("SET", "app:x", "2") == noperm("set")
    assert app("FLUSHALL") == noperm("flushall")
    assert app("CONFIG", "SET", "maxclients", "5") == noperm("config|set")
    assert app("ACL", "WHOAMI") == noperm("acl|whoami")
    assert app("FAILOVER") == noperm("failover")
    assert app("REMOVE_NODE", "2") == noperm("remove_node")
    assert admin("GET", "app:x") == b"1"


def test_wrong_passwords_and_disabled_users(users: Users) -> None:
    c = users.connect()
    c("ACL", "SETUSER", "app", ">pw", "+@all", "~*")
    assert c("AUTH", "app", "pw") == WRONGPASS  # created off
    c("ACL", "SETUSER", "app", "on")
    assert c("AUTH", "app", "bad") == WRONGPASS
    assert c("AUTH", "nosuch", "pw") == WRONGPASS
    assert c("AUTH", "app", "pw") == OK
    assert c("ACL", "WHOAMI") == b"app"
    assert c("AUTH", "pw") == ErrorReply(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?"
    )


def test_requirepass_is_the_default_users_password() -> None:
    users = Users(Settings(requirepass="s3cret"))
    c = users.connect()
    assert c("GET", "k") == ErrorReply("NOAUTH Authentication required.")
    assert c("AUTH", "wrong") == WRONGPASS
    assert c("AUTH", "s3cret") == OK
    other = users.connect()
    assert other("AUTH", "default", "s3cret") == OK
    shown = c("ACL", "LIST")
    digest = hashlib.sha256(b"s3cret").hexdigest()
    assert shown == [f"user default on #{digest} ~* &* +@all".encode()]
    # Passwords the group gives default work beside it; the node's is not stored.
    assert c("ACL", "SETUSER", "default", ">group-pw") == OK
    assert users.connect()("AUTH", "group-pw") == OK
    assert users.connect()("AUTH", "s3cret") == OK
    stored = users.engine.keyspace.users[b"default"]
    assert b"#" + hashlib.sha256(b"s3cret").hexdigest().encode() not in stored


def test_a_password_on_default_locks_new_connections(users: Users) -> None:
    admin = users.connect()
    assert admin("ACL", "SETUSER", "default", "resetpass", ">pw") == OK
    assert admin("PING") == "PONG"  # connections already in keep going, as in Redis
    late = users.connect()
    assert late("PING") == ErrorReply("NOAUTH Authentication required.")
    assert late("HELLO", "3", "AUTH", "default", "pw")[b"proto"] == 3  # type: ignore[index]
    assert late("RESET") == "RESET"
    assert late("PING") == ErrorReply("NOAUTH Authentication required.")


def test_changes_reach_live_sessions_at_once(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "app", "on", ">pw", "+@all", "~*")
    app = users.connect()
    app("AUTH", "app", "pw")
    assert app("SET", "k", "v") == OK
    admin("ACL", "SETUSER", "app", "-set")
    assert app("SET", "k", "v") == noperm("set")
    admin("ACL", "SETUSER", "default", "-flushall")
    assert admin("FLUSHALL") == noperm("flushall")
    assert admin("ACL", "DELUSER", "app") == 1
    assert users.host.killed == [app.session]  # Redis closes a deleted user's clients


def test_multi_checks_when_queuing(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "app", "on", "nopass", "+@all", "-set", "~*")
    app = users.connect()
    app("AUTH", "app", "x")
    assert app("MULTI") == OK
    assert app("SET", "k", "v") == noperm("set")
    assert app("GET", "k") == "QUEUED"
    assert app("EXEC") == ErrorReply("EXECABORT Transaction discarded because of previous errors.")


def test_exec_checks_again_what_was_queued(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "app", "on", "nopass", "+@all", "~*", "&*")
    app = users.connect()
    app("AUTH", "app", "x")
    app("MULTI")
    for queued in (("SET", "k", "v"), ("GET", "other"), ("PUBLISH", "ch", "m"), ("GET", "k")):
        assert app(*queued) == "QUEUED"
    admin("ACL", "SETUSER", "app", "-set", "resetkeys", "~k", "resetchannels")
    because = (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and "
        "the EXEC call. This command is no longer allowed for the following reason: "
    )
    assert app("EXEC") == [
        ErrorReply(because + "no permission to execute the command or subcommand"),
        ErrorReply(because + "no permission to touch the specified keys"),
        ErrorReply(because + "no permission to access one of the channels used as arguments"),
        None,
    ]
    (entry, *_) = admin("ACL", "LOG")  # type: ignore[misc]
    assert (entry[b"context"], entry[b"reason"]) == (b"multi", b"channel")


def test_subcommands_and_no_auth_commands(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "n", "on", "nopass", "nocommands", "+client|setname")
    n = users.connect()
    assert n("AUTH", "n", "x") == OK
    assert n("CLIENT", "SETNAME", "me") == OK
    assert n("CLIENT", "KILL", "ID", "1") == noperm("client|kill")
    assert n("PING") == noperm("ping")
    assert n("MULTI") == noperm("multi")
    assert n("EXEC") == ErrorReply(
        "EXECABORT Transaction discarded because of: NOPERM this user has no permissions "
        "to run the 'exec' command"
    )
    assert n("RESET") == "RESET"  # AUTH, HELLO, QUIT and RESET are never refused


def test_channels(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "p", "on", "nopass", "+@all", "~*", "&news.*")
    p = users.connect()
    p("AUTH", "p", "x")
    assert p("PUBLISH", "news.a", "hi") == 0
    assert p("PUBLISH", "other", "hi") == NOPERM_CHANNELS
    assert p("SUBSCRIBE", "news.a", "other") == NOPERM_CHANNELS
    assert p("PSUBSCRIBE", "news.a*") == NOPERM_CHANNELS  # patterns compare literally
    assert p("PSUBSCRIBE", "news.*") != NOPERM_CHANNELS
    listener = users.connect()
    listener("AUTH", "p", "x")
    listener("SUBSCRIBE", "news.b")
    admin("ACL", "SETUSER", "p", "&news.b")  # still allowed: stays
    assert users.host.killed == []
    admin("ACL", "SETUSER", "p", "resetchannels", "&other")
    # Both lost what they subscribed to (a pattern, a channel): Redis closes them.
    assert users.host.killed == [p.session, listener.session]


def test_getuser_list_users_cat_dryrun(users: Users) -> None:
    c = users.connect()
    assert c("ACL", "GETUSER", "nosuch") is None
    c("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "%R~ro:*", "&ch", "+@read")
    assert c("ACL", "GETUSER", "app") == {
        b"flags": SetReply((b"on",)),
        b"passwords": [PW_HASH.encode()],
        b"commands": b"-@all +@read",
        b"keys": b"~app:* %R~ro:*",
        b"channels": b"&ch",
        b"selectors": [],
    }
    assert c("ACL", "USERS") == [b"app", b"default"]
    assert len(c("ACL", "LIST")) == 2  # type: ignore[arg-type]
    assert b"get" in c("ACL", "CAT", "read")  # type: ignore[operator]
    assert b"client|kill" in c("ACL", "CAT", "dangerous")  # type: ignore[operator]
    assert c("ACL", "CAT")[:3] == [b"keyspace", b"read", b"write"]  # type: ignore[index]
    assert c("ACL", "CAT", "nosuch") == ErrorReply("ERR Unknown category 'nosuch'")
    assert c("ACL", "DRYRUN", "app", "get", "app:1") == OK
    assert (
        c("ACL", "DRYRUN", "app", "get", "x")
        == b"This user has no permissions to access the 'x' key"
    )
    assert c("ACL", "DRYRUN", "app", "set", "app:1", "v") == (
        b"This user has no permissions to run the 'set' command"
    )
    assert c("ACL", "DRYRUN", "nosuch", "get", "x") == ErrorReply("ERR User 'nosuch' not found")
    assert c("ACL", "DELUSER", "default") == ErrorReply("ERR The 'default' user cannot be removed")
    assert c("ACL", "DELUSER", "nosuch") == 0
    assert c("ACL", "SETUSER", "a b") == ErrorReply(
        "ERR Usernames can't contain spaces or null characters"
    )
    assert c("ACL", "GENPASS", "5") == b"00"
    assert len(c("ACL", "GENPASS")) == 64  # type: ignore[arg-type]
    assert c("ACL", "GETUSER") == ErrorReply(
        "ERR wrong number of arguments for 'acl|getuser' command"
    )
    assert c("ACL", "LOAD") == ErrorReply(
        "ERR This Redis instance is not configured to use an ACL file. You may want to "
        "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming "
        "you have a Redis configuration file set) in order to store users in the Redis "
        "configuration."
    )


def test_acl_log_counts_repeated_denials(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "app", "on", ">pw", "+get", "~app:*")
    app = users.connect()
    app("AUTH", "app", "pw")
    app("SET", "k", "v")
    app("SET", "k", "v")
    app("GET", "other")
    admin("AUTH", "app", "nope")
    log = admin("ACL", "LOG")
    assert isinstance(log, list)
    assert [(e[b"reason"], e[b"object"], e[b"username"], e[b"count"]) for e in log] == [
        (b"auth", b"AUTH", b"app", 1),
        (b"key", b"other", b"app", 1),
        (b"command", b"set", b"app", 2),
    ]
    assert b"user=app" in log[2][b"client-info"]
    assert admin("ACL", "LOG", "1") == log[:1]
    assert admin("ACL", "LOG", "RESET") == OK
    assert admin("ACL", "LOG") == []


def test_client_list_and_kill_name_the_user(users: Users) -> None:
    admin = users.connect()
    admin("ACL", "SETUSER", "app", "on", "nopass", "+@all", "~*")
    app = users.connect()
    app("AUTH", "app", "x")
    info = app("CLIENT", "INFO")
    assert b" user=app " in info.text  # type: ignore[attr-defined]
    assert admin("CLIENT", "KILL", "USER", "nosuch") == ErrorReply("ERR No such user 'nosuch'")
    assert admin("CLIENT", "KILL", "USER", "app") == 1
    assert users.host.killed == [app.session]


# ------------------------------------------------------------ replicated state


def test_users_are_mutations_that_replay(users: Users) -> None:
    c = users.connect()
    c("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")
    c("ACL", "SETUSER", "gone", "on")
    c("ACL", "DELUSER", "gone")
    logged = users.world.mutations()
    assert logged == [
        SetUser(
            b"app",
            (b"on", b"#" + PW_HASH.encode(), b"~app:*", b"resetchannels", b"-@all", b"+@read"),
        ),
        SetUser(b"gone", (b"on", b"resetchannels", b"-@all")),
        DeleteUsers((b"gone",)),
    ]
    decoded = [decode_mutation(encode_mutation(m)) for m in logged]
    assert decoded == logged
    backup = replay(decoded)
    assert backup.users == users.engine.keyspace.users


def test_flushall_keeps_users_and_a_snapshot_restores_them(users: Users) -> None:
    c = users.connect()
    c("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@read")
    c("SET", "k", "v")
    c("FLUSHALL")
    keyspace = users.engine.keyspace
    assert b"app" in keyspace.users and len(keyspace) == 0
    c("SET", "k", "v")
    assert keyspace.record_count() == 2
    restored = Keyspace()
    load_items(restored, keyspace_items(keyspace))
    assert restored.users == keyspace.users and len(restored) == 1
    restored.apply(FlushAll())
    assert restored.users == keyspace.users


def test_a_backup_applying_the_log_updates_its_sessions() -> None:
    primary, backup = Users(), Users()
    admin = primary.connect()
    admin("ACL", "SETUSER", "app", "on", "nopass", "+@all", "~*")
    for mutation in primary.world.mutations():
        backup.engine.keyspace.apply(mutation)
    reader = backup.connect()
    assert reader("AUTH", "app", "x") == OK
    admin("ACL", "SETUSER", "app", "-get")
    admin("ACL", "DELUSER", "app")
    first, second = primary.world.mutations()
    backup.engine.keyspace.apply(first)
    assert reader("GET", "k") == noperm("get")
    backup.engine.keyspace.apply(second)
    assert backup.host.killed == [reader.session]
    backup.engine.keyspace.apply(DeleteUsers((), all_users=True))
    assert backup.engine.keyspace.users == {}


def test_users_survive_a_data_directory_restart(tmp_path: Path) -> None:
    """Through the real log and snapshot files: a user saved in a snapshot, another only
    logged after it, a third deleted."""
    from tandemkv.storage.store import Store

    path = str(tmp_path / "data")
    store = Store.open(path)
    world = World(keyspace=store.keyspace)
    c = world.client(authenticated=True)
    c("ACL", "SETUSER", "snap", "on", ">pw", "~app:*", "+@read")
    c("ACL", "SETUSER", "gone", "on")
    store.append(world.mutations())
    assert store.save() is not None
    c("ACL", "SETUSER", "logged", "on", "nopass", "+get")
    c("ACL", "DELUSER", "gone")
    store.append(world.mutations())
    store.sync()
    expected = dict(store.keyspace.users)
    store.close()
    again = Store.open(path)
    try:
        assert again.keyspace.users == expected
        assert set(expected) == {b"snap", b"logged"}
    finally:
        again.close()
