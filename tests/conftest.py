"""Fixtures several test modules share."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

# Loaded before any in-process pytester run: a module first imported inside one is dropped from sys.modules
# after it, while what kept a reference to it stays (cryptography's compiled bindings then refuse the classes
# of a second import; jsonpath_ng's parser looks itself up in sys.modules).
import emulator.app  # noqa: F401
import emulator.scenarios.runner  # noqa: F401


@pytest.fixture(scope="module")
def local_site() -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 that is no provider."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"hello from {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
