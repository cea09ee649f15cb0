"""TLS for replay servers: a throwaway self-signed certificate and SSL contexts.

The official SDK insists on ``wss://`` when it has an API key, so a replay
server it talks to needs TLS with a certificate the client trusts. This module
makes one for tests and for ``rawlive serve --tls-cert/--tls-key``.

Generating a certificate needs the ``cryptography`` package, which is a test
dependency of rawlive (``pip install rawlive[test]``), not a runtime one; it is
imported only when :func:`generate_self_signed_cert` is called. The context
helpers use the standard library only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SelfSignedCertificate",
    "client_ssl_context",
    "generate_self_signed_cert",
    "server_ssl_context",
]

DEFAULT_HOSTNAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfSignedCertificate:
    """A certificate and key written to disk by :func:`generate_self_signed_cert`.

    The certificate is its own issuer: a client trusts it by loading
    ``cert_file`` as its only CA (:meth:`client_context`, or the
    ``SSL_CERT_FILE`` environment variable for clients that honour it).

    Attributes:
        cert_file: the PEM certificate.
        key_file: the PEM private key (mode 0600, unencrypted).
        hostnames: the names and addresses the certificate is valid for.
    """

    cert_file: Path
    key_file: Path
    hostnames: tuple[str, ...]

    def server_context(self) -> ssl.SSLContext:
        """Return a server-side context presenting this certificate."""
        return server_ssl_context(self.cert_file, self.key_file)

    def client_context(self) -> ssl.SSLContext:
        """Return a client-side context that trusts this certificate (and nothing else)."""
        return client_ssl_context(self.cert_file)


def server_ssl_context(
    cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
) -> ssl.SSLContext:
    """Return a server-side TLS context for a PEM certificate chain and key.

    Args:
        cert_file: the PEM certificate (chain).
        key_file: its PEM private key.

    Returns:
        A context for :class:`~rawlive.capture.replay.ReplayServer`.

    Raises:
        OSError: a file cannot be read.
        ssl.SSLError: the files are not a matching certificate and key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.fspath(cert_file), os.fspath(key_file))
    return context


def client_ssl_context(cafile: str | os.PathLike[str]) -> ssl.SSLContext:
    """Return a client-side TLS context that trusts the certificates in ``cafile`` only.

    Hostname checking stays on, so connect to a name or address the
    certificate lists (``127.0.0.1`` or ``localhost`` for the default one).

    Args:
        cafile: a PEM file of trusted certificates.

    Returns:
        A context for ``rawlive.connect(..., ssl=...)`` or ``websockets``.
    """
    return ssl.create_default_context(cafile=os.fspath(cafile))


def generate_self_signed_cert(
    directory: str | os.PathLike[str],
    *,
    hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
    valid_days: int = 7,
    name: str = "rawlive-replay",
) -> SelfSignedCertificate:
    """Create a self-signed certificate and key for a local test server.

    The key is ECDSA P-256 (fast to make). The certificate carries the names
    and addresses as subject alternative names, is marked as a CA so it can
    be its own trust anchor, and starts being valid an hour ago to absorb
    clock skew.

    Args:
        directory: where to write ``{name}.pem`` and ``{name}.key``.
        hostnames: DNS names and IP addresses to cover.
        valid_days: how long the certificate stays valid.
        name: the file name stem and the certificate's common name.

    Returns:
        The paths of the certificate and the key.

    Raises:
        ModuleNotFoundError: the ``cryptography`` package is not installed.
        OSError: the files cannot be written.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:
        raise ModuleNotFoundError(
            "generating a test certificate needs the 'cryptography' package, which rawlive "
            "does not install at run time: pip install cryptography (or rawlive[test]), "
            "or pass your own certificate and key",
            name="cryptography",
        ) from exc

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt_names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cert_file = folder / f"{name}.pem"
    key_file = folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)  # also when the file already existed
        fh.write(key_bytes)
    return SelfSignedCertificate(cert_file=cert_file, key_file=key_file, hostnames=tuple(hostnames))
