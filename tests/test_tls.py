"""TLS settings: how they fit together, and the one-line errors for files that cannot be
used (tandemkv.tls), checked in-process; one run of `tandemkv server` shows the exit status
and the line an operator sees."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.certs import Certs, make_certs
from helpers.servers import run_tandemkv
from tandemkv.config import ConfigError, load_config
from tandemkv.tls import ServerContexts, TLSConfigError, check_settings, client_context


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Certs]:
    yield make_certs(tmp_path_factory.mktemp("certs"))


def config(certs: Certs | None = None, **settings: object) -> object:
    flags: dict[str, object] = {"address": "127.0.0.1:7000"}
    if certs is not None:
        flags.update(
            tls_cert_file=str(certs.cert_file),
            tls_key_file=str(certs.key_file),
            tls_ca_cert_file=str(certs.ca_file),
        )
    flags.update(settings)
    return load_config(flags, env={})


def refusal(certs: Certs | None = None, **settings: object) -> str:
    with pytest.raises(TLSConfigError) as caught:
        check_settings(config(certs, **settings))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_tls_is_the_default() -> None:
    assert check_settings(config()) is None  # type: ignore[arg-type]


def test_settings_come_from_env_and_file_with_redis_names(tmp_path: Path, certs: Certs) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(f'tls-port = 7443\ntls-cert-file = "{certs.cert_file}"\n')
    env = {"TANDEMKV_TLS_KEY_FILE": str(certs.key_file), "TANDEMKV_TLS_AUTH_CLIENTS": "no"}
    loaded = load_config({"config_file": str(toml)}, env=env)
    assert (loaded.tls_port, loaded.tls_auth_clients) == (7443, "no")
    settings = check_settings(loaded)
    assert settings is not None and settings.key_file == str(certs.key_file)
    assert loaded.runtime_settings().tls_port == 7443


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="invalid tls-auth-clients 'maybe'"):
        load_config({"tls_auth_clients": "maybe"}, env={})
    with pytest.raises(ConfigError, match="invalid tls-port"):
        load_config({}, env={"TANDEMKV_TLS_PORT": "70000"})


def test_tls_without_a_certificate_is_refused() -> None:
    assert "tls-cert-file and tls-key-file" in refusal(tls=True)
    assert "tls-cert-file and tls-key-file" in refusal(tls_port=7443)


def test_certificates_without_a_tls_listener_are_refused(certs: Certs) -> None:
    assert "nothing listens with TLS" in refusal(certs)
    assert "tls-replication needs a TLS listener" in refusal(tls_replication=True)


def test_client_certificates_need_a_ca(certs: Certs) -> None:
    message = refusal(certs, tls=True, tls_ca_cert_file="")
    assert "tls-ca-cert-file or tls-ca-cert-dir must be set" in message
    assert check_settings(config(certs, tls=True, tls_ca_cert_file="", tls_auth_clients="no"))  # type: ignore[arg-type]


def test_tls_port_must_differ_from_the_port(certs: Certs) -> None:
    assert "its own port" in refusal(certs, tls_port=7000)


def test_missing_unreadable_and_mismatched_files(tmp_path: Path, certs: Certs) -> None:
    missing = tmp_path / "nope.pem"
    assert refusal(certs, tls=True, tls_cert_file=str(missing)) == (
        f"cannot read tls-cert-file {missing}: No such file or directory"
    )
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.key"
        locked.write_bytes(certs.key_file.read_bytes())
        locked.chmod(0)
        assert "Permission denied" in refusal(certs, tls=True, tls_key_file=str(locked))
    assert refusal(certs, tls=True, tls_key_file=str(certs.client_key)) == (
        f"tls-key-file {certs.client_key} is not the key of the certificate in tls-cert-file "
        f"{certs.cert_file}"
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert refusal(certs, tls=True, tls_cert_file=str(junk)) == (
        f"tls-cert-file {junk} holds no PEM certificate"
    )
    assert "holds no usable PEM private key" in refusal(certs, tls=True, tls_key_file=str(junk))
    assert "tls-ca-cert-file" in refusal(certs, tls=True, tls_ca_cert_file=str(junk))
    assert "cannot read tls-ca-cert-dir" in refusal(certs, tls=True, tls_ca_cert_dir=str(missing))


def test_a_changed_file_is_reloaded_and_a_bad_one_keeps_the_old_contexts(
    tmp_path: Path, certs: Certs
) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(certs.cert_file.read_bytes())
    settings = check_settings(config(certs, tls=True, tls_cert_file=str(cert)))  # type: ignore[arg-type]
    assert settings is not None
    contexts = ServerContexts(settings)
    before = contexts.server
    assert contexts.reload_if_changed() is None  # nothing changed: nothing read
    cert.write_text("half-written\n")
    assert contexts.reload_if_changed() is False
    assert contexts.server is before
    assert contexts.reload_if_changed() is None  # reported once, not at every check
    cert.write_bytes(certs.cert_file.read_bytes() + b"\n")
    assert contexts.reload_if_changed() is True
    assert contexts.server is not before


def test_client_options() -> None:
    context = client_context(insecure=True)
    assert context.verify_mode == ssl.CERT_NONE
    with pytest.raises(TLSConfigError, match="--cert and --key go together"):
        client_context(cert="x.pem")
    with pytest.raises(TLSConfigError, match=r"cannot read --cacert /no/ca\.pem"):
        client_context(cacert="/no/ca.pem")


def test_server_start_up_error_is_one_line_and_exit_1(tmp_path: Path, certs: Certs) -> None:
    result = run_tandemkv(
        "--db-path",
        str(tmp_path / "data"),
        "server",
        "--address",
        "127.0.0.1:0",
        "--tls",
        "yes",
        "--tls-cert-file",
        str(certs.cert_file),
        "--tls-key-file",
        str(certs.client_key),
        "--tls-ca-cert-file",
        str(certs.ca_file),
    )
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines() == [
        f"tandemkv: tls-key-file {certs.client_key} is not the key of the certificate in "
        f"tls-cert-file {certs.cert_file}"
    ]


def test_peer_links_use_tls_with_tls_replication_or_a_tls_only_address(certs: Certs) -> None:
    def peer_context(**settings: object) -> ssl.SSLContext | None:
        checked = check_settings(config(certs, **settings))  # type: ignore[arg-type]
        assert checked is not None
        return ServerContexts(checked).peer_client()

    assert peer_context(tls_port=7443) is None
    assert peer_context(tls_port=7443, tls_replication=True) is not None
    assert peer_context(tls=True) is not None
