"""The emulator over HTTPS (Werkzeug's threaded server): certificates, the TLS fixtures, the fault kinds
that drop the connection, and `serve --tls-self-signed` / `--tls-cert --tls-key` run for real."""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from emulator_process import EmulatorProcess

from emulator.cli import certificate_names
from emulator.serving.tls import write_self_signed

HEALTH = "/__emulator/health"
DOMAIN = "/api/account/{account}/service/idp/baseURI.json"
AUTHORIZE = "/api/account/{account}/anonymous/authorize"
SERVE = (sys.executable, "-m", "emulator", "serve", "--port", "0")
DEADLINE_SECONDS = 20.0
TRUST_LINE = re.compile(r"trust this CA: NODE_EXTRA_CA_CERTS=(?P<path>\S+)\s*$")
DEMO_ACCOUNT = "12345678"


@pytest.fixture
def emulator_backend(emulator_tls_server):
    return emulator_tls_server


def test_the_certificate_names_localhost_and_both_loopback_addresses(tmp_path: Path) -> None:
    cert_path, key_path, ca_path = write_self_signed(tmp_path / "tls")
    leaf = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sorted(str(a) for a in names.get_values_for_type(x509.IPAddress)) == ["127.0.0.1", "::1"]
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    assert leaf.issuer == ca.subject and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert 364 <= (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 366
    assert key_path.stat().st_mode & 0o077 == 0


def test_extra_names_and_the_public_host_join_the_certificate(tmp_path: Path) -> None:
    names = certificate_names("Emulator:8443", ["emulator.internal", "10.0.0.5", "localhost"])
    assert names == ["emulator", "emulator.internal", "10.0.0.5", "localhost"]
    cert_path, _, _ = write_self_signed(tmp_path / "tls", names=names)
    leaf = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    found = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert found.get_values_for_type(x509.DNSName) == ["localhost", "emulator", "emulator.internal"]
    assert sorted(str(a) for a in found.get_values_for_type(x509.IPAddress)) == ["10.0.0.5", "127.0.0.1", "::1"]
    assert certificate_names("[::2]:443", None) == ["::2"] and certificate_names(None, None) == []


def test_health_answers_a_client_that_trusts_the_ca(emulator_tls_server_url: str, emulator_tls_ca: str) -> None:
    assert emulator_tls_server_url.startswith("https://127.0.0.1:")
    assert requests.get(emulator_tls_server_url + HEALTH, verify=emulator_tls_ca, timeout=5).json()["status"] == "ok"
    by_name = emulator_tls_server_url.replace("127.0.0.1", "localhost")
    assert requests.get(by_name + HEALTH, verify=emulator_tls_ca, timeout=5).status_code == 200


def test_an_untrusted_client_fails_and_the_server_serves_on(emulator_tls_server_url: str, emulator_tls_ca: str) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(emulator_tls_server_url + HEALTH, verify=True, timeout=5)  # the system's CAs only
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(emulator_tls_server_url.replace("https://", "http://") + HEALTH, timeout=5)  # plain HTTP
    with socket.create_connection(_address(emulator_tls_server_url)):  # never starts a handshake
        assert requests.get(emulator_tls_server_url + HEALTH, verify=emulator_tls_ca, timeout=5).status_code == 200


def test_the_domain_api_hands_out_the_tls_host(emulator_tls_server, lp_account) -> None:
    reply = emulator_tls_server.get(DOMAIN.format(account=lp_account.id), params={"version": "1.0"})
    assert reply.status == 200, reply.body
    assert reply.json()["baseURI"] == urlsplit(emulator_tls_server.base_url).netloc
    assert lp_account.issue_ext_jwt().count(".") == 2  # a POST through the same TLS transport


@pytest.mark.parametrize(("kind", "outcome"), [("reset", "reset"), ("empty", "eof")])
def test_faults_that_drop_the_connection_drop_it_over_tls(
    emulator_tls_server, emulator_tls_ca, lp_account, kind, outcome
) -> None:
    path = AUTHORIZE.format(account=lp_account.id)
    emulator_tls_server.control.add_fault(kind, times=2)
    request = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".encode()
    assert _tls_exchange(emulator_tls_server.base_url, emulator_tls_ca, request) == (outcome, b"")  # not a byte of HTTP
    with pytest.raises(requests.exceptions.ConnectionError):  # Python's ssl reports a reset as an EOF too
        requests.post(emulator_tls_server.base_url + path, verify=emulator_tls_ca, timeout=5)
    assert emulator_tls_server.post(path).status == 200


def test_serve_with_a_self_signed_ca(tmp_path: Path) -> None:
    folder = tmp_path / "certs"
    server = EmulatorProcess([*SERVE, "--tls-self-signed", str(folder)], tmp_path, env={})
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        ca = server.wait_for_line(TRUST_LINE, deadline)["path"]
        url = server.wait_for_banner(deadline)
        assert url.startswith("https://127.0.0.1:") and Path(ca) == (folder / "ca.pem").resolve()
        assert requests.get(url + HEALTH, verify=ca, timeout=5).json()["status"] == "ok"
        domain = requests.get(
            url + DOMAIN.format(account=DEMO_ACCOUNT), params={"version": "1.0"}, verify=ca, timeout=5
        )
        assert domain.json()["baseURI"] == urlsplit(url).netloc
    finally:
        assert server.stop(signal.SIGTERM) == 0, server.output()


def test_serve_with_a_given_certificate_from_the_environment(tmp_path: Path) -> None:
    cert, key, ca = write_self_signed(tmp_path / "mine")
    env = {"EMULATOR_TLS_CERT": str(cert), "EMULATOR_TLS_KEY": str(key), "EMULATOR_CONTROL_TOKEN": "t0ken"}
    server = EmulatorProcess(SERVE, tmp_path, env=env)
    try:
        url = server.wait_for_banner(time.monotonic() + DEADLINE_SECONDS)
        assert url.startswith("https://") and "trust this CA" not in server.stdout()
        assert requests.post(url + "/__emulator/reset", verify=str(ca), timeout=5).status_code == 401
        assert requests.get(url + HEALTH, verify=str(ca), timeout=5).json()["status"] == "ok"
    finally:
        assert server.stop(signal.SIGTERM) == 0, server.output()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-self-signed", "d", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "exclude each other"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing-key.pem"], "invalid TLS certificate or key"),
    ],
)
def test_bad_tls_options_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run([*SERVE, *args], cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE_SECONDS)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 443


def _tls_exchange(url: str, ca: str, request: bytes) -> tuple[str, bytes]:
    """Send `request` over TLS and read until the connection ends, seeing the TCP socket itself (an SSL
    socket reports a reset as an EOF): ("reset" or "eof", the plaintext received)."""
    context = ssl.create_default_context(cafile=ca)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=_address(url)[0])
    received = b""
    with socket.create_connection(_address(url), timeout=5) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls.write(request)
        sock.sendall(outgoing.read())
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return "reset", received
            if not data:
                return "eof", received
            incoming.write(data)
            try:
                received += tls.read(65536)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return "eof", received
