"""Config precedence (flags > env > TOML > defaults) and one-line errors for bad values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tandemkv.config import Config, ConfigError, load_config, parse_address


def test_defaults_listen_on_loopback_7000() -> None:
    config = load_config({}, env={})
    assert config == Config()
    assert str(config.listen) == "127.0.0.1:7000"
    assert config.listen.is_loopback


def test_flags_beat_env_beat_toml(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text('maxclients = 5\ntimeout = 7\naddress = "127.0.0.1:7100"\n')
    env = {"TANDEMKV_MAXCLIENTS": "6", "TANDEMKV_TIMEOUT": "8"}
    config = load_config({"config_file": str(toml), "maxclients": 9}, env=env)
    assert config.maxclients == 9
    assert config.timeout == 8
    assert config.address == "127.0.0.1:7100"
    assert config.config_file == str(toml.resolve())


def test_none_flags_mean_not_given() -> None:
    assert load_config({"maxclients": None}, env={"TANDEMKV_MAXCLIENTS": "3"}).maxclients == 3


@pytest.mark.parametrize(
    ("flags", "env", "fragment"),
    [
        ({"maxclients": "lots"}, {}, "invalid maxclients 'lots' (command line)"),
        ({}, {"TANDEMKV_TIMEOUT": "-1"}, "environment TANDEMKV_TIMEOUT"),
        ({"address": "nonsense"}, {}, "'nonsense' is not HOST:PORT"),
        ({"address": "127.0.0.1:99999"}, {}, "out of range"),
        ({"parser": "fancy"}, {}, "must be one of auto, python, hiredis"),
        ({}, {"TANDEMKV_PROTECTED_MODE": "maybe"}, "expected yes or no"),
    ],
)
def test_bad_values_name_the_setting_and_source(
    flags: dict[str, object], env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(flags, env=env)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_toml_problems_are_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({"config_file": str(missing)}, env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("maxclients = \n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config({"config_file": str(broken)}, env={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("dir = '/tmp'\n")
    with pytest.raises(ConfigError, match="unknown setting 'dir'"):
        load_config({"config_file": str(unknown)}, env={})


def test_toml_types_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('maxclients = "many"\n')
    with pytest.raises(ConfigError, match="maxclients"):
        load_config({"config_file": str(path)}, env={})
    path.write_text("protected-mode = false\nrequirepass = 'x'\n")
    config = load_config({"config_file": str(path)}, env={})
    assert config.protected_mode is False
    assert config.requirepass == "x"


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("127.0.0.1:7000", "127.0.0.1", 7000, True),
        ("localhost:1", "localhost", 1, True),
        ("[::1]:7000", "::1", 7000, True),
        ("0.0.0.0:7000", "0.0.0.0", 7000, False),
        (":7001", "127.0.0.1", 7001, True),
        ("10.1.2.3:0", "10.1.2.3", 0, False),
    ],
)
def test_parse_address(text: str, host: str, port: int, loopback: bool) -> None:
    address = parse_address(text)
    assert (address.host, address.port, address.is_loopback) == (host, port, loopback)


def test_client_query_buffer_limit_is_bounded_by_the_largest_log_entry() -> None:
    with pytest.raises(ConfigError, match="client-query-buffer-limit"):
        load_config({}, env={"TANDEMKV_CLIENT_QUERY_BUFFER_LIMIT": str(2 * 1024**3)})
    assert load_config({}, env={}).client_query_buffer_limit == 1024**3


def test_logging_and_persistence_settings_take_redis_names_in_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text(
        'loglevel = "WARNING"\nappendfsync = "always"\nsave = " 900 1  300 10 "\n'
        'log-format = "json"\nlatency-monitor-threshold = 5\n'
    )
    config = load_config({"config_file": str(toml)}, env={})
    assert (config.log_level, config.fsync, config.save) == ("warning", "always", "900 1 300 10")
    assert (config.log_format, config.latency_monitor_threshold) == ("json", 5)
    settings = config.runtime_settings()
    assert (settings.loglevel, settings.appendfsync, settings.save) == (
        "warning",
        "always",
        "900 1 300 10",
    )


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ({"log_level": "loud"}, "invalid log-level 'loud' (command line): must be one of debug"),
        ({"log_format": "xml"}, "invalid log-format 'xml'"),
        ({"save": "60"}, "invalid save '60' (command line): Invalid save parameters"),
    ],
)
def test_bad_logging_and_save_values(flags: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(flags, env={})


def test_aclfile_from_flag_env_and_toml(tmp_path: Path) -> None:
    from tandemkv.server.run import StartupError, check_protected_mode, read_acl_file

    toml = tmp_path / "c.toml"
    toml.write_text('aclfile = "from-toml.acl"\n')
    assert load_config({"config_file": str(toml)}, env={}).aclfile == "from-toml.acl"
    assert load_config({}, env={"TANDEMKV_ACLFILE": "env.acl"}).aclfile == "env.acl"
    users = tmp_path / "users.acl"
    users.write_text("user default on >pw ~* &* +@all\nuser app on >a ~app:* +@read\n")
    config = load_config({"aclfile": str(users), "address": "0.0.0.0:7000"}, env={})
    assert [u.name for u in read_acl_file(config) or []] == [b"default", b"app"]
    check_protected_mode(config)  # the file gives default a password: not refused
    with pytest.raises(StartupError, match="aclfile and requirepass cannot be used together"):
        read_acl_file(load_config({"aclfile": str(users), "requirepass": "x"}, env={}))
    users.write_text("user default on nopass ~* &* +@all\n")
    with pytest.raises(StartupError, match="refusing to listen"):
        check_protected_mode(config)


def test_slowlog_and_metrics_settings(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('slowlog-max-len = 16\nmetrics-address = "127.0.0.1:9121"\n')
    config = load_config({"config_file": str(toml)}, env={"TANDEMKV_SLOWLOG_LOG_SLOWER_THAN": "-1"})
    settings = config.runtime_settings()
    assert (settings.slowlog_log_slower_than, settings.slowlog_max_len) == (-1, 16)
    assert config.metrics_address == "127.0.0.1:9121"
    assert load_config({"metrics_address": "127.0.0.1:0"}, env={}).metrics_address
    with pytest.raises(ConfigError, match="invalid slowlog-log-slower-than '-2'"):
        load_config({"slowlog_log_slower_than": "-2"}, env={})
    with pytest.raises(ConfigError, match="invalid metrics-address 'nowhere'"):
        load_config({"metrics_address": "nowhere"}, env={})
