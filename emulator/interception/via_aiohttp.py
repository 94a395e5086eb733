"""`aiohttp`, through the `aioresponses` library (it patches `ClientSession._request`, so it sees the
call's arguments, not the bytes: the request is rebuilt from them here). aioresponses cannot be nested,
so one mock serves every active interception, the innermost answering."""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import urlencode

import aiohttp
import requests
from aioresponses import CallbackResult, aioresponses
from multidict import CIMultiDict
from yarl import URL

from .forward import Forwarder, reply_headers
from .hosts import PROVIDER_URL

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


_forwarders: list[Forwarder] = []  # the active interceptions, innermost last
_mock: list[aioresponses] = []  # the one mock while any is active


@contextmanager
def mocked(forwarder: Forwarder) -> Iterator[None]:
    """While active, provider URLs are answered from `forwarder` (unless an inner interception's), any
    other URL passed through."""
    if not _forwarders:
        _mock.append(_start())
    _forwarders.append(forwarder)
    try:
        yield
    finally:
        _forwarders.remove(forwarder)
        if not _forwarders:
            _mock.pop().stop()


class _SessionAuthMock(aioresponses):
    """aioresponses, with the session's own `auth` handed to the callback as a call's `auth` would be."""

    async def _request_mock(
        self, orig_self: aiohttp.ClientSession, method: str, url: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if kwargs.get("auth") is None and orig_self.auth is not None:
            kwargs["auth"] = orig_self.auth
        return await super()._request_mock(orig_self, method, url, *args, **kwargs)


def _start() -> aioresponses:
    def answer(method: str, url: URL, **kwargs: Any) -> CallbackResult:
        headers, body = _request_of(kwargs)
        try:
            reply = _forwarders[-1].send(method, str(url), headers.items(), body)
        except requests.exceptions.Timeout as exc:
            raise asyncio.TimeoutError(str(exc)) from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise aiohttp.ClientPayloadError(str(exc)) from exc
        except requests.exceptions.RequestException as exc:  # a dropped connection
            raise aiohttp.ServerDisconnectedError(str(exc)) from exc
        found = CIMultiDict(reply_headers(reply))
        return CallbackResult(
            # aioresponses annotates a dict; it takes any mapping, and a multidict keeps repeated headers
            method=method,
            status=reply.status,
            body=reply.body,
            headers=found,  # type: ignore[arg-type]
            content_type=found.get("Content-Type", "application/octet-stream"),
        )

    mocked = _SessionAuthMock(passthrough_unmatched=True)
    mocked.start()
    for verb in METHODS:
        mocked.add(PROVIDER_URL, method=verb, callback=partial(answer, verb), repeat=True)
    return mocked


def _request_of(kwargs: dict) -> tuple[CIMultiDict, bytes | None]:
    """The headers and body `ClientSession.request` would send for these arguments."""
    headers: CIMultiDict = CIMultiDict(kwargs.get("headers") or {})
    auth = kwargs.get("auth")
    if auth is not None:
        headers["Authorization"] = auth.encode()
    data, json = kwargs.get("data"), kwargs.get("json")
    if json is not None:
        headers.setdefault("Content-Type", "application/json")
        return headers, jsonlib.dumps(json).encode()
    if isinstance(data, (dict, list, tuple)):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return headers, urlencode(data, doseq=True).encode()
    if isinstance(data, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return headers, data.encode()
    if isinstance(data, (bytes, bytearray)):
        headers.setdefault("Content-Type", "application/octet-stream")
        return headers, bytes(data)
    return headers, None
