"""`httpx`, sync and async, through the `respx` library (it patches httpcore, under every httpx client
that uses the network; `httpx.MockTransport` and `httpx.WSGITransport` are left alone)."""

from __future__ import annotations

import httpx
import requests
import respx

from .forward import Forwarder, reply_headers
from .hosts import PROVIDER_URL


def router(forwarder: Forwarder) -> respx.MockRouter:
    """A router, to start and stop: provider URLs answered from `forwarder`, any other URL passed through."""

    def answer(request: httpx.Request) -> httpx.Response:
        try:
            reply = forwarder.send(request.method, str(request.url), request.headers.multi_items(), request.content)
        except requests.exceptions.Timeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except requests.exceptions.RequestException as exc:  # a dropped connection
            raise httpx.ConnectError(str(exc), request=request) from exc
        return httpx.Response(reply.status, headers=reply_headers(reply), content=reply.body)

    mocked = respx.MockRouter(assert_all_called=False, assert_all_mocked=False)
    mocked.route(url__regex=PROVIDER_URL).mock(side_effect=answer)
    mocked.route().pass_through()
    return mocked
