"""The standalone server's request log: one console line per request (`serve`, unless `--quiet`).

Each line: the wall time (from the log handler), the namespace's emulated time, provider, method, path,
status, duration and the faults that acted; with `--log-json` the same as fields of one JSON object.
Provider traffic and control calls that change something are logged; control reads (the dashboard's
polling, healthchecks) are not. Installed on an app by `install`, nowhere else: an app without it pays
nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from flask import Flask, Response, g, request

from .core.clock import format_instant, wall_timer
from .core.faults import ABORT_HEADER
from .core.store import DEFAULT_NAMESPACE
from .web import runtime

log = logging.getLogger("emulator.requests")
_LINE_KEY = "emulator.request_log"  # environ: what the after_request hook saw, for the WSGI wrapper


def install(app: Flask) -> None:
    """Log every request of `app` to the `emulator.requests` logger."""
    app.after_request(_describe)  # registered last, so it runs first: it sees the route's answer
    app.wsgi_app = _Timed(app.wsgi_app)  # type: ignore[method-assign]


def _describe(response: Response) -> Response:
    """Remember what the line needs while the request context is still there."""
    provider = g.get("provider")
    if provider is None and request.method in ("GET", "HEAD", "OPTIONS"):
        return response
    # a provider request's namespace is its tenant's; a control call names its own
    namespace = g.namespace if provider is not None else request.args.get("namespace", DEFAULT_NAMESPACE)
    dropped = g.get("fault") is not None and ABORT_HEADER in response.headers
    request.environ[_LINE_KEY] = {
        "emulated_time": format_instant(runtime().store.view(namespace).clock.now()),
        "namespace": namespace,
        "provider": provider.name if provider is not None else "control",
        "method": request.method,
        "path": request.path,
        "status": 0 if dropped else response.status_code,
        "faults": [fault["kind"] for fault in g.get("faults", ())],
    }
    return response


class _Timed:
    """The app, timed: the line is logged once the app has answered (its body not yet sent)."""

    def __init__(self, wsgi_app: Callable) -> None:
        self._wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = wall_timer()
        try:
            return self._wsgi_app(environ, start_response)
        finally:
            fields = environ.pop(_LINE_KEY, None)
            if fields is not None:
                fields["duration_ms"] = round((wall_timer() - started) * 1000, 1)
                log.info(line(fields), extra={"fields": fields})


def line(fields: dict[str, Any]) -> str:
    """The text form: `emulated=... liveperson POST /path 200 3.1ms faults=status`."""
    faults = f" faults={','.join(fields['faults'])}" if fields["faults"] else ""
    return (
        f"emulated={fields['emulated_time']} [{fields['namespace']}] {fields['provider']} {fields['method']} "
        f"{fields['path']} {fields['status']} {fields['duration_ms']}ms{faults}"
    )
