"""The request handler of the HTTPS server (Werkzeug's threaded server; server.py) and the app wrapper that
drops a faulted connection there: loaded with the first TLS server, so that `serve` over plain HTTP never loads
Werkzeug's server."""

from __future__ import annotations

import socket
import ssl
import struct
from typing import TYPE_CHECKING, Any

from werkzeug.serving import WSGIRequestHandler

from ..core.server_contract import ABORT_KEY
from .serialized_socket import SerializedTlsSocket

if TYPE_CHECKING:
    from ..web.fault_injection import Abort

TLS_HANDSHAKE_SECONDS = 10.0  # a connection that has not finished its handshake by then is closed


class DroppedConnection(ConnectionAbortedError):
    """Raised by `dropping_aborts` so that Werkzeug writes nothing and ends the connection."""


def dropping_aborts(app: Any) -> Any:
    """The app, for Werkzeug: a response marked ABORT_KEY is never written; the connection is dropped
    instead, as FaultAwareTask does on waitress (reset and hang: RST via SO_LINGER 0; empty: close)."""

    def wsgi(environ: dict, start_response: Any) -> Any:
        result = app(environ, start_response)  # Werkzeug writes nothing before the first body chunk
        abort: Abort | None = environ.get(ABORT_KEY)
        if abort is None:
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()
        if abort.kind == "hang" and abort.released is not None:
            abort.released.wait(abort.hold_seconds)  # this connection's thread waits; the others serve on
        if abort.kind in ("reset", "hang"):
            sock = environ["werkzeug.socket"]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raise DroppedConnection(abort.kind)

    return wsgi


class TlsRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with the TLS handshake in the connection's own thread (Werkzeug would run it
    in the accept loop, where one silent client stalls every other), no access log (as waitress), and
    the fault aborts of `dropping_aborts`."""

    def setup(self) -> None:
        context: ssl.SSLContext = self.server.ssl_context  # type: ignore[assignment]
        self.request = context.wrap_socket(self.request, server_side=True, do_handshake_on_connect=False)
        self.shared_socket = SerializedTlsSocket(self.request)
        super().setup()

    def handle(self) -> None:
        try:
            self.connection.settimeout(TLS_HANDSHAKE_SECONDS)
            self.connection.do_handshake()
            self.connection.settimeout(self.server.idle_seconds)  # type: ignore[attr-defined]  # a keep-alive connection idle this long is closed
        except (OSError, ValueError):  # a client that does not trust the certificate, plain HTTP, a port scan
            return
        super().handle()

    def make_environ(self) -> dict:
        environ = super().make_environ()
        environ["werkzeug.socket"] = self.shared_socket  # a WebSocket reads and writes at once
        return environ

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # the TLS socket (the server only knows the plain one, now detached), closed under the shared
            # socket's lock so that a WebSocket's reader thread never reads after it
            self.shared_socket.close()

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        if isinstance(error, DroppedConnection):
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass
