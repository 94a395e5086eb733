"""Certificates for serving the emulator over TLS: a self-signed CA and a server certificate it signs.

Clients that hard-code `https://` (LivePerson's node-agent-sdk) trust the CA through
`NODE_EXTRA_CA_CERTS=ca.pem`; `requests` through `verify="ca.pem"`.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.clock import Clock

CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
CA_FILE = "ca.pem"
SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")
VALIDITY = timedelta(days=365)  # wall clock: certificates never follow the emulator's clock
BACKDATE = timedelta(minutes=5)  # tolerate a client clock slightly behind
PEM = serialization.Encoding.PEM


def write_self_signed(
    folder: str | os.PathLike[str], now: datetime | None = None, names: Sequence[str] = ()
) -> tuple[Path, Path, Path]:
    """Write a fresh CA (`ca.pem`) and a server certificate it signs (`server.pem`, key `server-key.pem`)
    for localhost, 127.0.0.1, ::1 and `names` (host names or IP addresses) into `folder` (created if
    missing); (cert_path, key_path, ca_path).
    The keys are EC P-256; the private key file is readable by its owner only. Files there are replaced.
    Valid from `now` (default: the wall clock, never an emulator's moved clock) for VALIDITY."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    if now is None:
        now = datetime.fromtimestamp(Clock().now(), timezone.utc)  # a fresh Clock is the wall clock
    ca_cert, ca_key = new_ca(now)
    cert, key = issue(ca_cert, ca_key, [*SERVER_NAMES, *SERVER_ADDRESSES, *names], now)
    cert_path, key_path, ca_path = root / CERT_FILE, root / KEY_FILE, root / CA_FILE
    ca_path.write_bytes(ca_cert.public_bytes(PEM))
    write_leaf(cert_path, key_path, cert, key, ca_cert)
    return cert_path, key_path, ca_path


def new_ca(
    now: datetime, name: str = "messaging-auth-emulator test CA"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A fresh self-signed CA (EC P-256) valid from `now` for VALIDITY, and its key."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_cert, ca_key


def issue(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: Sequence[str], now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A server certificate for `names` (the first is its common name) signed by the CA, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(subject_alt_names(names)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )  # digital_signature, key_encipherment
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def write_leaf(
    cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> None:
    """The chain (leaf first) at `cert_path`, the key at `key_path` (owner-only)."""
    cert_path.write_bytes(cert.public_bytes(PEM) + ca_cert.public_bytes(PEM))
    _write_private(key_path, key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def subject_alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    """Each name once, as an IP address entry if it is one, else as a DNS name (lower case, no trailing dot)."""
    found: list[x509.GeneralName] = []
    for name in names:
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
        except ValueError:
            entry = x509.DNSName(name.lower().rstrip("."))
        if entry not in found:
            found.append(entry)
    return found


def _write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def server_context(cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) with this certificate (chain) and key; raises
    OSError / ssl.SSLError when the files are missing or do not match."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context
