"""Request plumbing shared by the provider blueprints and the control API."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.wsgi import get_content_length

from ..client import NAMESPACE_HEADER  # noqa: F401  (the server reads what the client sends)
from ..core.clock import format_instant
from ..core.deliveries import Attempt, Delivery
from ..core.journal import Journal, clip
from ..core.server_contract import CONTROL_PREFIX
from ..core.store import Namespace, Store
from .unhandled import UnhandledErrors

if TYPE_CHECKING:
    from .spec import ProviderSpec

UNHANDLED_HEADER = "X-Emulator-Unhandled"


class MalformedJson(ValueError):
    """A request body that should be JSON is not; each provider answers it in its own shape."""


class Settings(Protocol):
    """What the request plumbing reads of the emulator's configuration (`config.EmulatorConfig`)."""

    @property
    def public_host(self) -> str | None: ...
    @property
    def control_token(self) -> str | None: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def max_control_body_bytes(self) -> int: ...


@dataclass
class Runtime:
    """The emulator behind one Flask app."""

    config: Settings
    store: Store
    journal: Journal
    providers: dict[str, ProviderSpec] = field(default_factory=dict)
    unhandled: UnhandledErrors = field(default_factory=UnhandledErrors)  # emulator bugs, per namespace


def body_limit(state: Runtime, provider: ProviderSpec | None, path: str) -> int:
    """The most bytes a request body may have: the provider's own limit, else the config's cap for
    provider traffic, or the control API's larger one (state imports)."""
    if provider is not None:
        upload = next((limit for suffix, limit in provider.upload_limits if path.endswith(suffix)), None)
        return upload or provider.max_body_bytes or state.config.max_body_bytes
    if path.startswith(CONTROL_PREFIX):
        return state.config.max_control_body_bytes
    return state.config.max_body_bytes


def body_limit_of_path(state: Runtime, path: str) -> int:
    """`body_limit` for a path alone, for the server that reads the body before any route is known."""
    provider = next((p for p in state.providers.values() if path.startswith(p.path_prefixes)), None)
    return body_limit(state, provider, path)


def size_text(limit: int) -> str:
    """`100kB`, `4MB`: a limit as the messages name it (kB and MB of 1024)."""
    return f"{limit // (1024 * 1024)}MB" if limit % (1024 * 1024) == 0 else f"{limit // 1024}kB"


REASON_HEADER = "X-Emulator-Reason"  # emulator-only: why a request was refused; no provider sends it


class ProviderError(Exception):
    """A refusal in a provider's own shape: subclasses say what the body looks like."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or message

    def body(self) -> Any:
        raise NotImplementedError

    def response(self) -> Response:
        return json_response(self.body(), self.status, headers={REASON_HEADER: self.reason})


def runtime(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions["emulator"]


def current_namespace() -> Namespace:
    """The namespace of the request under way (resolved by the app's request hook); a request never
    creates a namespace, so one that does not exist reads as empty."""
    return runtime().store.view(g.namespace)


def may_have_body(environ: dict) -> bool:
    """A request has a body only with a Content-Length or a Transfer-Encoding (RFC 9112 6.3), unless a server
    hands over a stream it did not frame (`wsgi.input_terminated`): waitress frames every body it passes on
    (de-chunked, with a Content-Length), so a request it passes without one has none."""
    if get_content_length(environ) or "HTTP_TRANSFER_ENCODING" in environ:
        return True
    return (
        bool(environ.get("wsgi.input_terminated")) and "waitress.client_disconnected" not in environ
    )  # waitress sets it


def read_json_body(empty: Any = None) -> Any:
    """The request's JSON body, `empty` when there is none (or when it was refused as too large, unread);
    MalformedJson when it does not parse."""
    if g.get("body_refused") or not may_have_body(request.environ):
        return empty
    raw = request.get_data(cache=True)
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than Python's stack
        raise MalformedJson(str(exc)) from None


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def pump_deliveries(namespace: Namespace, wait: bool = False) -> None:
    """Attempt the namespace's webhook deliveries that are due on its clock, journaling each attempt.

    Deliveries whose policy says `background` go to worker threads, so the request that raised them does
    not wait for the receiver; `wait` (a flush, a clock move, a release) waits for every attempt under way.
    """
    journal = runtime().journal

    def record(delivery: Delivery, attempt: Attempt) -> None:
        journal.record(
            time=format_instant(attempt.at),
            namespace=namespace.name,
            provider=delivery.kind.split(".")[0],
            method="POST",
            path=delivery.url,
            query="",
            status=attempt.status,
            request_headers=dict(delivery.policy.headers),
            request_body=clip(json.dumps(delivery.payload) if delivery.body is None else delivery.body.decode()),
            response_body=attempt.error,
            direction="outgoing",
        )

    namespace.outbox.pump(namespace.clock.now(), record)
    if wait:
        namespace.outbox.wait_idle()


def url_tenant(view_arg: str) -> Callable[[], list[str]]:
    """For providers whose paths name the tenant: the URL variable `view_arg`."""

    def tenants() -> list[str]:
        value = (request.view_args or {}).get(view_arg)
        return [value] if value else []

    return tenants


class LazySock:
    """flask_sock's `Sock().route(path, bp=...)`, with flask_sock imported on the first connection: it loads
    simple_websocket, wsproto, h11 and asyncio, a fifth of the start-up, which a run without sockets never uses."""

    def route(
        self, path: str, bp: Blueprint, before: Callable[[], None] | None = None
    ) -> Callable[[Callable], Callable]:
        """`before` runs ahead of the upgrade: it may refuse the request in the provider's shape (it raises)."""

        def decorator(handler: Callable) -> Callable:
            accepting: list[Callable] = []  # flask_sock's view of `handler`, made on the first connection

            @functools.wraps(handler)
            def websocket_route(*args: Any, **kwargs: Any) -> Any:
                if before is not None:
                    before()
                if not accepting:
                    from flask_sock import Sock

                    Sock().route(path, bp=_Capture(accepting))(handler)
                return accepting[0](*args, **kwargs)

            bp.route(path, websocket=True)(websocket_route)
            return handler

        return decorator


class _Capture:
    """Stands in for a blueprint: keeps the view a `route` decorator is given instead of registering it."""

    def __init__(self, views: list[Callable]) -> None:
        self._views = views

    def route(self, path: str, **options: Any) -> Callable[[Callable], None]:
        return self._views.append


def public_host() -> str:
    """The `host[:port]` clients should call back: the configured public host, else the request's."""
    return runtime().config.public_host or request.host
