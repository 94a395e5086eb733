"""The guard: a provider host name is never resolved while interception is on, so a client the
interception does not cover (urllib.request, http.client, pycurl through Python's resolver, ...) fails
loudly instead of reaching the real provider."""

from __future__ import annotations

import socket
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

from .hosts import is_provider_host


class NotIntercepted(OSError):
    """A provider host was about to be reached by a client the interception does not cover."""


def patcher() -> AbstractContextManager:
    """A patch of `socket.getaddrinfo` (which every Python client resolves through), to start and stop."""
    chained = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if isinstance(name, str) and is_provider_host(name):
            raise NotIntercepted(
                f"{name} is a provider host and this client is not intercepted (requests, urllib3, httpx and aiohttp "
                "are, the last two when respx and aioresponses are installed): point it at the emulator's base URL, "
                "or through the emulator's HTTPS proxy"
            )
        return chained(host, *args, **kwargs)

    return mock.patch.object(socket, "getaddrinfo", getaddrinfo)
