"""Building TLS contexts: the one place the server, peer links, the CLI and bench get theirs.

Configured the Redis way (docs/operations.md "TLS"): the node's certificate and key
(tls-cert-file, tls-key-file) serve clients and, with tls-replication, are also what it
shows the peers it dials; tls-ca-cert-file / tls-ca-cert-dir verify client and peer
certificates. As Redis does, certificates are verified against the CA but host names are
not checked: members are reached by address, and a group's CA is expected to be its own.

Every failure is a TLSConfigError whose message is the one line an operator sees.
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass

from tandemkv.config import Config

log = logging.getLogger("tandemkv.server")

AUTH_CLIENTS = ("yes", "no", "optional")
_VERIFY = {"yes": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "no": ssl.CERT_NONE}


class TLSConfigError(Exception):
    """A TLS setting is missing, contradictory, or names a file that cannot be used."""


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """The TLS part of a node's Config."""

    cert_file: str
    key_file: str
    ca_cert_file: str
    ca_cert_dir: str
    auth_clients: str
    replication: bool
    main: bool = False  # `tls yes`: the main address, hence the group address, is TLS only

    @classmethod
    def of(cls, config: Config) -> ServerTLS:
        return cls(
            config.tls_cert_file,
            config.tls_key_file,
            config.tls_ca_cert_file,
            config.tls_ca_cert_dir,
            config.tls_auth_clients,
            config.tls_replication,
            config.tls,
        )


def tls_enabled(config: Config) -> bool:
    return config.tls or config.tls_port != 0


def check_settings(config: Config) -> ServerTLS | None:
    """The TLS settings of a node that is about to start, or None without TLS.

    Checks that they fit together and that the files load (the contexts are built once
    here, so a bad file stops the start with one line rather than the first handshake).
    """
    files_given = config.tls_cert_file or config.tls_key_file
    if not tls_enabled(config):
        if config.tls_replication:
            raise TLSConfigError(
                "tls-replication needs a TLS listener for the peers to reach: set tls yes "
                "(TLS on the main address) or tls-port"
            )
        if files_given:
            raise TLSConfigError(
                "tls-cert-file/tls-key-file are set but nothing listens with TLS: set "
                "tls-port PORT (an extra TLS listener) or tls yes (TLS on the main address)"
            )
        return None
    if not config.tls_cert_file or not config.tls_key_file:
        raise TLSConfigError(
            "TLS is enabled (tls or tls-port) but tls-cert-file and tls-key-file are not both "
            "set: the server has no certificate to present"
        )
    if config.tls_port and config.tls_port == config.listen.port:
        raise TLSConfigError(
            f"tls-port {config.tls_port} is the port of the address {config.address}: give "
            "the TLS listener its own port, or use tls yes for TLS on the main address"
        )
    needs_ca = config.tls_auth_clients != "no" or config.tls_replication
    if needs_ca and not (config.tls_ca_cert_file or config.tls_ca_cert_dir):
        raise TLSConfigError(
            "either tls-ca-cert-file or tls-ca-cert-dir must be set when tls-auth-clients is "
            "yes or optional (yes is the default) or tls-replication is yes: client and "
            "peer certificates are verified against it"
        )
    settings = ServerTLS.of(config)
    server_context(settings)
    return settings


def server_context(settings: ServerTLS) -> ssl.SSLContext:
    """The context TLS listeners accept with; re-read from the files on each call."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_identity(context, settings.cert_file, settings.key_file)
    mode = _VERIFY[settings.auth_clients]
    if settings.replication and mode == ssl.CERT_NONE:
        # Peers must prove themselves with a certificate even when clients need not: ask
        # for one, and PEER commands refuse a connection that showed none.
        mode = ssl.CERT_OPTIONAL
    if settings.ca_cert_file or settings.ca_cert_dir:
        _load_ca(
            context,
            settings.ca_cert_file,
            settings.ca_cert_dir,
            "tls-ca-cert-file",
            "tls-ca-cert-dir",
        )
    context.verify_mode = mode
    return context


def peer_context(settings: ServerTLS) -> ssl.SSLContext:
    """The context a node dials its peers with: its own certificate, the group's CA."""
    return client_context(
        settings.ca_cert_file,
        settings.ca_cert_dir,
        settings.cert_file,
        settings.key_file,
        names=("tls-ca-cert-file", "tls-ca-cert-dir", "tls-cert-file", "tls-key-file"),
    )


def client_context(
    cacert: str = "",
    cacertdir: str = "",
    cert: str = "",
    key: str = "",
    insecure: bool = False,
    names: tuple[str, str, str, str] = ("--cacert", "--cacertdir", "--cert", "--key"),
) -> ssl.SSLContext:
    """A client's context: verify the server against `cacert` (else the system's CAs), and
    show `cert`/`key` if given. `names` are how the caller's user calls these options."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # as redis-cli and Redis's own links: the CA decides
    if insecure:
        context.verify_mode = ssl.CERT_NONE
    elif cacert or cacertdir:
        _load_ca(context, cacert, cacertdir, names[0], names[1])
    else:
        context.load_default_certs()
    if cert or key:
        if not (cert and key):
            raise TLSConfigError(f"{names[2]} and {names[3]} go together: give both or neither")
        _load_identity(context, cert, key, names[2], names[3])
    return context


def _load_identity(
    context: ssl.SSLContext,
    cert: str,
    key: str,
    cert_name: str = "tls-cert-file",
    key_name: str = "tls-key-file",
) -> None:
    _readable(cert, cert_name)
    _readable(key, key_name)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(
                f"{key_name} {key} is not the key of the certificate in {cert_name} {cert}"
            ) from None
        if not _holds_certificate(cert):
            raise TLSConfigError(f"{cert_name} {cert} holds no PEM certificate") from None
        raise TLSConfigError(
            f"{key_name} {key} holds no usable PEM private key (an encrypted key is not "
            f"supported): {error.reason or error}"
        ) from None


def _load_ca(
    context: ssl.SSLContext,
    cafile: str,
    capath: str,
    file_name: str,
    dir_name: str,
) -> None:
    if cafile:
        _readable(cafile, file_name)
    if capath:
        _readable(capath, dir_name, directory=True)
    try:
        context.load_verify_locations(cafile=cafile or None, capath=capath or None)
    except ssl.SSLError as error:
        where = f"{file_name} {cafile}" if cafile else f"{dir_name} {capath}"
        raise TLSConfigError(f"{where} holds no usable PEM certificate: {error.reason}") from None


def _readable(path: str, name: str, directory: bool = False) -> None:
    try:
        if directory:
            os.listdir(path)
        else:
            with open(path, "rb"):
                pass
    except OSError as error:
        raise TLSConfigError(f"cannot read {name} {path}: {error.strerror or error}") from None


def _holds_certificate(path: str) -> bool:
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError):
        return False
    return True


class ServerContexts:
    """The contexts a running node uses, replaced as a whole on reload: a connection
    accepted or dialled after reload() gets the new certificates, established ones keep
    theirs, and files that fail to load keep the old contexts."""

    def __init__(self, settings: ServerTLS) -> None:
        self.settings = settings
        self.server = server_context(settings)
        self.peer = peer_context(settings)
        self._seen = self._signature()

    def peer_client(self) -> ssl.SSLContext | None:
        """What PeerLinks and node RPCs dial with (None: plaintext). With `tls yes` the
        addresses members know each other by speak only TLS, so links use it even without
        tls-replication (which adds the certificate check on PEER commands)."""
        settings = self.settings
        return self.peer if settings.replication or settings.main else None

    def reload_if_changed(self) -> bool | None:
        """Reload if a file changed since the last load or attempt (a renewal written in
        place, as cert-manager or certbot do); None if nothing changed. A bad file is
        reported once, not at every check."""
        if self._signature() == self._seen:
            return None
        return self.reload()

    def _signature(self) -> tuple[tuple[str, int, int, int], ...]:
        settings = self.settings
        paths = (settings.cert_file, settings.key_file, settings.ca_cert_file, settings.ca_cert_dir)
        seen = []
        for path in filter(None, paths):
            try:
                info = os.stat(path)
            except OSError:
                seen.append((path, -1, -1, -1))
            else:
                seen.append((path, info.st_mtime_ns, info.st_size, info.st_ino))
        return tuple(seen)

    def reload(self) -> bool:
        self._seen = self._signature()
        try:
            server, peer = server_context(self.settings), peer_context(self.settings)
        except TLSConfigError as error:
            log.error("TLS reload failed, still using the previous certificates: %s", error)
            return False
        self.server, self.peer = server, peer
        log.info(
            "TLS certificates reloaded from %s (new connections use them)",
            self.settings.cert_file,
        )
        return True
