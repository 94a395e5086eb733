"""Stopping the test server (`BackgroundServer`): waitress's loop closes its own sockets, so no thread of the
server meets a descriptor closed under it (EBADF in `select` or in a worker pulling the loop's trigger)."""

from __future__ import annotations

import http.client
import logging
import threading

import pytest
from flask import Flask

from emulator.serving.server import BackgroundServer

CYCLES = 50


def plain_app() -> Flask:
    app = Flask("plain")
    app.add_url_rule("/", "index", lambda: "ok")
    return app


def test_stopping_right_after_an_answer_leaves_every_server_thread_unharmed(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    escaped: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    caplog.set_level(logging.ERROR, logger="waitress")
    app = plain_app()
    for _ in range(CYCLES):
        with BackgroundServer(app) as server:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"ok"
            connection.close()
    assert escaped == []
    assert [record.getMessage() for record in caplog.records if record.name.startswith("waitress")] == []


def test_a_server_never_started_stops_too() -> None:
    server = BackgroundServer(plain_app())
    server.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection(server.host, server.port, timeout=2).request("GET", "/")
