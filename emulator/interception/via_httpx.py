"""`httpx`, sync and async, through the `respx` library, with its `httpx` mocker: it patches how every
`Client`/`AsyncClient` picks its transport, so a provider URL is answered whatever transport the client
has, and any other URL goes to that transport (measured: a third of the cost of respx's httpcore mocker,
which converts each request and response twice). An in-process emulator is called through httpx's own
`WSGITransport` (no test client in between), one over HTTP through the Forwarder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import requests
import respx

from ..client import dropped_connection
from ..web import NAMESPACE_HEADER
from .forward import Forwarder, reply_headers
from .hosts import PROVIDER_URL


def router(forwarder: Forwarder) -> respx.MockRouter:
    """A router, to start and stop: provider URLs answered from `forwarder`, any other URL passed through."""
    app = getattr(forwarder.transport, "app", None)  # an AppTransport's WSGI app
    send = _in_process(app, forwarder.namespace) if app is not None else _forwarded(forwarder)

    def answer(request: httpx.Request) -> httpx.Response:
        try:
            return send(request)
        except requests.exceptions.Timeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except requests.exceptions.RequestException as exc:  # a dropped connection
            raise httpx.ConnectError(str(exc), request=request) from exc

    mocked = respx.MockRouter(assert_all_called=False, assert_all_mocked=False, using="httpx")
    mocked.route(url__regex=PROVIDER_URL).mock(side_effect=answer)
    mocked.route().pass_through()
    return mocked


def _forwarded(forwarder: Forwarder) -> Callable[[httpx.Request], httpx.Response]:
    def send(request: httpx.Request) -> httpx.Response:
        reply = forwarder.send(request.method, str(request.url), request.headers.multi_items(), request.content)
        return httpx.Response(reply.status, headers=reply_headers(reply), content=reply.body)

    return send


def _in_process(app: Any, namespace: str | None) -> Callable[[httpx.Request], httpx.Response]:
    def send(request: httpx.Request) -> httpx.Response:  # `request` is respx's own copy: changed in place
        if namespace is not None and NAMESPACE_HEADER not in request.headers:
            request.headers[NAMESPACE_HEADER] = namespace
        raw_uri = request.url.raw_path.decode("ascii")  # as a server would pass it: `%2F` kept (raw_path.py)

        def with_raw_uri(environ: dict, start_response: Any) -> Any:
            environ["REQUEST_URI"] = raw_uri
            return app(environ, start_response)

        response = httpx.WSGITransport(app=with_raw_uri).handle_request(request)
        body = response.read()
        failure = dropped_connection(request.method, response.headers, body)
        if failure is not None:
            raise failure
        response.stream = httpx.ByteStream(body)  # read once here; respx reads it again
        return response

    return send
