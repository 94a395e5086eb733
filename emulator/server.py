"""Serving the app on waitress, in the foreground (CLI) or on a background thread (tests)."""

from __future__ import annotations

import signal
import socket
import struct
import threading
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import WSGITask

from .core.faults import ABORT_KEY
from .fault_injection import Abort

DEFAULT_THREADS = 8


class FaultAwareTask(WSGITask):
    """A waitress task that can drop its connection, for the fault kinds that need the raw socket."""

    def finish(self) -> None:
        abort: Abort | None = (self.environ or {}).get(ABORT_KEY)
        if abort is None:
            return super().finish()
        if abort.kind == "hang" and abort.released is not None:
            abort.released.wait(abort.hold_seconds)  # a thread of the pool waits; the others serve on
        if abort.kind in ("reset", "hang"):
            # SO_LINGER 0: closing sends RST instead of FIN, the client sees "connection reset by peer"
            self.channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_on_finish = True  # nothing was written: waitress closes the socket
        return None


class FaultAwareChannel(HTTPChannel):
    task_class = FaultAwareTask


def _create_server(app: Any, host: str, port: int, threads: int) -> Any:
    server = create_server(app, host=host, port=port, threads=threads, ident="messaging-auth-emulator")
    listeners = [server] if hasattr(server, "channel_class") else list(server.map.values())
    for listener in listeners:
        if hasattr(listener, "channel_class"):
            listener.channel_class = FaultAwareChannel
    return server


def bound_port(server: Any) -> int:
    """The port waitress bound (one socket, or the first of several for a name such as localhost)."""
    port = getattr(server, "effective_port", None)
    return int(port) if port is not None else int(server.effective_listen[0][1])


class BackgroundServer:
    """A real HTTP server on a thread, for tests: `with BackgroundServer(app) as server: server.url`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS) -> None:
        self._server = _create_server(app, host, port, threads)
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
    """Serve in the foreground until Ctrl-C or SIGTERM, then return (requests under way get a few seconds
    to finish); `on_ready(port)` runs once the socket is bound."""
    server = _create_server(app, host, port, threads)
    previous = _stop_on_sigterm()
    try:
        if on_ready is not None:
            on_ready(bound_port(server))
        server.run()  # ends on KeyboardInterrupt, after waiting for its worker threads
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # waitress's loop ends on it just as on Ctrl-C


def _stop_on_sigterm() -> Any:
    """Make SIGTERM stop the server the way Ctrl-C does; the previous handler (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)
