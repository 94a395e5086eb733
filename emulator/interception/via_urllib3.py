"""`urllib3` (and so the official sunshine-conversations-client): a minimal adapter at the connection
pool level, as no maintained library mocks urllib3 itself. `HTTPConnectionPool.urlopen` (HTTPS pools
inherit it) answers a provider URL from the emulator and hands any other to the `urlopen` in place on entry."""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import requests
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ProtocolError, ReadTimeoutError
from urllib3.response import HTTPResponse

from .forward import Forwarder, body_bytes, reply_headers
from .hosts import is_provider_url

_DEFAULT_PORTS = {"http": 80, "https": 443}


def patcher(forwarder: Forwarder) -> AbstractContextManager:
    """A patch of `HTTPConnectionPool.urlopen`, to start (or enter) and stop."""
    chained = HTTPConnectionPool.urlopen

    def urlopen(
        pool: HTTPConnectionPool, method: str, url: str, body: Any = None, headers: Any = None, **kw: Any
    ) -> Any:
        full_url = url if "://" in url else _origin(pool) + url
        if not is_provider_url(full_url):
            return chained(pool, method, url, body, headers, **kw)
        sent = dict(pool.headers if headers is None else headers)
        try:
            reply = forwarder.send(method, full_url, sent.items(), body_bytes(body))
        except requests.exceptions.Timeout as exc:
            raise ReadTimeoutError(pool, full_url, f"Read timed out. ({exc})") from exc
        except requests.exceptions.RequestException as exc:  # a dropped connection or a body cut short
            raise ProtocolError("Connection aborted.", ConnectionResetError(str(exc))) from exc
        # urllib3 annotates a mapping of headers; it takes a list of pairs too, which keeps repeated headers
        return HTTPResponse(
            body=io.BytesIO(reply.body),
            headers=reply_headers(reply),  # type: ignore[arg-type]
            status=reply.status,
            preload_content=kw.get("preload_content", True),
            decode_content=kw.get("decode_content", True),
            request_method=method,
            request_url=full_url,
            enforce_content_length=False,
        )

    return mock.patch.object(HTTPConnectionPool, "urlopen", urlopen)


def _origin(pool: HTTPConnectionPool) -> str:
    host = f"[{pool.host}]" if ":" in (pool.host or "") else pool.host
    port = "" if pool.port in (None, _DEFAULT_PORTS.get(pool.scheme)) else f":{pool.port}"
    return f"{pool.scheme}://{host}{port}"
