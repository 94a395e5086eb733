"""A real agent WebSocket peer that subscribes and then stops reading, on the emulator's HTTP server: the
consumer's messages and a bystander agent's pushes and new conversation are still answered, and the stuck
peer is dropped once its backlog passes the bound (outbound.py). Every wait is bounded by a socket timeout."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from emulator.providers.liveperson import outbound
from emulator.pytest_plugin import EmulatorHandle, LivePersonAgentSession, LivePersonAppJwt, LivePersonConsumerJws
from emulator.pytest_plugin.liveperson_routing import AGENT_SOCKET, CONVERSATIONS, AgentSocket, open_agent_socket

WAIT_SECONDS = 5.0  # bounds every socket operation below
BACKLOG = 10  # the stuck peer's bound in this test (MAX_BACKLOG)
MOST_MESSAGES = 2_000  # far more than the kernel's buffers and the backlog hold: the peer must be dropped by then
LONG_TEXT = "x" * 10_000  # the longest text message: each fills the stuck peer's buffers fast


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_server


class StuckAgent:
    """An agent socket on a raw TCP connection with a small receive buffer: it reads the answers to its
    subscriptions, then never reads again."""

    def __init__(self, session: LivePersonAgentSession) -> None:
        base = urlsplit(session.account.handle.base_url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(WAIT_SECONDS)
        self.sock.connect((base.hostname, base.port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        target = AGENT_SOCKET.format(account=session.account.id, bearer=session.bearer)
        self.sock.sendall(self.ws.send(Request(host=base.netloc, target=target)))
        self._text = ""
        self._events: list = []
        assert isinstance(self._next_event(), AcceptConnection)

    def _next_event(self) -> object:
        while not self._events:
            data = self.sock.recv(65536)
            assert data, "the emulator closed the agent socket"
            self.ws.receive_data(data)
            self._events.extend(self.ws.events())
        return self._events.pop(0)

    def call(self, req_id: str, kind: str, body: dict) -> dict:
        """Send a request and read frames until its `resp`."""
        self.sock.sendall(
            self.ws.send(TextMessage(json.dumps({"kind": "req", "id": req_id, "type": kind, "body": body})))
        )
        while True:
            event = self._next_event()
            if isinstance(event, TextMessage):
                self._text += event.data
                if event.message_finished:
                    frame, self._text = json.loads(self._text), ""
                    if frame.get("kind") == "resp" and frame.get("reqId") == req_id:
                        return frame

    def read_until_closed(self) -> None:
        """Read what the emulator wrote before it dropped the connection, up to its end (bounded per read)."""
        try:
            while self.sock.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass  # dropped with data unread: as good an end as a FIN

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dropped(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Set once the emulator drops a peer; the bound lowered to BACKLOG frames."""
    monkeypatch.setattr(outbound, "MAX_BACKLOG", BACKLOG)
    event = threading.Event()
    drop = outbound.Outbound._drop

    def recording_drop(self: outbound.Outbound) -> None:
        event.set()
        drop(self)

    monkeypatch.setattr(outbound.Outbound, "_drop", recording_drop)
    yield event


def conversation_path(jws: LivePersonConsumerJws, tail: str = "") -> str:
    return f"/api/account/{jws.app_jwt.account.id}/messaging/consumer/conversation{tail}"


def open_conversation(jws: LivePersonConsumerJws) -> str:
    profile = {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}}
    request = {"kind": "req", "id": "2", "type": "cm.ConsumerRequestConversation", "body": {}}
    reply = jws.app_jwt.account.handle.post(
        conversation_path(jws), params={"v": "3"}, json=[profile, request], headers=jws.headers()
    )
    assert reply.status == 200, reply.text
    return reply.json()[1]["body"]["conversationId"]


def say(jws: LivePersonConsumerJws, conversation_id: str, text: str) -> int:
    """A consumer message, answered with its sequence."""
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": text}
    body = {"kind": "req", "id": "1", "type": "ms.PublishEvent", "body": {"dialogId": conversation_id, "event": event}}
    reply = jws.app_jwt.account.handle.post(
        conversation_path(jws, "/send"), params={"v": "3"}, json=body, headers=jws.headers()
    )
    assert reply.status == 200, reply.text
    return reply.json()["body"]["sequence"]


def upserted(conversation_id: str) -> Callable[[dict], bool]:
    return lambda body: any(
        change["result"]["convId"] == conversation_id for change in body["changes"] if change["type"] == "UPSERT"
    )


def test_an_agent_that_stops_reading_blocks_no_one_and_is_dropped_past_its_backlog(
    dropped: threading.Event, lp_agent_session: LivePersonAgentSession, lp_app_jwt: LivePersonAppJwt
) -> None:
    talker = lp_app_jwt.issue_consumer_jws()
    conversation = open_conversation(talker)
    stuck = StuckAgent(lp_agent_session)
    bystander: AgentSocket | None = None
    try:
        assert stuck.call("s1", ".ams.aam.SubscribeExConversations", {})["code"] == 200
        assert stuck.call("s2", "ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})["code"] == 200
        bystander = open_agent_socket(lp_agent_session, None)
        subscribed = bystander.call(".ams.aam.SubscribeExConversations", {})
        assert subscribed["code"] == 200

        sequence = say(talker, conversation, LONG_TEXT)  # the stuck agent stops reading from here on
        newcomer = lp_app_jwt.issue_consumer_jws()
        second = open_conversation(newcomer)
        bystander.push(CONVERSATIONS, upserted(second))  # the bystander hears of a new conversation at once
        for _ in range(MOST_MESSAGES):
            sequence = say(talker, conversation, LONG_TEXT)  # each answered, whatever the stuck agent does
            if dropped.is_set():
                break
        assert dropped.is_set(), f"the stuck agent was not dropped after {MOST_MESSAGES} messages"

        third = open_conversation(lp_app_jwt.issue_consumer_jws())
        bystander.push(CONVERSATIONS, upserted(third))
        assert say(talker, conversation, "still here") == sequence + 1
        assert say(newcomer, second, "me too") == 0
        stuck.read_until_closed()  # ends: the emulator shut the stuck agent's connection down
    finally:
        stuck.close()
        if bystander is not None:
            bystander.close()
