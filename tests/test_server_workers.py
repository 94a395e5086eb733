"""The server under stuck clients: requests held by faults (hang, latency) borrow workers of their own, the
control API answers while every provider worker is held, and idle connections (plain and TLS) are closed."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulator.app import create_app
from emulator.client import EmulatorClient
from emulator.serving.server import BackgroundServer, BackgroundTlsServer
from emulator.serving.tls import write_self_signed

ACCOUNTS = {"held": "71000001", "free": "71000002"}  # namespace -> its account


def domain(namespace: str) -> str:
    return f"/api/account/{ACCOUNTS[namespace]}/service/idp/baseURI.json"


WAIT_SECONDS = 10.0  # every wait below ends on an event; this only bounds a broken server
THREADS = 2  # provider workers: fewer than the requests a test holds


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(), threads=THREADS, idle_seconds=1) as running:
        for namespace, account in ACCOUNTS.items():
            EmulatorClient(running.url, namespace=namespace).seed({"liveperson": {"accounts": [{"id": account}]}})
        yield running


def call_in_background(server: BackgroundServer, count: int, namespace: str = "held") -> list[threading.Thread]:
    def call() -> None:
        try:
            requests.get(server.url + domain(namespace), timeout=WAIT_SECONDS)
        except requests.exceptions.RequestException:
            pass  # a hang ends in a reset

    threads = [threading.Thread(target=call, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def assert_served_while_held(server: BackgroundServer) -> None:
    control = EmulatorClient(server.url, namespace="held")
    control.transport.timeout = WAIT_SECONDS
    assert control.health()["status"] == "ok"
    free = requests.get(server.url + domain("free"), timeout=WAIT_SECONDS)
    assert free.status_code == 200, "a provider request waited for the held ones"


def test_hangs_beyond_the_workers_leave_the_control_api_and_other_requests_served(server: BackgroundServer) -> None:
    control = EmulatorClient(server.url, namespace="held")
    control.add_fault("hang", duration="60s")
    threads = call_in_background(server, THREADS * 3)
    assert server.dispatcher.wait_for_holds(THREADS * 3, WAIT_SECONDS), "the hangs did not all get a worker"
    assert_served_while_held(server)
    control.clear_faults()  # lets every held request go
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    assert requests.get(server.url + domain("held"), timeout=WAIT_SECONDS).status_code == 200


def test_latency_beyond_the_workers_leaves_the_control_api_served(server: BackgroundServer) -> None:
    EmulatorClient(server.url, namespace="held").add_fault("latency", delay="3s")
    threads = call_in_background(server, THREADS * 2)
    assert server.dispatcher.wait_for_holds(THREADS * 2, WAIT_SECONDS), "the delayed requests did not all get a worker"
    assert_served_while_held(server)
    for thread in threads:
        thread.join(WAIT_SECONDS)


def test_many_idle_connections_neither_block_health_nor_stay_open(server: BackgroundServer) -> None:
    idle = [socket.create_connection((server.host, server.port), timeout=WAIT_SECONDS) for _ in range(150)]
    try:
        assert EmulatorClient(server.url).health()["status"] == "ok"  # past waitress's default limit of 100
        assert idle[0].recv(1) == b"", "an idle connection was never closed"
    finally:
        for connection in idle:
            connection.close()


def test_an_idle_tls_connection_is_closed(tmp_path: Path) -> None:
    cert, key, ca = write_self_signed(tmp_path)
    with BackgroundTlsServer(create_app(), str(cert), str(key), idle_seconds=1) as tls:
        context = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection((tls.host, tls.port), timeout=WAIT_SECONDS) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as connection:  # handshake done, then silence
                assert connection.recv(1) == b"", "an idle TLS connection was never closed"
