"""`requests`, through the `responses` library: `HTTPAdapter.send` is patched, so every session is covered."""

from __future__ import annotations

import requests
import responses
from requests.adapters import HTTPAdapter

from .forward import Forwarder, body_bytes, reply_headers
from .hosts import NOT_PROVIDER_URL, PROVIDER_URL

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


def start(forwarder: Forwarder) -> responses.RequestsMock:
    """A started mock answering provider URLs from `forwarder`; other URLs go to the `send` in place now
    (the network, or an outer mock). Stop it with `.stop(allow_assert=False)`."""

    def answer(request: requests.PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        reply = forwarder.send(
            request.method or "GET", str(request.url), request.headers.items(), body_bytes(request.body)
        )
        return reply.status, reply_headers(reply), reply.body

    mock = responses.RequestsMock(
        assert_all_requests_are_fired=False,
        passthru_prefixes=(NOT_PROVIDER_URL,),  # type: ignore[arg-type]  # responses matches a compiled pattern too
        real_adapter_send=HTTPAdapter.send,  # chain to what is in place now: the network or an outer mock
    )
    for method in METHODS:
        # responses annotates a mapping of headers; it takes a list of pairs too, which keeps repeated headers
        mock.add_callback(method, PROVIDER_URL, callback=answer, content_type=None)  # type: ignore[arg-type]
    mock.start()
    return mock
