"""HTTPS proxy mode: a forward proxy in front of the emulator, for code that honours HTTPS_PROXY (any language).

`CONNECT` to a provider host (see `interception.hosts`) is tunnelled to an internal TLS server of the same
app whose certificate for that host is issued on the fly by the proxy's own CA (`ca.pem`, to trust), so
HTTPS and WebSockets reach the emulator by the real host names. An absolute-form `http://` request to a
provider host is answered in-process. Any other host is refused (403) unless it matches a `passed`
pattern (fnmatch, such as `*.example.com`), in which case it is relayed to the real host.
"""

from __future__ import annotations

import fnmatch
import http.client
import selectors
import socket
import ssl
import struct
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ..client import AppTransport
from ..core.clock import Clock
from ..interception.forward import Forwarder, reply_headers
from ..interception.hosts import is_provider_host, is_provider_url
from .server import BackgroundTlsServer, ServedOnThread
from .tls import CA_FILE, PEM, issue, new_ca, server_context, write_leaf

RELAY_CHUNK = 64 * 1024
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "transfer-encoding", "content-length"}
)


class HostCertificates:
    """The proxy's CA (written to `folder/ca.pem`) and a TLS server context per host, issued on first use."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        (self.folder / "hosts").mkdir(parents=True, exist_ok=True)
        self._now = datetime.fromtimestamp(Clock().now(), timezone.utc)  # a fresh Clock is the wall clock
        self._ca_cert, self._ca_key = new_ca(self._now, "messaging-auth-emulator proxy CA")
        self.ca_path = self.folder / CA_FILE
        self.ca_path.write_bytes(self._ca_cert.public_bytes(PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.default = self.context_for("localhost")
        self.default.sni_callback = self._select

    def context_for(self, host: str) -> ssl.SSLContext:
        name = host.lower().rstrip(".")
        with self._lock:
            if name not in self._contexts:
                cert, key = issue(self._ca_cert, self._ca_key, [name], self._now)
                cert_path, key_path = self.folder / "hosts" / f"{name}.pem", self.folder / "hosts" / f"{name}-key.pem"
                write_leaf(cert_path, key_path, cert, key, self._ca_cert)
                self._contexts[name] = server_context(cert_path, key_path)
            return self._contexts[name]

    def _select(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        """SNI: a provider host gets its own certificate; anything else the default (localhost)."""
        if server_name and is_provider_host(server_name):
            connection.context = self.context_for(server_name)


class ProxyServer(ServedOnThread):
    """The forward proxy on `host:port` (0: a free port) in front of `app`, on background threads:
    `with ProxyServer(app, ca_folder) as proxy: proxy.url, proxy.ca_path`."""

    def __init__(
        self, app: Any, ca_folder: str | Path, host: str = "127.0.0.1", port: int = 0, passed: Sequence[str] = ()
    ) -> None:
        self.certificates = HostCertificates(ca_folder)
        self._origin = BackgroundTlsServer(app, context=self.certificates.default)
        handler = type(
            "Handler",
            (ProxyHandler,),
            {"app": app, "origin": ("127.0.0.1", self._origin.port), "passed": tuple(passed)},
        )
        server = ThreadingHTTPServer((host, port), handler)
        server.daemon_threads = True
        self.host = host
        self._serve(server, "emulator-proxy")

    @property
    def ca_path(self) -> Path:
        return self.certificates.ca_path

    def start(self) -> ProxyServer:
        self._origin.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._origin.stop()


class ProxyHandler(BaseHTTPRequestHandler):
    """One client connection to the proxy: CONNECT tunnels, or absolute-form HTTP requests."""

    app: Any
    origin: tuple[str, int]
    passed: tuple[str, ...]
    protocol_version = "HTTP/1.1"
    rbufsize = 0  # unbuffered: nothing the client sends after CONNECT's headers is read ahead and lost

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            return self.send_error(400, "CONNECT takes host:port")
        if is_provider_host(host):
            target = self.origin
        elif self._is_passed(host):
            target = (host, int(port))
        else:
            return self._refuse(host)
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError as exc:
            return self.send_error(502, f"cannot reach {host}:{port}: {exc}")
        upstream.settimeout(None)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.close_connection = True
        relay(self.connection, upstream)

    def _forward(self) -> None:
        """An absolute-form request (`GET http://host/path`): a provider URL is answered in-process."""
        url = urlsplit(self.path)
        if not url.scheme or not url.hostname:
            return self.send_error(400, "this is a proxy: send absolute URLs, or CONNECT")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS]
        if is_provider_url(self.path):
            try:
                reply = Forwarder(AppTransport(self.app), None).send(self.command, self.path, headers, body)
            except requests.exceptions.RequestException:  # an injected fault that drops the connection
                return self._drop()
            return self._answer(reply.status, reply_headers(reply), reply.body)
        if not self._is_passed(url.hostname):
            return self._refuse(url.hostname)
        upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        try:
            upstream.request(
                self.command, (url.path or "/") + (f"?{url.query}" if url.query else ""), body, dict(headers)
            )
            answer = upstream.getresponse()
            self._answer(
                answer.status, [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_HEADERS], answer.read()
            )
        except OSError as exc:
            self.send_error(502, f"cannot reach {url.hostname}: {exc}")
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _is_passed(self, host: str) -> bool:
        return any(fnmatch.fnmatch(host.lower(), pattern.lower()) for pattern in self.passed)

    def _refuse(self, host: str) -> None:
        self.send_error(403, f"{host} is not a provider host and is not passed by this proxy (--proxy-pass)")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until both sides have closed; a reset on one side resets the other."""
    with selectors.DefaultSelector() as selector, upstream:
        selector.register(client, selectors.EVENT_READ, (client, upstream))
        selector.register(upstream, selectors.EVENT_READ, (upstream, client))
        open_sides = 2
        while open_sides:
            for key, _ in selector.select():
                source, sink = key.data
                try:
                    data = source.recv(RELAY_CHUNK)
                    if data:
                        sink.sendall(data)
                        continue
                    sink.shutdown(socket.SHUT_WR)  # a half close travels on
                except OSError:  # a reset (an injected fault) or a peer gone: reset the other side too
                    sink.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                selector.unregister(source)
                open_sides -= 1
