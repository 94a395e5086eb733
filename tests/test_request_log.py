"""The standalone server's request log: one line per request on the console, JSON with --log-json, none with
--quiet; in-process through `request_log.install`, and for real through `serve`."""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
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


@pytest.fixture
def logged_app():
    app = create_app()
    request_log.install(app)
    return AppTransport(app)


def fields_of(caplog) -> list[dict]:
    return [record.fields for record in caplog.records if record.name == "emulator.requests"]


def test_one_line_per_provider_request_and_control_change_not_per_read(logged_app, caplog):
    control = EmulatorClient(transport=logged_app, namespace="logged")
    control.seed({"liveperson": {"accounts": [{"id": "55500001"}]}})
    control.freeze("2026-03-01T12:00:00Z")
    control.add_fault("status", status=503, match={"path": "/api/account/*/anonymous/authorize"}, times=1)
    caplog.set_level(logging.INFO, logger="emulator.requests")
    logged_app.send("POST", "/api/account/55500001/anonymous/authorize")
    logged_app.send("POST", "/api/account/55500001/anonymous/authorize")
    control.clock()  # a read: not logged
    control.advance("1m")
    faulted, issued, moved = fields_of(caplog)
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
    text = [record.getMessage() for record in caplog.records if record.name == "emulator.requests"]
    assert text[0].startswith(
        "emulated=2026-03-01T12:00:00.000Z [logged] liveperson POST /api/account/55500001/anonymous/authorize 503 "
    )
    assert text[0].endswith("ms faults=status") and "faults" not in text[1]


def test_an_app_without_the_log_logs_no_request(caplog):
    caplog.set_level(logging.INFO, logger="emulator.requests")
    AppTransport(create_app()).send("POST", f"/api/account/{DEMO_ACCOUNT}/anonymous/authorize")
    assert fields_of(caplog) == []


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
