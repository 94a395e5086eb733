"""Serving the app on waitress, in the foreground (CLI) or on a background thread (tests), WebSockets
included (the upgraded connection is lent to simple_websocket); over TLS on Werkzeug's threaded server
(waitress has no TLS)."""

from __future__ import annotations

import gc
import logging
import signal
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import TYPE_CHECKING, Any, TypeVar

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.utilities import RequestEntityTooLarge, RequestHeaderFieldsTooLarge

from ..core.server_contract import ABORT_KEY, BODY_REFUSED_KEY, CONTROL_PREFIX, HOLD_KEY
from .warmup import WarmUp

if TYPE_CHECKING:  # `serve` listens before Flask and Werkzeug are loaded (WarmingServer)
    import ssl

    from werkzeug.serving import BaseWSGIServer

    from ..web import Runtime
    from ..web.fault_injection import Abort

DEFAULT_THREADS = 8  # provider workers; the control API has its own (CONTROL_THREADS)
CONTROL_THREADS = 4  # health, faults, clock, state: a test reaches them however busy the providers are
MAX_HOLDS = 512  # requests a fault may hold at once, each on a worker of its own (beyond it they queue)
# sized for many test workers, each with a pool of keep-alive connections; an idle one is closed after
# IDLE_SECONDS (waitress's `channel_timeout`, checked every CLEANUP_SECONDS; Werkzeug's TLS server: a read timeout)
CONNECTION_LIMIT = 1000
IDLE_SECONDS = 30
CLEANUP_SECONDS = 5
STOP_SECONDS = 10  # the longest `BackgroundServer.stop` waits for waitress's loop to close its sockets and end
# [I] kept at waitress's default: a request line plus headers past 256 KiB get waitress's own plain-text 431
# (Node's HTTP server, in front of the real APIs, answers 431 too, for far less); a token past 16 KiB is
# refused by the verifiers themselves, in the provider's shape
MAX_REQUEST_HEADER_BYTES = 256 * 1024
# [I] after a refused body, what the client still sends of it is read and dropped (up to this much) before
# the connection closes, so that a client that sends its whole body before reading sees the 413, not a reset
LINGER_BYTES = 16 * 1024 * 1024


class LentSocket:
    """A waitress connection's socket, lent to a WebSocket (simple_websocket, through `werkzeug.socket`):
    blocking once taken (the WebSocket reads on a thread of its own), and its `close` only shuts the
    connection down, so that the descriptor is closed by waitress alone, after it forgot the channel (a
    descriptor closed under waitress could be reused by a new connection while the old channel is mapped)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.taken = False

    def _take(self) -> socket.socket:
        if not self.taken:
            self.taken = True
            self._sock.setblocking(True)
        return self._sock

    def recv(self, size: int) -> bytes:
        return self._take().recv(size)

    def send(self, data: bytes) -> int:
        return self._take().send(data)

    def sendall(self, data: bytes) -> None:
        self._take().sendall(data)

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # also wakes a reader still blocked in `recv`
        except OSError:
            pass  # already shut down, or reset by the client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _is_websocket_upgrade(environ: dict) -> bool:
    return environ.get("HTTP_UPGRADE", "").lower() == "websocket"


class FaultAwareTask(WSGITask):
    """A waitress task that can drop its connection, for the fault kinds that need the raw socket, that
    lets a fault's wait borrow a worker (HOLD_KEY, see SplitDispatcher), and that lends its socket to a
    WebSocket upgrade (LentSocket), on a worker lent for as long as the WebSocket lives."""

    lent: LentSocket | None = None

    def get_environment(self) -> dict:
        if self.environ is not None:
            return self.environ
        environ = super().get_environment()
        environ[HOLD_KEY] = self.channel.server.task_dispatcher.holding
        if _is_websocket_upgrade(environ):
            self.lent = LentSocket(self.channel.socket)
            environ["werkzeug.socket"] = self.lent
        return environ

    def execute(self) -> None:
        if not _is_websocket_upgrade(self.get_environment()):
            return super().execute()
        with self.environ[HOLD_KEY]():
            try:
                return super().execute()
            finally:
                if self.lent is not None and self.lent.taken:
                    self.lent.close()

    def finish(self) -> None:
        if self.lent is not None and self.lent.taken:
            self.close_on_finish = True  # the WebSocket ended: nothing more is written, waitress closes it
            return None
        abort: Abort | None = (self.environ or {}).get(ABORT_KEY)
        if abort is None:
            return super().finish()
        if abort.kind == "hang" and abort.released is not None:
            with self.environ[HOLD_KEY]():  # this thread waits on a worker lent for the hold
                abort.released.wait(abort.hold_seconds)
        if abort.kind in ("reset", "hang"):
            # SO_LINGER 0: closing sends RST instead of FIN, the client sees "connection reset by peer"
            self.channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_on_finish = True  # nothing was written: waitress closes the socket
        return None


class LimitedBodyParser(HTTPRequestParser):
    """Waitress's request parser, with a body limit per path (`body_limit`, None while not known): a
    Content-Length past it is refused as soon as the headers are read (or the limit is known), a chunked body
    as soon as what arrived passes it."""

    body_limit: Callable[[str], int | None] = staticmethod(lambda path: None)
    error: Exception | None  # waitress's: what went wrong reading the request
    refused_body = False
    _limit: int | None = None

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        if self.error is None and self.headers_finished and self.body_rcv is not None:
            if self._limit is None:  # asked again with the next data while unknown (the app is being built)
                self._limit = self.body_limit(self.path)
            limit = self._limit or self.adj.max_request_body_size
            size = len(self.body_rcv) if self.chunked else self.content_length
            if size > limit:
                self.error = RequestEntityTooLarge(f"exceeds the body limit of {limit}")
                self.refused_body = True
                self.completed = True
                self.expect_continue = False  # no `100 Continue`: the body is not wanted
                return len(data)  # the rest is body, dropped (never parsed as a next request)
        return consumed


class RefusedBodyTask(FaultAwareTask):
    """The error task: a body refused by `LimitedBodyParser` goes to the app without its body (marked
    BODY_REFUSED_KEY), which answers 413 in the shape of the path's owner and journals it; any other
    protocol error is waitress's own plain-text answer."""

    def execute(self) -> None:
        if not getattr(self.request, "refused_body", False):
            self.complete = True  # as ErrorTask: its body is written without start_response
            return ErrorTask.execute(self)
        return super().execute()

    def build_response_header(self) -> bytes:
        if getattr(self.request, "refused_body", False):
            self.set_close_on_finish()  # `Connection: close`: the rest of the body is never read
        return super().build_response_header()

    def get_environment(self) -> dict:
        environ = super().get_environment()
        if getattr(self.request, "refused_body", False):
            environ["wsgi.input"] = BytesIO()
            environ[BODY_REFUSED_KEY] = True
        return environ


class SplitDispatcher:
    """Waitress's task dispatcher, as two pools: the control API's requests (CONTROL_PREFIX) on workers
    of their own, every other request on the provider pool. A request that a fault holds (hang, latency)
    lends the provider pool one more worker for as long as it holds one: holds never take the last
    workers, and a test can always clear the fault."""

    def __init__(self, threads: int, control_threads: int = CONTROL_THREADS) -> None:
        self.providers = ThreadedTaskDispatcher()
        self.control = ThreadedTaskDispatcher()
        self.providers.set_thread_count(threads)
        self.control.set_thread_count(control_threads)
        self._threads = threads
        self._holds = 0
        self._changed = threading.Condition()

    def add_task(self, channel: HTTPChannel) -> None:
        requests = getattr(channel, "requests", None) or [None]
        path = getattr(requests[0], "path", None) or ""
        (self.control if path.startswith(CONTROL_PREFIX) else self.providers).add_task(channel)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Around a wait a fault imposes on a provider request: one more provider worker meanwhile."""
        self._add_hold(1)
        try:
            yield
        finally:
            self._add_hold(-1)

    def _add_hold(self, step: int) -> None:
        with self._changed:
            self._holds += step
            self.providers.set_thread_count(self._threads + min(self._holds, MAX_HOLDS))
            self._changed.notify_all()

    def wait_for_holds(self, count: int, timeout: float) -> bool:
        """Until `count` requests are held (True), or `timeout` seconds passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._holds >= count, timeout)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> None:
        self.providers.shutdown(cancel_pending, timeout)
        self.control.shutdown(cancel_pending, timeout)


class FaultAwareChannel(HTTPChannel):
    task_class = FaultAwareTask


class LingeringChannel(FaultAwareChannel):
    """Once a body (or a header past MAX_REQUEST_HEADER_BYTES) is refused, the rest of what the client sends is dropped unread; after the 413 is out,
    the connection is half-closed and drained (up to LINGER_BYTES, or until the client closes), since a
    close with unread data would reset it and lose the answer for a client still sending."""

    error_task_class = RefusedBodyTask
    dropping = False  # a body was refused: no more requests on this connection
    dropped = 0
    half_closed = False

    def received(self, data: bytes) -> bool:
        if self.dropping:
            self.dropped += len(data)
            if self.dropped > LINGER_BYTES:
                self.will_close = True
            return True
        result = super().received(data)
        if any(
            getattr(request, "refused_body", False) or isinstance(request.error, RequestHeaderFieldsTooLarge)
            for request in self.requests
        ):
            self.dropping = True
        return result

    def handle_close(self) -> None:
        if (
            self.dropping
            and not self.half_closed
            and self.connected
            and not self.total_outbufs_len
            and self.dropped <= LINGER_BYTES
        ):
            self.half_closed = True  # the answer is out: FIN, then read and drop until the client closes
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                return super().handle_close()
            self.will_close = self.close_when_flushed = False
            return None
        return super().handle_close()


def _channel_class(body_limit: Callable[[str], int | None]) -> type[HTTPChannel]:
    parser = type("EmulatorParser", (LimitedBodyParser,), {"body_limit": staticmethod(body_limit)})
    return type("EmulatorChannel", (LingeringChannel,), {"parser_class": parser})


def _body_limit_of(app: Any) -> Callable[[str], int | None]:
    """The emulator app's body limit per path; none for another WSGI app (or a WarmUp: its app's is set once built)."""
    state: Runtime | None = getattr(app, "extensions", {}).get("emulator")
    if state is None:
        return lambda path: None
    from ..web import body_limit_of_path  # loaded with the app itself

    return lambda path: body_limit_of_path(state, path)


def _create_server(app: Any, host: str, port: int, threads: int, idle_seconds: int = IDLE_SECONDS) -> Any:
    # waitress warns "Task queue depth is N" each time a request waits for a worker: under a test's burst that is
    # a line for most requests, noise that also costs the server CPU (the warning's LogRecord and write)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="messaging-auth-emulator",
        max_request_header_size=MAX_REQUEST_HEADER_BYTES,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=idle_seconds,
        cleanup_interval=min(CLEANUP_SECONDS, idle_seconds),
        _dispatcher=SplitDispatcher(threads),
    )
    channel_class = _channel_class(_body_limit_of(app))
    for listener in _listeners(server):
        listener.channel_class = channel_class
    return server


def _listeners(server: Any) -> list[Any]:
    """Waitress's listening sockets: the server itself, or those of a server on several (localhost)."""
    if hasattr(server, "channel_class"):
        return [server]
    return [listener for listener in server.map.values() if hasattr(listener, "channel_class")]


def bound_port(server: Any) -> int:
    """The port waitress bound (one socket, or the first of several for a name such as localhost)."""
    port = getattr(server, "effective_port", None)
    return int(port) if port is not None else int(server.effective_listen[0][1])


class BackgroundServer:
    """A real HTTP server on a thread, for tests: `with BackgroundServer(app) as server: server.url`."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = DEFAULT_THREADS,
        idle_seconds: int = IDLE_SECONDS,
    ) -> None:
        self._server = _create_server(app, host, port, threads, idle_seconds)
        self.dispatcher: SplitDispatcher = self._server.task_dispatcher
        self.host = host
        self.port = bound_port(self._server)
        self._thread = threading.Thread(target=self._server.run, name=f"emulator-server-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """The requests under way finish, then waitress's loop closes every socket and ends. Closing them from
        this thread instead could take a descriptor from under the loop's `select` (EBADF on its thread)."""
        if not self._thread.is_alive():  # never started: no loop to ask
            self._server.close()
            self._server.task_dispatcher.shutdown()
            return
        self._server.task_dispatcher.shutdown()
        _close_in_loop(_listeners(self._server))
        self._thread.join(STOP_SECONDS)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def freeze_startup_objects() -> None:
    """Move what start-up made (modules, schemas, the app, the seed) out of the garbage collector's reach:
    a full collection then walks only what requests made since. Measured with `wrk -c1` on `serve`: p99
    1.5 ms instead of 24-36 ms (full collections walking every imported object), p50 unchanged."""
    gc.collect()
    gc.freeze()


def run_server(app: Any, host: str, port: int, on_ready: Any = None, threads: int = DEFAULT_THREADS) -> None:
    """Serve an app already built in the foreground until Ctrl-C or SIGTERM, then return; `on_ready(port)` runs
    once the socket is bound (a WarmingServer with nothing left to build)."""
    WarmingServer(lambda bound: app, host, port, on_ready=on_ready, threads=threads).serve()


Build = Callable[[int], Any]  # the port listened on -> the app, or None when it cannot start (it said why)


class WarmingServer:
    """run_server for an app still to be built: the socket listens at once and answers the health check
    (WarmUp), while `build(port)` makes the app on a thread of its own (BuildThread); from then on waitress
    calls the app itself (the front costs a request nothing). `serve()` until Ctrl-C, SIGTERM, `stop()` or a
    build that returns None."""

    def __init__(
        self, build: Build, host: str = "127.0.0.1", port: int = 0, on_ready: Any = None, threads: int = DEFAULT_THREADS
    ) -> None:
        self.front = WarmUp()
        self._server = _create_server(self.front, host, port, threads)
        self._listeners = _listeners(self._server)
        self.port = bound_port(self._server)
        self._builder = BuildThread(self.front, build, self.port, on_ready, self._hand_over, self.stop)

    def serve(self) -> Any:
        """Serve in the foreground; the app built, else None (or what the build raised)."""
        return _run_while_building(self._builder, self._server.run, self._close)

    def stop(self) -> None:
        """From any thread: the requests under way finish, then waitress's loop sends what they answered,
        closes every socket and ends."""
        if self._builder.stopping.is_set():
            return
        self._server.task_dispatcher.shutdown()
        _close_in_loop(self._listeners)

    def _hand_over(self, app: Any) -> None:
        self._listeners[0].channel_class.parser_class.body_limit = staticmethod(_body_limit_of(app))
        for listener in self._listeners:
            listener.application = app

    def _close(self) -> None:
        self._server.close()
        self._server.task_dispatcher.shutdown()


def _close_in_loop(listeners: list[Any]) -> None:
    """Have waitress's loop close every socket (after sending the last answers): its loop then ends."""
    listener = listeners[0]
    listener.trigger.pull_trigger(lambda: _close_flushed(listener._map))


def _close_flushed(socket_map: dict) -> None:
    """In waitress's loop: send what the connections still hold (the last answers), then close every socket."""
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, HTTPChannel) and dispatcher.total_outbufs_len:
            dispatcher.handle_write()
    wasyncore.close_all(socket_map)


class BuildThread(threading.Thread):
    """The build of the app, started once the socket listens: the app it returns is handed the server's
    requests (`hand_over`) and the front's held ones, then `on_ready(port)` runs (the banner) and start-up
    objects are frozen; a build that returns None or raises has the front answer 503 and the server stop."""

    def __init__(self, front: WarmUp, build: Build, port: int, on_ready: Any, hand_over: Any, stop: Any) -> None:
        super().__init__(name="emulator-startup", daemon=True)
        self.front, self.build, self.port = front, build, port
        self.on_ready, self.hand_over, self.stop = on_ready, hand_over, stop
        self.app: Any = None
        self.error: BaseException | None = None
        self.stopping = threading.Event()  # the server stops (Ctrl-C, SIGTERM): nothing more to announce

    def run(self) -> None:
        try:
            app = self.build(self.port)
            if app is not None:
                self.hand_over(app)
                self.front.hand_over(app)
                self.app = app
                if self.on_ready is not None and not self.stopping.is_set():
                    self.on_ready(self.port)
                freeze_startup_objects()
                return
        except BaseException as exc:  # re-raised by the thread that runs the server, once it stopped
            self.error = exc
        self.front.give_up()
        self.stop()


def _run_while_building(builder: BuildThread, run: Callable[[], Any], close: Callable[[], Any]) -> Any:
    """Run the server (`run`) until Ctrl-C, SIGTERM or a stop, with `builder` building the app meanwhile;
    `close` it, wait for the build to end; the app built, else None (or what the build raised)."""
    previous = _stop_on_sigterm()
    try:
        builder.start()
        run()  # ends on KeyboardInterrupt (waitress: also once `stop` closed every socket)
    except KeyboardInterrupt:
        pass
    finally:
        builder.stopping.set()
        close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    builder.join()
    if builder.error is not None:
        raise builder.error
    return builder.app


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # waitress's loop ends on it just as on Ctrl-C


def _stop_on_sigterm() -> Any:
    """Make SIGTERM stop the server the way Ctrl-C does; the previous handler (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


# --- TLS: Werkzeug's threaded server (waitress has no TLS) ----------------------------------------------


def _create_tls_server(
    app: Any, host: str, port: int, context: ssl.SSLContext, idle_seconds: float = IDLE_SECONDS
) -> BaseWSGIServer:
    from werkzeug.serving import make_server

    from .tls_handler import TlsRequestHandler, dropping_aborts

    server = make_server(host, port, dropping_aborts(app), threaded=True, request_handler=TlsRequestHandler)
    server.ssl_context = context  # set after binding: the handler wraps each connection (see above)
    server.idle_seconds = idle_seconds  # type: ignore[attr-defined]
    return server


_Served = TypeVar("_Served", bound="ServedOnThread")


class ServedOnThread:
    """A standard-library socket server (`socketserver`) served on a daemon thread between `start()` and `stop()`;
    a subclass calls `_serve(server, name)` and says its URL `scheme`."""

    scheme = "http"
    host: str
    port: int

    def _serve(self, server: Any, name: str) -> None:
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"{name}-{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def start(self: _Served) -> _Served:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self: _Served) -> _Served:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class BackgroundTlsServer(ServedOnThread):
    """BackgroundServer over HTTPS: `with BackgroundTlsServer(app, cert, key) as server: server.url`.
    Werkzeug's threaded server (a thread per connection); `context` may replace cert and key."""

    scheme = "https"

    def __init__(
        self,
        app: Any,
        cert_path: str | None = None,
        key_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        context: ssl.SSLContext | None = None,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        if context is None:
            if cert_path is None or key_path is None:
                raise ValueError("BackgroundTlsServer needs cert_path and key_path, or a context")
            from .tls import server_context  # loads `cryptography`: only for a TLS server

            context = server_context(cert_path, key_path)
        self.host = host
        self._serve(_create_tls_server(app, host, port, context, idle_seconds), "emulator-tls-server")


def serve_tls_while_building(build: Build, host: str, port: int, context: ssl.SSLContext, on_ready: Any = None) -> Any:
    """WarmingServer's `serve` over HTTPS on Werkzeug's threaded server."""
    front = WarmUp()
    server = _create_tls_server(front, host, port, context)

    def hand_over(app: Any) -> None:  # from now on the handler calls the app itself
        from .tls_handler import dropping_aborts  # loaded already, with the server

        server.app = dropping_aborts(app)

    def stop() -> None:
        if not builder.stopping.is_set():
            server.shutdown()

    builder = BuildThread(front, build, int(server.server_port), on_ready, hand_over, stop)
    return _run_while_building(builder, lambda: server.serve_forever(poll_interval=0.2), server.server_close)
