"""The standalone server's request log: one line per request on the console, JSON with --log-json, none with
--quiet; in-process through `request_log.install`, and for real through `serve`. Lines are written in
batches by a thread of the log's own: in-process tests call `flush()` to write what is pending."""

from __future__ import annotations

import io
import json
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from emulator_process import EmulatorProcess

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.web import request_log

MODULE = (sys.executable, "-m", "emulator", "serve", "--port", "0")
DEADLINE_SECONDS = 20.0
DEMO_ACCOUNT = "12345678"  # in the demo seed


class Logged:
    """An app with the request log installed, writing JSON lines to a string."""

    def __init__(self) -> None:
        self.app = create_app()
        self.stream = io.StringIO()
        self.log = request_log.install(self.app, self.stream, as_json=True)
        self.transport = AppTransport(self.app)

    def lines(self) -> list[dict]:
        """The lines written since the last call, after writing what is pending."""
        self.log.flush()
        written = self.stream.getvalue()
        self.stream.seek(0)
        self.stream.truncate()
        return [json.loads(line) for line in written.splitlines()]


@pytest.fixture
def logged() -> Logged:
    return Logged()


def test_one_line_per_provider_request_and_control_change_not_per_read(logged: Logged) -> None:
    control = EmulatorClient(transport=logged.transport, namespace="logged")
    control.seed({"liveperson": {"accounts": [{"id": "55500001"}]}})
    control.freeze("2026-03-01T12:00:00Z")
    control.add_fault("status", status=503, match={"path": "/api/account/*/anonymous/authorize"}, times=1)
    logged.lines()  # the set-up's calls
    logged.transport.send("POST", "/api/account/55500001/anonymous/authorize")
    logged.transport.send("POST", "/api/account/55500001/anonymous/authorize")
    control.clock()  # a read: not logged
    control.advance("1m")
    lines = logged.lines()
    faulted, issued, moved = [
        {key: value for key, value in line.items() if key not in ("time", "level", "logger", "message")}
        for line in lines
    ]
    assert faulted == {
        "emulated_time": "2026-03-01T12:00:00.000Z",
        "namespace": "logged",
        "provider": "liveperson",
        "method": "POST",
        "path": "/api/account/55500001/anonymous/authorize",
        "status": 503,
        "faults": ["status"],
        "duration_ms": faulted["duration_ms"],
    }
    assert issued["status"] == 200 and issued["faults"] == [] and issued["duration_ms"] >= 0
    assert (moved["provider"], moved["method"], moved["path"], moved["emulated_time"]) == (
        "control",
        "POST",
        "/__emulator/clock",
        "2026-03-01T12:01:00.000Z",
    )
    assert {(line["level"], line["logger"]) for line in lines} == {("INFO", "emulator.requests")}
    text = [line["message"] for line in lines]
    assert text[0].startswith(
        "emulated=2026-03-01T12:00:00.000Z [logged] liveperson POST /api/account/55500001/anonymous/authorize 503 "
    )
    assert text[0].endswith("ms faults=status") and "faults" not in text[1]


def test_the_text_line_has_the_console_log_format() -> None:
    app, stream = create_app(), io.StringIO()
    log = request_log.install(app, stream)
    AppTransport(app).send("POST", "/__emulator/clock", json={"advance": "1m"})
    log.flush()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO emulator\.requests: emulated=\d{4}-\d\d-\d\dT[0-9:.]+Z "
        r"\[default\] control POST /__emulator/clock 200 [0-9.]+ms\n",
        stream.getvalue(),
    )


class SignallingStream(io.StringIO):
    """A stream that tells when something was written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.written.set()
        return written


def test_the_writer_thread_writes_lines_without_a_flush() -> None:
    app, stream = create_app(), SignallingStream()
    request_log.install(app, stream)
    AppTransport(app).send("POST", f"/api/account/{DEMO_ACCOUNT}/anonymous/authorize")
    assert stream.written.wait(DEADLINE_SECONDS), "no line written"
    assert "liveperson POST" in stream.getvalue()


class ClosedStream(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError("the console went away")


def test_lines_for_a_console_that_went_away_are_dropped_not_kept() -> None:
    app = create_app()
    log = request_log.install(app, ClosedStream())
    transport = AppTransport(app)
    for _ in range(3):
        transport.send("POST", f"/api/account/{DEMO_ACCOUNT}/anonymous/authorize")
    log.flush()
    assert log.waiting == 0


def test_concurrent_requests_each_get_one_line(logged: Logged) -> None:
    EmulatorClient(transport=logged.transport).seed({"liveperson": {"accounts": [{"id": "55500002"}]}})
    logged.lines()

    def send_many() -> None:
        for _ in range(25):
            logged.transport.send("GET", "/api/account/55500002/service/idp/baseURI.json")

    senders = [threading.Thread(target=send_many) for _ in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    lines = logged.lines()
    assert len(lines) == 100 and {(line["method"], line["status"]) for line in lines} == {("GET", 200)}


def serve(tmp_path: Path, *args: str) -> EmulatorProcess:
    server = EmulatorProcess([*MODULE, *args], tmp_path)
    server.wait_for_banner(time.monotonic() + DEADLINE_SECONDS)
    return server


def test_serve_logs_each_request_as_text_or_json_and_nothing_when_quiet(tmp_path: Path) -> None:
    servers = {
        name: serve(tmp_path, *args)
        for name, args in [("text", ()), ("json", ("--log-json",)), ("quiet", ("--quiet",))]
    }
    for server in servers.values():
        base = server.wait_for_health(time.monotonic() + DEADLINE_SECONDS)
        assert requests.post(f"{base}/api/account/{DEMO_ACCOUNT}/anonymous/authorize", timeout=10).status_code == 200
    for server in servers.values():
        assert server.stop(signal.SIGTERM, DEADLINE_SECONDS) == 0
    text_line = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO emulator\.requests: emulated=\d{4}-\d\d-\d\dT[0-9:.]+Z \[default\] "
        rf"liveperson POST /api/account/{DEMO_ACCOUNT}/anonymous/authorize 200 [0-9.]+ms$",
        re.MULTILINE,
    )
    assert len(text_line.findall(servers["text"].stderr())) == 1
    (line,) = [json.loads(line) for line in servers["json"].stderr().splitlines() if '"emulator.requests"' in line]
    assert {
        "time",
        "level",
        "message",
        "emulated_time",
        "provider",
        "method",
        "path",
        "status",
        "duration_ms",
        "faults",
    } <= set(line)
    assert (line["provider"], line["status"], line["faults"]) == ("liveperson", 200, [])
    assert "emulator.requests" not in servers["quiet"].stderr()
