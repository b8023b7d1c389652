"""Certificates for TLS tests, made with trustme: one CA per test module (making keys is
the slow part), a server certificate for the loopback address, a client certificate, and
one from an unrelated CA."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certs:
    ca_file: Path
    cert_file: Path  # the server's (and, with tls-replication, what nodes dial with)
    key_file: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by another CA
    stranger_key: Path
    ca: trustme.CA

    def server_args(self) -> tuple[str, ...]:
        return (
            "--tls-cert-file",
            str(self.cert_file),
            "--tls-key-file",
            str(self.key_file),
            "--tls-ca-cert-file",
            str(self.ca_file),
        )

    def cli_args(self, client_cert: bool = True) -> tuple[str, ...]:
        args: tuple[str, ...] = ("--tls", "--cacert", str(self.ca_file))
        if client_cert:
            args += ("--cert", str(self.client_cert), "--key", str(self.client_key))
        return args

    def redis_py(self, client_cert: bool = True) -> dict[str, object]:
        options: dict[str, object] = {"ssl": True, "ssl_ca_certs": str(self.ca_file)}
        if client_cert:
            options.update(ssl_certfile=str(self.client_cert), ssl_keyfile=str(self.client_key))
        return options


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    issue(ca, directory, "server", "localhost", "127.0.0.1")
    issue(ca, directory, "client", "client.example")
    issue(trustme.CA(), directory, "stranger", "stranger.example")
    return Certs(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
        directory / "stranger.pem",
        directory / "stranger.key",
        ca,
    )


def issue(ca: trustme.CA, directory: Path, name: str, *identities: str) -> tuple[Path, Path]:
    """Write NAME.pem (the certificate) and NAME.key, signed by `ca`."""
    leaf = ca.issue_cert(*identities)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key
