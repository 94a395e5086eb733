"""pytest fixture for code in any language: the session's emulator behind an HTTPS proxy (`emulator_proxy`).
Registered by emulator.pytest_plugin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def emulator_proxy(emulator_app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's emulator app (the one every fixture fills) behind a forward proxy, one per xdist
    worker: give a subprocess `HTTPS_PROXY=emulator_proxy.url` and trust `emulator_proxy.ca_path`, and its
    calls to the real provider hosts (HTTPS and WebSockets) reach this emulator; any other host is refused."""
    from ..serving.proxy import ProxyServer

    with ProxyServer(emulator_app, tmp_path_factory.mktemp("emulator-proxy-ca")) as proxy:
        yield proxy
