"""The standalone server's request log: one console line per request (`serve`, unless `--quiet`).

Each line: the wall time, the namespace's emulated time, provider, method, path, status, duration and the
faults that acted; with `--log-json` the same as fields of one JSON object. Provider traffic and control
calls that change something are logged; control reads (the dashboard's polling, healthchecks) are not.
Installed on an app by `install`, nowhere else: an app without it pays nothing.

A request only notes its raw facts (a tuple, no formatting): a writer thread formats the notes in batches,
every `FLUSH_SECONDS` and on `flush()`, and writes each batch at once, so a line appears up to that much
later than the request, with the request's own wall time. The lines look like the `serve` console's log
records (`... INFO emulator.requests: ...`) but do not go through `logging`: a record per request cost
25-40 us of the server's CPU, several times the line itself (docs/performance.md).
"""

from __future__ import annotations

import atexit
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple, TextIO

from flask import Flask, Response, g, request

from ..core.clock import format_instant, wall_now, wall_sleep, wall_timer
from ..core.faults import ABORT_HEADER
from ..core.store import DEFAULT_NAMESPACE
from . import runtime

LOGGER_NAME = "emulator.requests"  # named in every line, as the console's log records name theirs
FLUSH_SECONDS = 0.1  # the longest a line waits for the writer
_NOTE_KEY = "emulator.web.request_log"  # environ: what the after_request hook saw, for the WSGI wrapper


class _Note(NamedTuple):
    """What a line needs, as the request left it; formatted by the writer."""

    emulated_at: float
    namespace: str
    provider: str
    method: str
    path: str
    status: int
    faults: tuple[str, ...]


def install(app: Flask, stream: TextIO, as_json: bool = False) -> RequestLog:
    """Log every request of `app` to `stream`, a text line each (`as_json`: a JSON object each)."""
    request_log = RequestLog(stream, as_json)
    app.after_request(_note)  # registered last, so it runs first: it sees the route's answer
    app.wsgi_app = request_log.timed(app.wsgi_app)  # type: ignore[method-assign]
    return request_log


def _note(response: Response) -> Response:
    """Remember what the line needs while the request context is still there."""
    flags = g._get_current_object()
    provider = flags.get("provider")
    req = request._get_current_object()  # type: ignore[attr-defined]
    method = req.method
    if provider is None and method in ("GET", "HEAD", "OPTIONS"):
        return response
    # a provider request's namespace is its tenant's; a control call names its own
    namespace = flags.namespace if provider is not None else req.args.get("namespace", DEFAULT_NAMESPACE)
    dropped = flags.get("fault") is not None and ABORT_HEADER in response.headers
    req.environ[_NOTE_KEY] = _Note(
        (flags.get("runtime") or runtime()).store.view(namespace).clock.now(),  # set unless the token was refused
        namespace,
        provider.name if provider is not None else "control",
        method,
        req.path,
        0 if dropped else response.status_code,
        tuple(fault["kind"] for fault in flags.get("faults", ())),
    )
    return response


class RequestLog:
    """The notes of requests not yet logged, and the thread that logs them (it ends when the server is idle
    and starts again with the next request)."""

    def __init__(self, stream: TextIO, as_json: bool = False) -> None:
        self._stream = stream
        self._format = _json_line if as_json else _text_line
        self._pending: deque[tuple[_Note, float, float]] = deque()  # note, wall time at the end, duration (s)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()  # guards `_writer`
        self._writing = threading.Lock()  # one batch at a time, in order
        atexit.register(self.flush)  # the last lines of a server that stops

    def timed(self, wsgi_app: Callable) -> Callable:
        """`wsgi_app`, timed: the request is noted once the app has answered (its body not yet sent)."""

        def timed_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
            started = wall_timer()
            try:
                return wsgi_app(environ, start_response)
            finally:
                note = environ.pop(_NOTE_KEY, None)
                if note is not None:
                    self._pending.append((note, wall_now(), wall_timer() - started))
                    if self._writer is None:  # read after the append: a writer that is ending has seen it
                        self._start_writer()

        return timed_app

    @property
    def waiting(self) -> int:
        """How many noted requests are not logged yet."""
        return len(self._pending)

    def flush(self) -> None:
        """Log every request noted so far."""
        with self._writing:
            pending, lines = self._pending, []
            while pending:
                lines.append(self._format(*pending.popleft()))
            if lines:
                try:
                    self._stream.write("".join(lines))
                    self._stream.flush()
                except (OSError, ValueError):  # the console is gone (closed pipe or file): the lines with it
                    pass

    def _start_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_while_busy, name="emulator-request-log", daemon=True)
                self._writer.start()

    def _write_while_busy(self) -> None:
        while True:
            wall_sleep(FLUSH_SECONDS)
            with self._writer_lock:
                if not self._pending:
                    self._writer = None
                    return
            self.flush()


def fields(note: _Note, duration: float) -> dict[str, Any]:
    """A line's fields, as `--log-json` writes them beside time, level, logger and message."""
    return {
        "emulated_time": format_instant(note.emulated_at),
        "namespace": note.namespace,
        "provider": note.provider,
        "method": note.method,
        "path": note.path,
        "status": note.status,
        "faults": list(note.faults),
        "duration_ms": round(duration * 1000, 1),
    }


def message(line_fields: dict[str, Any]) -> str:
    """The text form: `emulated=... [namespace] liveperson POST /path 200 3.1ms faults=status`."""
    faults = f" faults={','.join(line_fields['faults'])}" if line_fields["faults"] else ""
    return (
        f"emulated={line_fields['emulated_time']} [{line_fields['namespace']}] {line_fields['provider']} "
        f"{line_fields['method']} {line_fields['path']} {line_fields['status']} {line_fields['duration_ms']}ms{faults}"
    )


def _text_line(note: _Note, ended_at: float, duration: float) -> str:
    """As the console's log format prints a record: `2026-03-01 12:00:00,123 INFO emulator.requests: ...`."""
    return f"{_local_second(int(ended_at))},{int(ended_at * 1000) % 1000:03d} INFO {LOGGER_NAME}: {message(fields(note, duration))}\n"


def _json_line(note: _Note, ended_at: float, duration: float) -> str:
    """As `--log-json` prints a record: time, level, logger, message, then the line's fields."""
    line_fields = fields(note, duration)
    entry = {
        "time": datetime.fromtimestamp(ended_at, timezone.utc).isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": LOGGER_NAME,
        "message": message(line_fields),
        **line_fields,
    }
    return json.dumps(entry, ensure_ascii=False) + "\n"


@lru_cache(maxsize=4)
def _local_second(second: int) -> str:
    """`logging`'s default asctime to the second, in local time: made once per second, not per line."""
    return datetime.fromtimestamp(second).strftime("%Y-%m-%d %H:%M:%S")
