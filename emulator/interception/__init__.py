"""Interception: calls to the real provider hosts answered by an emulator, from every Python HTTP client.

    with intercept(handle):            # an EmulatorHandle, a Transport, or a server's base URL
        requests.get("https://api.liveperson.net/api/account/123/service/idp/baseURI.json")

While active, a call to a provider host (whatever its scheme and method) goes to the emulator with the same
method, path, query, headers (plus `Host`, so `baseURI` answers name the host the client called) and body;
the emulator's status, headers and body come back as they are, and a dropped connection (a fault) raises
the client's own error. Covered: `requests` (the `responses` library), `urllib3` (a pool-level adapter),
`httpx` sync and async (`respx`) and `aiohttp` (`aioresponses`), the last two when those libraries are
installed. Any other host passes through to whatever was in place on entry (the network, or an outer mock).
A provider host name is never resolved while active, so any other client fails loudly (`NotIntercepted`).
"""

from __future__ import annotations

from contextlib import ContextDecorator, ExitStack
from typing import Any

import responses

from . import guard, via_requests, via_urllib3
from .forward import resolve
from .guard import NotIntercepted
from .hosts import NOT_PROVIDER_URL, PROVIDER_URL, is_provider_host, is_provider_url


class intercept(ContextDecorator):
    """Route provider calls to `target` while active; a context manager and a decorator.

    `target`: an `EmulatorHandle` (its namespace header is added, so tenant-less requests land in its
    namespace), any `Transport`, or the base URL of an emulator server. `namespace` sets the namespace
    header for the other two. Entering answers the `responses.RequestsMock` in charge of `requests` (its
    `.calls` lists every intercepted `requests` call; stubs added to it for other hosts win over passthrough).
    """

    def __init__(self, target: Any, *, namespace: str | None = None) -> None:
        self.forwarder = resolve(target, namespace)
        self._active: list[ExitStack] = []  # a stack: the decorator may be re-entered

    @property
    def transport(self) -> Any:
        return self.forwarder.transport

    @property
    def namespace(self) -> str | None:
        return self.forwarder.namespace

    def __enter__(self) -> responses.RequestsMock:
        with ExitStack() as stack:
            requests_mock = via_requests.start(self.forwarder)
            stack.callback(requests_mock.stop, allow_assert=False)
            stack.enter_context(via_urllib3.patcher(self.forwarder))
            for start_optional in (_httpx, _aiohttp):
                start_optional(self.forwarder, stack)
            stack.enter_context(guard.patcher())
            self._active.append(stack.pop_all())
        return requests_mock

    def __exit__(self, *exc_info: object) -> None:
        self._active.pop().close()


def _httpx(forwarder: Any, stack: ExitStack) -> None:
    try:
        from . import via_httpx
    except ImportError:  # httpx or respx missing: the guard still keeps httpx off the provider hosts
        return
    router = via_httpx.router(forwarder)
    router.start()
    stack.callback(router.stop, quiet=True)


def _aiohttp(forwarder: Any, stack: ExitStack) -> None:
    try:
        from . import via_aiohttp
    except ImportError:  # aiohttp or aioresponses missing: the guard still keeps aiohttp off the provider hosts
        return
    stack.enter_context(via_aiohttp.mocked(forwarder))


__all__ = ["NOT_PROVIDER_URL", "PROVIDER_URL", "NotIntercepted", "intercept", "is_provider_host", "is_provider_url"]
