"""Serving the app on waitress, in the foreground (CLI) or on a background thread (tests)."""

from __future__ import annotations

import threading
from typing import Any

from waitress.server import create_server

DEFAULT_THREADS = 8


def bound_port(server: Any) -> int:
    """The port waitress bound (one socket, or the first of several for a name such as localhost)."""
    port = getattr(server, "effective_port", None)
    return int(port) if port is not None else int(server.effective_listen[0][1])


class BackgroundServer:
    """A real HTTP server on a thread, for tests: `with BackgroundServer(app) as server: server.url`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS) -> None:
        self._server = create_server(app, host=host, port=port, threads=threads, ident="messaging-auth-emulator")
        self.host = host
        self.port = bound_port(self._server)
        self._thread = threading.Thread(target=self._server.run, name=f"emulator-server-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.close()
        self._server.task_dispatcher.shutdown()  # type: ignore[union-attr]

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_server(app: Any, host: str, port: int, on_ready: Any = None, threads: int = DEFAULT_THREADS) -> None:
    """Serve in the foreground until interrupted; `on_ready(port)` runs once the socket is bound."""
    server = create_server(app, host=host, port=port, threads=threads, ident="messaging-auth-emulator")
    if on_ready is not None:
        on_ready(bound_port(server))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
