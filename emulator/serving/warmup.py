"""The WSGI app `serve` listens with while the emulator is still being built: it answers the health check at
once, as the control API's health route answers it, and holds every other request until the emulator is
built (then hands it over) or could not start (then answers 503). Imports nothing heavy: it runs before the
app's modules are loaded."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .. import __version__
from ..core.server_contract import CONTROL_PREFIX

HEALTH_PATH = CONTROL_PREFIX + "health"
# what control/routes.py's `health` answers (tests/test_warmup.py holds the two equal)
HEALTH_BODY = json.dumps({"status": "ok", "version": __version__}).encode()
_JSON_HEADERS = [("Content-Type", "application/json")]
# emulator-only: no provider answers this; the control API's error shape
UNAVAILABLE_BODY = json.dumps(
    {"error": {"code": "unavailable", "message": "the emulator could not start: see its log"}}
).encode()


class WarmUp:
    """Health now; any other request waits (an Event, no polling) for `hand_over(app)`, then is the app's,
    or for `give_up()`, then gets a 503. The server sends new requests to the app itself once it has it."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None
        self._settled = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _is_health_check(environ):
            return _answer(start_response, "200 OK", HEALTH_BODY, environ)
        self._settled.wait()
        if self.app is None:
            return _answer(start_response, "503 SERVICE UNAVAILABLE", UNAVAILABLE_BODY, environ)
        return self.app(environ, start_response)

    def hand_over(self, app: Callable[..., Iterable[bytes]]) -> None:
        """The emulator is built: the requests waiting, and any still to come here, are its."""
        self.app = app
        self._settled.set()

    def give_up(self) -> None:
        """The emulator could not start: the requests waiting, and any still to come here, get a 503."""
        self._settled.set()


def _is_health_check(environ: dict[str, Any]) -> bool:
    """GET or HEAD of the health route, without a body (one could be past the control API's body limit,
    which only the app knows)."""
    return (
        environ.get("PATH_INFO") == HEALTH_PATH
        and environ.get("REQUEST_METHOD") in ("GET", "HEAD")
        and environ.get("CONTENT_LENGTH", "0") in ("", "0")
        and "HTTP_TRANSFER_ENCODING" not in environ
    )


def _answer(start_response: Callable[..., Any], status: str, body: bytes, environ: dict[str, Any]) -> list[bytes]:
    start_response(status, [*_JSON_HEADERS, ("Content-Length", str(len(body)))])
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
