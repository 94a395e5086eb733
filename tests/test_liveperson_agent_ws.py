"""LivePerson's agent WebSocket (reference sections 3.4, 6.6 and 10.1): the bearer in the path, request and
response frames, and the close codes 4401 (unknown, logged out, revoked) and 4407 (expired) [I]."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator

import pytest
import requests
from simple_websocket import Client, ConnectionClosed
from simple_websocket import ConnectionError as WsConnectionError

from emulator.app import create_app
from emulator.pytest_plugin import EmulatorHandle, LivePersonAgentSession

SOCKET = "/ws_api/account/{account}/messaging/brand/{bearer}"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}
NO_UPGRADE = "WebSocket upgrade not supported by this server"
CLOSE_WAIT_SECONDS = 5.0


@pytest.fixture
def emulator_backend(emulator_tls_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_tls_server


@pytest.fixture
def tls_context(emulator_tls_ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=emulator_tls_ca)


def _url(handle: EmulatorHandle, account: str, bearer: str, version: str = "2.1") -> str:
    base = handle.base_url.replace("https://", "wss://").replace("http://", "ws://")
    return base + SOCKET.format(account=account, bearer=bearer) + f"?v={version}"


@pytest.fixture
def agent_socket(
    emulator_tls_server: EmulatorHandle, lp_agent_session: LivePersonAgentSession, tls_context: ssl.SSLContext
) -> Iterator[Client]:
    url = _url(emulator_tls_server, lp_agent_session.account.id, lp_agent_session.bearer)
    ws = Client.connect(url, ssl_context=tls_context)
    try:
        yield ws
    finally:
        _hang_up(ws)


def _hang_up(ws: Client) -> None:
    """Close as a client should: send the close frame and let the reader thread take the server's answer and
    close the socket (Client.close would close it under that thread, which may then read a reused descriptor)."""
    if ws.connected:
        super(Client, ws).close()
    ws.thread.join(CLOSE_WAIT_SECONDS)


def _call(ws: Client, kind: str, req_id: object = 1, body: dict | None = None) -> dict:
    ws.send(json.dumps({"kind": "req", "id": req_id, "type": kind, "body": body or {}}))
    return json.loads(ws.receive(timeout=CLOSE_WAIT_SECONDS))


def _closed_with(ws: Client, frame: str | None = None) -> int:
    """Send `frame` (if any), then the close code the server ends the socket with."""
    with pytest.raises(ConnectionClosed) as closed:
        if frame is not None:
            ws.send(frame)
        for _ in range(int(CLOSE_WAIT_SECONDS * 10)):
            ws.receive(timeout=0.1)  # noqa: sleep-ok: bounded poll: the server closes within its idle tick
    return closed.value.reason


GET_CLOCK = json.dumps({"kind": "req", "id": 9, "type": ".GetClock", "body": {}})


def test_get_clock_answers_the_emulator_clock_in_ms(agent_socket: Client, emulator_clock) -> None:
    emulator_clock.freeze("2026-03-01T12:00:00Z")
    assert _call(agent_socket, ".GetClock", "a1") == {
        "kind": "resp",
        "reqId": "a1",
        "code": 200,
        "body": {"currentTime": 1_772_366_400_000},
    }
    emulator_clock.advance("1.5s")
    assert _call(agent_socket, ".GetClock", 2)["body"] == {"currentTime": 1_772_366_401_500}


def test_subscribe_agent_state_and_unsubscribe_answer_200(agent_socket: Client) -> None:
    subscribed = _call(agent_socket, ".ams.aam.SubscribeExConversations", 1, {"convState": ["OPEN"]})
    assert (subscribed["reqId"], subscribed["code"], subscribed["kind"]) == (1, 200, "resp")
    assert isinstance(subscribed["body"]["subscriptionId"], str)
    initial = json.loads(agent_socket.receive(timeout=CLOSE_WAIT_SECONDS))  # the account's conversations: none yet
    assert initial == {
        "kind": "notification",
        "type": ".ams.aam.ExConversationChangeNotification",
        "body": {"subscriptionId": subscribed["body"]["subscriptionId"], "changes": []},
    }
    assert _call(agent_socket, ".ams.routing.SetAgentState", 2, {"availability": "ONLINE"})["code"] == 200
    assert _call(agent_socket, ".ams.aam.UnsubscribeExConversations", 3)["code"] == 200


def test_unknown_types_and_malformed_frames_answer_400_and_the_socket_serves_on(agent_socket: Client) -> None:
    assert _call(agent_socket, ".ams.NoSuchThing", 7) == {
        "kind": "resp",
        "reqId": 7,
        "code": 400,
        "body": {"msg": "unknown request type: .ams.NoSuchThing"},
    }
    agent_socket.send("{not json")
    assert json.loads(agent_socket.receive(timeout=CLOSE_WAIT_SECONDS))["code"] == 400
    assert _call(agent_socket, ".GetClock", 8)["code"] == 200


def test_an_unknown_bearer_is_closed_with_4401(
    emulator_tls_server: EmulatorHandle, lp_agent_session, tls_context
) -> None:
    ws = Client.connect(_url(emulator_tls_server, lp_agent_session.account.id, "not-a-bearer"), ssl_context=tls_context)
    assert _closed_with(ws) == 4401
    _hang_up(ws)
    path = SOCKET.format(account=lp_agent_session.account.id, bearer="not-a-bearer")
    for _ in range(int(CLOSE_WAIT_SECONDS * 10)):  # journaled when the server's side ends, a moment after the client's
        if emulator_tls_server.control.calls(path=path):
            break
        time.sleep(0.1)  # noqa: sleep-ok: bounded poll of the server thread that ends the socket
    emulator_tls_server.control.assert_called(path=path)


def test_a_session_past_its_lifetime_is_closed_with_4407_on_the_next_frame(
    agent_socket: Client, lp_agent_session, emulator_clock
) -> None:
    assert _call(agent_socket, ".GetClock")["code"] == 200
    emulator_clock.advance(lp_agent_session.session_ttl + 1)
    assert _closed_with(agent_socket, GET_CLOCK) == 4407


def test_a_bearer_expired_through_the_control_api_is_closed_with_4407(
    agent_socket: Client, lp_agent_session, emulator_clock
) -> None:
    emulator_clock.expire(token=lp_agent_session.bearer)
    assert _closed_with(agent_socket, GET_CLOCK) == 4407


def test_logout_while_connected_closes_with_4401(agent_socket: Client, lp_agent_session) -> None:
    assert lp_agent_session.logout().status == 200
    assert _closed_with(agent_socket, GET_CLOCK) == 4401


def test_revoke_while_connected_closes_with_4401_even_when_idle(
    agent_socket: Client, lp_agent_session, emulator_clock
) -> None:
    emulator_clock.revoke(token=lp_agent_session.bearer)
    assert _closed_with(agent_socket) == 4401  # no frame: the idle tick finds it


@pytest.mark.parametrize("version", ["1", "3.0", ""])
def test_another_version_is_refused_before_the_upgrade(
    emulator_tls_server, lp_agent_session, tls_context, emulator_tls_ca, version
) -> None:
    url = _url(emulator_tls_server, lp_agent_session.account.id, lp_agent_session.bearer, version)
    with pytest.raises(WsConnectionError) as refused:
        Client.connect(url, ssl_context=tls_context)
    assert refused.value.status_code == 400
    reply = requests.get(url.replace("wss://", "https://"), headers=UPGRADE, verify=emulator_tls_ca, timeout=5)
    assert reply.status_code == 400 and reply.json()["error"]["message"] == "unsupported version: use v=2.1"


def test_in_process_the_route_answers_400_with_or_without_upgrade_headers() -> None:
    client = create_app().test_client()
    path = SOCKET.format(account="12345678", bearer="b") + "?v=2.1"
    upgraded, plain = client.get(path, headers=UPGRADE), client.get(path)
    assert (upgraded.status_code, upgraded.json["error"]["message"]) == (400, NO_UPGRADE)
    assert (plain.status_code, plain.json["error"]["message"]) == (400, "a WebSocket upgrade is required")
