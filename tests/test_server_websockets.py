"""WebSockets on the plain (waitress) server: the upgraded connection is lent to simple_websocket, on a
provider worker lent for the socket's life, and closed by waitress once the socket ends."""

from __future__ import annotations

import requests
from simple_websocket import Client
from test_liveperson_agent_ws import (
    CLOSE_WAIT_SECONDS,
    GET_CLOCK,
    _call,
    _closed_with,
    _hang_up,
    _url,
)
from test_liveperson_consumer_ws import Peer, consumer_url

from emulator.app import create_app
from emulator.pytest_plugin import EmulatorHandle, LivePersonAgentSession
from emulator.serving.server import DEFAULT_THREADS


def _agent_socket(handle: EmulatorHandle, session: LivePersonAgentSession) -> Client:
    return Client.connect(_url(handle, session.account.id, session.bearer))


def test_the_agent_socket_upgrades_on_plain_http_and_answers_frames(
    emulator_server: EmulatorHandle, lp_agent_session, emulator_clock
) -> None:
    emulator_clock.freeze("2026-03-01T12:00:00Z")
    ws = _agent_socket(emulator_server, lp_agent_session)
    try:
        assert _call(ws, ".GetClock", "a1") == {
            "kind": "resp",
            "reqId": "a1",
            "code": 200,
            "body": {"currentTime": 1_772_366_400_000},
        }
        assert _call(ws, ".ams.NoSuchThing", 2)["code"] == 400
    finally:
        _hang_up(ws)
    assert not ws.connected


def test_a_revoked_bearer_closes_the_plain_socket_with_4401(
    emulator_server: EmulatorHandle, lp_agent_session, emulator_clock
) -> None:
    ws = _agent_socket(emulator_server, lp_agent_session)
    try:
        assert _call(ws, ".GetClock")["code"] == 200
        emulator_clock.revoke(token=lp_agent_session.bearer)
        assert _closed_with(ws, GET_CLOCK) == 4401
    finally:
        _hang_up(ws)


def test_more_open_sockets_than_provider_workers_leave_http_answering(
    emulator_server: EmulatorHandle, lp_agent_session
) -> None:
    sockets = [_agent_socket(emulator_server, lp_agent_session) for _ in range(DEFAULT_THREADS + 2)]
    try:
        for number, ws in enumerate(sockets):
            assert _call(ws, ".GetClock", number)["reqId"] == number
        reply = requests.get(
            emulator_server.base_url
            + f"/api/account/{lp_agent_session.account.id}/service/idp/baseURI.json?version=1.0",
            timeout=CLOSE_WAIT_SECONDS,
        )
        assert reply.status_code == 200
    finally:
        for ws in sockets:
            _hang_up(ws)


def test_the_server_serves_on_after_sockets_end(emulator_server: EmulatorHandle, lp_agent_session) -> None:
    for number in range(3):
        ws = _agent_socket(emulator_server, lp_agent_session)
        assert _call(ws, ".GetClock", number)["code"] == 200
        _hang_up(ws)
        assert not ws.connected
    session = requests.Session()  # keep-alive connections reuse the descriptors the sockets had
    for _ in range(5):
        assert (
            session.get(emulator_server.base_url + "/__emulator/health", timeout=CLOSE_WAIT_SECONDS).status_code == 200
        )


def test_an_upgrade_the_app_does_not_take_is_answered_as_in_process_and_the_connection_serves_on(
    emulator_server: EmulatorHandle,
) -> None:
    headers = {"Upgrade": "websocket", "Connection": "Upgrade"}
    in_process = create_app().test_client().get("/__emulator/health", headers=headers)
    session = requests.Session()
    reply = session.get(emulator_server.base_url + "/__emulator/health", headers=headers, timeout=CLOSE_WAIT_SECONDS)
    assert (reply.status_code, reply.content) == (in_process.status_code, in_process.data)
    assert session.get(emulator_server.base_url + "/__emulator/health", timeout=CLOSE_WAIT_SECONDS).status_code == 200


def test_the_consumer_socket_upgrades_on_plain_http(
    emulator_server: EmulatorHandle, lp_account, lp_jwt: str, emulator_clock
) -> None:
    emulator_clock.freeze("2026-03-01T12:00:00Z")
    peer = Peer(
        Client.connect(consumer_url(emulator_server, lp_account.id), headers={"Authorization": f"jwt {lp_jwt}"})
    )
    try:
        assert peer.call("GetClock")["body"] == {"currentTime": 1_772_366_400_000}
        conversation = peer.call("cm.ConsumerRequestConversation")
        assert conversation["code"] == 200
    finally:
        peer.hang_up()
