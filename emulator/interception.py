"""Interception: `requests` calls to the real provider hosts answered by an emulator.

    with intercept(handle):            # an EmulatorHandle, a Transport, or a server's base URL
        requests.get("https://api.liveperson.net/api/account/123/service/idp/baseURI.json")

Built on the `responses` library: while active, `requests.adapters.HTTPAdapter.send` is patched (so every
`requests.Session`, including ones made before, is covered). A call to a provider host, whatever its scheme
and method, goes to the emulator with the same method, path, query, headers (plus `Host`, so `baseURI`
answers name the host the client called) and body; the emulator's status, headers and body come back as
they are. A provider path the emulator does not serve gets the emulator's own 404; nothing to a provider
host ever reaches the network. Any other host passes through to whatever `send` was in place on entry
(the network, or an outer `responses` mock).
"""

from __future__ import annotations

import re
from contextlib import ContextDecorator
from typing import Any
from urllib.parse import urlsplit

import requests
import responses
from requests.adapters import HTTPAdapter

from .client import HttpTransport, Reply, Transport
from .web import NAMESPACE_HEADER

# A provider URL: the host, then (for *.zendesk.com) the path under /sc. Scheme-agnostic, userinfo and port allowed.
_SCHEME_AUTHORITY = r"[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?"
_PORT = r"(?::\d+)?"
_END = r"(?:[/?#]|$)"
PROVIDER_HOSTS = (
    r"(?:[a-z0-9\-]+\.)*liveperson\.net",  # *.liveperson.net (and the apex)
    r"accdn\.lpsnmedia\.net",
    r"api(?:\.[a-z0-9\-]+)?\.smooch\.io",  # api.smooch.io, api.eu-1.smooch.io
    r"app\.mindbehind\.com",
)
_ZENDESK_SC = r"(?:[a-z0-9\-]+\.)+zendesk\.com" + _PORT + r"/sc" + _END
PROVIDER_URL = re.compile(
    _SCHEME_AUTHORITY + r"(?:(?:" + "|".join(PROVIDER_HOSTS) + r")" + _PORT + _END + r"|" + _ZENDESK_SC + r")",
    re.IGNORECASE,
)
# responses answers registered callbacks first and consults passthru prefixes only for a request none of
# them matched: this pattern (any URL that is not a provider URL) keeps an unmatched provider request, say
# an unusual method, from ever reaching the network; responses refuses it with a ConnectionError instead.
NOT_PROVIDER_URL = re.compile(r"(?!" + PROVIDER_URL.pattern + r")", re.IGNORECASE)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
# Hop-by-hop headers of the caller's connection, not of the request: the transport sets its own.
_REQUEST_HOP_HEADERS = frozenset({"connection", "keep-alive", "content-length", "transfer-encoding", "host"})
_REPLY_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding"})


def is_provider_url(url: str) -> bool:
    return PROVIDER_URL.match(url) is not None


class intercept(ContextDecorator):
    """Route `requests` calls to the provider hosts to `target` while active; a context manager and a decorator.

    `target`: an `EmulatorHandle` (its namespace header is added, so tenant-less requests land in its
    namespace), any `Transport`, or the base URL of an emulator server. `namespace` sets the namespace
    header for the other two. Entering answers the `responses.RequestsMock` in charge (its `.calls` lists
    every intercepted call; stubs added to it for other hosts win over passthrough).
    """

    def __init__(self, target: Any, *, namespace: str | None = None) -> None:
        self.transport, self.namespace = _resolve(target, namespace)
        self._active: list[responses.RequestsMock] = []  # a stack: the decorator may be re-entered

    def __enter__(self) -> responses.RequestsMock:
        mock = responses.RequestsMock(
            assert_all_requests_are_fired=False,
            passthru_prefixes=(NOT_PROVIDER_URL,),
            real_adapter_send=HTTPAdapter.send,  # chain to what is in place now: the network or an outer mock
        )
        for method in METHODS:
            mock.add_callback(method, PROVIDER_URL, callback=self._answer, content_type=None)
        mock.start()
        self._active.append(mock)
        return mock

    def __exit__(self, *exc_info: object) -> None:
        self._active.pop().stop(allow_assert=False)

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        url = urlsplit(str(request.url))
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")  # the raw query, repeats and order kept
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_HOP_HEADERS}
        headers["Host"] = url.netloc.rpartition("@")[2]
        if self.namespace is not None and not any(k.lower() == NAMESPACE_HEADER.lower() for k in headers):
            headers[NAMESPACE_HEADER] = self.namespace
        reply: Reply = self.transport.send(request.method or "GET", path, data=_body(request.body), headers=headers)
        kept = [(k, v) for k, v in reply.headers.items() if k.lower() not in _REPLY_HOP_HEADERS]
        return reply.status, kept, reply.body


def _resolve(target: Any, namespace: str | None) -> tuple[Transport, str | None]:
    if isinstance(target, str):
        return HttpTransport(target), namespace
    if hasattr(target, "transport") and hasattr(target, "namespace"):  # an EmulatorHandle (no pytest import here)
        return target.transport, namespace if namespace is not None else target.namespace
    if callable(getattr(target, "send", None)):
        return target, namespace
    raise TypeError(f"intercept() takes an EmulatorHandle, a Transport or a base URL, not {type(target).__name__}")


def _body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)  # a streamed upload


__all__ = ["NOT_PROVIDER_URL", "PROVIDER_URL", "intercept", "is_provider_url"]
