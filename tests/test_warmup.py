"""`serve` listens before the emulator is built (serving/warmup.py, WarmingServer): the health check is answered
at once, as the control route answers it; every other request waits for the build and is then the app's; a
build that fails answers the waiting requests 503 and stops the server. In-process servers whose build waits
for an Event the test sets, then `serve` itself as a subprocess. No sleeps, no timing."""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_process import EmulatorProcess
from test_startup_costs import modules_after

from emulator import DEMO_SEED_PATH
from emulator.app import create_app
from emulator.config import EmulatorConfig, load_seed_file
from emulator.serving import server as server_module
from emulator.serving.server import BackgroundServer, WarmingServer
from emulator.serving.warmup import HEALTH_PATH, WarmUp

SERVE = (sys.executable, "-m", "emulator", "serve")
BASE_URI = "/api/account/12345678/service/idp/baseURI.json?version=1.0"  # a read of the demo seed's account
PROVIDER_CAP = EmulatorConfig().max_body_bytes
SECONDS = 20.0  # a bound on each wait, never reached when the code is right


@pytest.fixture(autouse=True)
def no_gc_freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """The build thread freezes start-up objects for `serve`'s whole life: not this test process's."""
    monkeypatch.setattr(server_module, "freeze_startup_objects", lambda: None)


def demo_app() -> Any:
    return create_app(EmulatorConfig(seed=load_seed_file(DEMO_SEED_PATH)))


class Gate:
    """A build that waits until the test opens it, then returns what `make()` returns."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, port: int) -> Any:
        self.entered.set()
        assert self.opened.wait(SECONDS)
        return self.make()


class Running:
    """A WarmingServer serving on a thread: its URL, whether its app is announced, and how `serve` ended."""

    def __init__(self, build: Callable[[int], Any]) -> None:
        self.ready = threading.Event()
        self.server = WarmingServer(build, on_ready=lambda port: self.ready.set())
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.outcome: Future[Any] = Future()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            self.outcome.set_result(self.server.serve())
        except BaseException as exc:
            self.outcome.set_exception(exc)


@contextmanager
def warming(build: Callable[[int], Any]) -> Iterator[Running]:
    running = Running(build)
    running.thread.start()
    try:
        yield running
    finally:
        running.server.stop()
        running.thread.join(SECONDS)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a request other than the health check reached the front (which holds it until the build ends)."""
    reached = threading.Event()
    front_call = WarmUp.__call__

    def spied(self: WarmUp, environ: dict, start_response: Any) -> Any:
        if environ["PATH_INFO"] != HEALTH_PATH:
            reached.set()
        return front_call(self, environ, start_response)

    monkeypatch.setattr(WarmUp, "__call__", spied)
    return reached


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=SECONDS)


def answer(response: requests.Response) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (without Date: the second may change) and body."""
    headers = {name.lower(): value for name, value in response.headers.items() if name.lower() != "date"}
    return response.status_code, headers, response.content


# --- what `serve` loads before it listens ------------------------------------------------------------


def test_serve_listens_before_loading_flask_werkzeug_pydantic_or_the_providers():
    """`serve` parses its options and listens with the modules of the command and the server alone."""
    loaded = modules_after("import emulator.cli\nimport emulator.serving.server")
    heavy = ("flask", "werkzeug", "pydantic", "yaml", "jwt", "cryptography", "ssl", "urllib.request")
    assert [name for name in heavy if name in loaded] == []
    assert [name for name in loaded if name.startswith(("emulator.providers", "emulator.web", "emulator.app"))] == []


# --- health, while building -------------------------------------------------------------------------


def test_health_is_answered_while_building_exactly_as_the_control_route_answers_it() -> None:
    gate = Gate(demo_app)
    with BackgroundServer(create_app()) as built, warming(gate) as running:
        assert gate.entered.wait(SECONDS)
        for method in ("GET", "HEAD"):
            early = requests.request(method, running.url + HEALTH_PATH, timeout=SECONDS)
            real = requests.request(method, built.url + HEALTH_PATH, timeout=SECONDS)
            assert answer(early) == answer(real)
        assert early.status_code == 200 and get(running.url + HEALTH_PATH).json()["status"] == "ok"
        assert not running.ready.is_set()
        gate.opened.set()
        assert running.ready.wait(SECONDS)


def test_the_front_answers_only_the_health_check_itself() -> None:
    """A POST, a body, another path under the control API: all wait for the app (here: it could not start)."""
    front = WarmUp()
    front.give_up()
    statuses: list[str] = []

    def start_response(status: str, headers: list) -> None:
        statuses.append(status)

    for environ in (
        {"PATH_INFO": HEALTH_PATH, "REQUEST_METHOD": "POST"},
        {"PATH_INFO": HEALTH_PATH, "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "3"},
        {"PATH_INFO": HEALTH_PATH, "REQUEST_METHOD": "GET", "HTTP_TRANSFER_ENCODING": "chunked"},
        {"PATH_INFO": HEALTH_PATH + "/", "REQUEST_METHOD": "GET"},
        {"PATH_INFO": "/__emulator/state", "REQUEST_METHOD": "GET"},
    ):
        front(environ, start_response)
    assert statuses == ["503 SERVICE UNAVAILABLE"] * 5


# --- requests made while building -------------------------------------------------------------------


def test_a_provider_request_made_while_building_waits_and_is_then_the_apps(
    pool: ThreadPoolExecutor, held: threading.Event
) -> None:
    gate = Gate(demo_app)
    with warming(gate) as running:
        assert gate.entered.wait(SECONDS)
        waiting = pool.submit(get, running.url + BASE_URI)
        assert get(running.url + HEALTH_PATH).status_code == 200
        assert held.wait(SECONDS)
        assert not waiting.done()  # the build has not returned: nothing can answer it
        gate.opened.set()
        early = waiting.result(SECONDS)
        assert running.ready.wait(SECONDS)
        later = get(running.url + BASE_URI)
        assert early.status_code == 200 and "baseURI" in early.json(), early.text
        assert (early.status_code, early.content) == (later.status_code, later.content)
        assert running.outcome.done() is False


def test_once_built_requests_go_to_the_app_without_the_front(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    front_call = WarmUp.__call__

    def counted(self: WarmUp, environ: dict, start_response: Any) -> Any:
        calls.append(environ["PATH_INFO"])
        return front_call(self, environ, start_response)

    monkeypatch.setattr(WarmUp, "__call__", counted)
    gate = Gate(demo_app)
    with warming(gate) as running:
        assert gate.entered.wait(SECONDS)
        assert get(running.url + HEALTH_PATH).status_code == 200
        gate.opened.set()
        assert running.ready.wait(SECONDS)
        assert get(running.url + HEALTH_PATH).status_code == 200
        assert get(running.url + BASE_URI).status_code == 200
    assert calls == [HEALTH_PATH]


def head_bytes(path: str, *lines: str) -> bytes:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: emulator", *lines, "", ""]).encode()


def test_a_body_past_the_limit_is_refused_once_the_limit_is_known(pool: ThreadPoolExecutor) -> None:
    """While building the server does not know the path's limit: it reads on; with the next bytes after the
    build it refuses, unread, in the owner's shape, as a server started with its app does."""
    gate = Gate(demo_app)
    path = "/api/account/12345678/anonymous/authorize"
    with warming(gate) as running, socket.create_connection(("127.0.0.1", running.server.port), SECONDS) as sock:
        assert gate.entered.wait(SECONDS)
        sock.sendall(head_bytes(path, "Content-Type: application/json", f"Content-Length: {PROVIDER_CAP + 1}"))
        sock.sendall(b"{")
        gate.opened.set()
        assert running.ready.wait(SECONDS)
        sock.sendall(b" ")  # far from the whole body: the answer comes anyway
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 413 and response.getheader("Connection") == "close"
        assert b"Request body is larger than 4MB" in response.read()
        # a new request is refused as soon as its headers are read
        with socket.create_connection(("127.0.0.1", running.server.port), SECONDS) as second:
            second.sendall(head_bytes(path, f"Content-Length: {PROVIDER_CAP + 1}"))
            refused = http.client.HTTPResponse(second)
            refused.begin()
            assert refused.status == 413


# --- a build that fails -----------------------------------------------------------------------------


def test_a_failed_build_answers_the_waiting_requests_503_and_stops_the_server(
    pool: ThreadPoolExecutor, held: threading.Event
) -> None:
    gate = Gate(lambda: None)  # None: the build said why it cannot start
    with warming(gate) as running:
        assert gate.entered.wait(SECONDS)
        waiting = pool.submit(get, running.url + BASE_URI)
        assert get(running.url + HEALTH_PATH).status_code == 200
        assert held.wait(SECONDS)
        gate.opened.set()
        refused = waiting.result(SECONDS)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert running.outcome.result(SECONDS) is None  # `serve` returned: the server stopped
        assert not running.ready.is_set()
        with pytest.raises(requests.ConnectionError):
            get(running.url + HEALTH_PATH)


def test_a_build_that_raises_stops_the_server_and_serve_raises_it() -> None:
    def broken() -> Any:
        raise RuntimeError("a bug in the build")

    gate = Gate(broken)
    with warming(gate) as running:
        gate.opened.set()
        with pytest.raises(RuntimeError, match="a bug in the build"):
            running.outcome.result(SECONDS)


# --- `serve` itself -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_health_and_a_provider_request_asked_at_once_then_prints_its_banner(tmp_path: Path) -> None:
    """Asked before the banner (as a container's healthcheck or a test harness does): health answers, the
    provider request waits for the build and is answered; the banner still comes, a stop still exits 0."""
    port = free_port()
    server = EmulatorProcess([*SERVE, "--port", str(port)], tmp_path)
    try:
        server.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SECONDS
        server.wait_for_health(deadline)
        reply = get(server.base_url + BASE_URI)
        assert reply.status_code == 200 and "baseURI" in reply.json(), reply.text
        assert server.wait_for_banner(deadline) == server.base_url
    finally:
        assert server.stop() == 0, server.output()


def test_serve_with_a_bad_seed_still_says_why_and_exits_2(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("whatsapp: {}\n")
    server = EmulatorProcess([*SERVE, "--port", "0", "--seed", str(seed)], tmp_path)
    server.process.wait(SECONDS)
    assert server.stop() == 2
    assert server.stderr().startswith("messaging-auth-emulator: invalid seed: whatsapp: unknown field"), server.output()
    assert "listening on" not in server.stdout()
