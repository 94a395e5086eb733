"""A local webhook receiver (`emulator_webhook_receiver`) recording what the emulator delivers to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .replies import created_body

if TYPE_CHECKING:
    from .sunshine import SunshineApp


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the webhook receiver got: `body` is the parsed JSON (None if it was not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


class WebhookReceiver:
    """A local HTTP endpoint (a threaded `http.server` on 127.0.0.1) that records every request made to it.

    - `url`: its base URL (`http://127.0.0.1:PORT/webhook`); any path and method below the host is accepted.
    - `deliveries`: the requests received so far, oldest first (`ReceivedRequest(method, path, headers,
      body, raw)`; header names as sent); `events(type=None)`: the `events` of every body, flattened.
    - `respond(status, times=1)`: answer `status` to the next `times` requests (then 200 again), e.g.
      `respond(500, 2)` to see the emulator retry, `respond(404)` to see it give up.
    - `hang(times=1)`: the next `times` requests get no answer until the test ends (the emulator's
      attempt times out); `clear()`: forget the deliveries and pending answers.
    - `wait_for(count=1, timeout=5.0)`: wait until `count` requests have arrived (e.g. an attempt is
      under way), without polling.
    - `sunshine_webhook(app, triggers=("*",), **flags)`: a custom integration of the Sunshine app with one
      webhook targeting this receiver (flags: `includeFullUser`, `includeFullSource`); answers the webhook
      (`id`, `secret`, ...).

    Sunshine delivers in the background: call `emulator_backend.control.flush_deliveries()` (or move the
    clock) before reading `deliveries`, and every attempt will have been made.
    """

    def __init__(self, path: str = "/webhook") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # notified on each request
        self._hung = threading.Event()  # set when the receiver stops: hanging requests then end
        self._received: list[ReceivedRequest] = []
        self._answers: list[int | None] = []  # the next requests' answers; None: hang
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._take(
                    ReceivedRequest(self.command, self.path, dict(self.headers.items()), _json_or_none(raw), raw)
                )
                if status is None:
                    receiver._hung.wait()
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _any  # http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}{path}"

    def _take(self, request: ReceivedRequest) -> int | None:
        with self._lock:
            self._received.append(request)
            self._arrived.notify_all()
            return self._answers.pop(0) if self._answers else 200

    @property
    def deliveries(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait (without polling) until `count` requests have arrived, at most `timeout` seconds; answers
        the deliveries, or fails the test. Mostly a flush is the better wait: it ends when attempts end."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(
                    f"the webhook receiver got {len(self._received)} request(s), not {count}, in {timeout} s"
                )
            return list(self._received)

    def wait_until(self, holds: Callable[[list[ReceivedRequest]], bool], timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait (without polling) until `holds(deliveries)`, at most `timeout` seconds; answers the deliveries."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: holds(self._received), timeout):
                raise AssertionError(
                    f"the webhook receiver's {len(self._received)} request(s) did not hold in {timeout} s"
                )
            return list(self._received)

    def events(self, event_type: str | None = None) -> list[dict]:
        """The events of every delivery's body, in order, optionally of one type."""
        found = [e for r in self.deliveries if isinstance(r.body, dict) for e in r.body.get("events") or []]
        return [e for e in found if event_type is None or e.get("type") == event_type]

    def respond(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._answers += [status] * times

    def hang(self, times: int = 1) -> None:
        with self._lock:
            self._answers += [None] * times

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._answers.clear()

    def sunshine_webhook(self, app: SunshineApp, triggers: Any = ("*",), **flags: Any) -> dict:
        """A custom integration of `app` whose one webhook posts to this receiver; answers the webhook."""
        body = {
            "type": "custom",
            "displayName": "webhook receiver",
            "webhooks": [{"target": self.url, "triggers": list(triggers), **flags}],
        }
        return created_body(app.request("POST", "integrations", json=body), "integration")["webhooks"][0]

    def close(self) -> None:
        self._hung.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _json_or_none(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


@pytest.fixture
def emulator_webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP endpoint recording the webhook deliveries made to it (see WebhookReceiver): `.url`,
    `.deliveries`, `.events(type)`, `.respond(status, times)`, `.hang(times)`, `.wait_for(count)`, `.clear()`,
    `.sunshine_webhook(sunshine_app, triggers, **flags)`."""
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
