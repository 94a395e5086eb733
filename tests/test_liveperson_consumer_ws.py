"""LivePerson's consumer WebSocket (reference section 6.5): the LP consumer JWT at the upgrade or in an
InitConnection frame, the consumer's frames and pushes, and close code 4407 for a JWT that does not (or no
longer) hold. `Peer` is shared with test_liveperson_agent_conversations.py."""

from __future__ import annotations

import itertools
import json
import secrets
import ssl
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from simple_websocket import Client, ConnectionClosed
from simple_websocket import ConnectionError as WsConnectionError

from emulator.app import create_app
from emulator.providers.liveperson.consumer_ws import ConsumerConnection
from emulator.providers.liveperson.conversations import CONSUMER, Conversations
from emulator.providers.liveperson.models import Account
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount

CONSUMER_SOCKET = "/ws_api/account/{account}/messaging/consumer"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}
WAIT_SECONDS = 5.0
ERROR_TYPE = ".ReqBody$ErrorResp"
TEXT = {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}


class Peer:
    """A client socket: `call` sends a request and answers its `resp`; pushes read meanwhile are kept for `push`."""

    def __init__(self, ws: Client) -> None:
        self.ws = ws
        self.pushes: list[dict] = []
        self._ids = (f"r{n}" for n in itertools.count(1))

    def call(self, kind: str, body: object = None, **extra: object) -> dict:
        req_id = next(self._ids)
        self.ws.send(
            json.dumps({"kind": "req", "id": req_id, "type": kind, "body": {} if body is None else body, **extra})
        )
        return self.answer(req_id)

    def answer(self, req_id: object) -> dict:
        while True:
            frame = self.receive()
            if frame.get("kind") == "resp" and frame.get("reqId") == req_id:
                return frame
            self.pushes.append(frame)

    def receive(self) -> dict:
        frame = self.ws.receive(timeout=WAIT_SECONDS)
        assert frame is not None, "no frame within the wait"
        return json.loads(frame)

    def push(self, kind: str, matches=lambda body: True) -> dict:  # noqa: ANN001
        """The first push of `kind` whose body `matches`, read now if not read yet (and taken off the list)."""
        while True:
            found = next((p for p in self.pushes if p["type"] == kind and matches(p["body"])), None)
            if found is not None:
                self.pushes.remove(found)
                return found
            self.pushes.append(self.receive())

    def hang_up(self) -> None:
        """Close as a client should: send the close frame and let the reader thread take the server's answer."""
        if self.ws.connected:
            super(Client, self.ws).close()
        self.ws.thread.join(WAIT_SECONDS)


def closed_with(ws: Client, frame: str | None = None) -> int:
    """Send `frame` (if any), then the close code the server ends the socket with."""
    with pytest.raises(ConnectionClosed) as closed:
        if frame is not None:
            ws.send(frame)
        for _ in range(int(WAIT_SECONDS * 10)):
            ws.receive(timeout=0.1)  # noqa: sleep-ok: bounded poll: the server closes within its idle tick
    return closed.value.reason


def consumer_url(handle: EmulatorHandle, account: str, version: str = "3") -> str:
    base = handle.base_url.replace("https://", "wss://").replace("http://", "ws://")
    return base + CONSUMER_SOCKET.format(account=account) + f"?v={version}"


def connect_consumer(handle: EmulatorHandle, account: str, ca: str, jwt: str | None, scheme: str = "jwt") -> Client:
    headers = None if jwt is None else {"Authorization": f"{scheme} {jwt}"}
    return Client.connect(
        consumer_url(handle, account), headers=headers, ssl_context=ssl.create_default_context(cafile=ca)
    )


def init_frame(jwt: str) -> str:
    return json.dumps(
        {
            "kind": "req",
            "id": "0",
            "type": "InitConnection",
            "headers": [
                {"type": ".ams.headers.ClientProperties", "deviceFamily": "DESKTOP", "os": "WINDOWS"},
                {"type": ".ams.headers.ConsumerAuthentication", "jwt": jwt},
            ],
        }
    )


def sub_of(jwt: str) -> str:
    import jwt as pyjwt

    return pyjwt.decode(jwt, options={"verify_signature": False})["sub"]


@pytest.fixture
def emulator_backend(emulator_tls_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_tls_server


@pytest.fixture
def consumer(
    emulator_tls_server: EmulatorHandle, lp_account: LivePersonAccount, lp_jwt: str, emulator_tls_ca: str
) -> Iterator[Peer]:
    """The `lp_jwt` consumer on the consumer socket (JWT at the upgrade)."""
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, lp_jwt))
    try:
        yield peer
    finally:
        peer.hang_up()


@pytest.fixture
def other_consumer(
    emulator_tls_server: EmulatorHandle, lp_account: LivePersonAccount, emulator_tls_ca: str
) -> Iterator[Peer]:
    """A second unauthenticated consumer of the same account."""
    jwt = lp_account.exchange(lp_account.issue_ext_jwt())
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, jwt))
    try:
        yield peer
    finally:
        peer.hang_up()


def open_conversation(peer: Peer) -> str:
    answer = peer.call("cm.ConsumerRequestConversation", {"skillId": "-1"})
    assert answer["code"] == 200, answer
    return answer["body"]["conversationId"]


def state_of(handle: EmulatorHandle) -> dict:
    return handle.control.export_state()["namespaces"][handle.namespace]


# --- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["jwt", "JWT"])
def test_the_jwt_at_the_upgrade_authenticates_and_get_clock_answers_the_emulator_clock(
    emulator_tls_server, lp_account, lp_jwt, emulator_tls_ca, emulator_clock, scheme
) -> None:
    emulator_clock.freeze("2026-03-01T12:00:00Z")
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, lp_jwt, scheme))
    try:
        assert peer.call("GetClock") == {
            "kind": "resp",
            "reqId": "r1",
            "code": 200,
            "body": {"currentTime": 1_772_366_400_000},
            "type": "GetClockResponse",
        }
    finally:
        peer.hang_up()


def test_init_connection_authenticates_a_socket_without_headers(
    emulator_tls_server, lp_account, lp_jwt, emulator_tls_ca
) -> None:
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, None))
    try:
        peer.ws.send(init_frame(lp_jwt))
        assert peer.answer("0") == {
            "kind": "resp",
            "reqId": "0",
            "code": 200,
            "body": {},
            "type": "InitConnectionResponse",
        }
        conversation = open_conversation(peer)
        published = peer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
        assert published == {
            "kind": "resp",
            "reqId": "r2",
            "code": 200,
            "body": {"sequence": 0},
            "type": "ms.PublishEventResponse",
        }
    finally:
        peer.hang_up()


def _second_account_jwt(handle: EmulatorHandle) -> str:
    """An LP consumer JWT of another account of the namespace."""
    account_id, connector = (
        str(10_000_000 + secrets.randbelow(89_999_999)),
        str(1_000_000_000 + secrets.randbelow(10**9)),
    )
    handle.control.seed(
        {"liveperson": {"accounts": [{"id": account_id, "connectors": [{"id": connector, "type": "unauthenticated"}]}]}}
    )
    return LivePersonAccount(account_id, connector, 600.0, handle).exchange(
        LivePersonAccount(account_id, connector, 600.0, handle).issue_ext_jwt()
    )


@pytest.mark.parametrize("case", ["garbage", "expired", "other_account", "other_scheme"])
def test_a_jwt_that_does_not_hold_is_closed_with_4407_at_connect(
    emulator_tls_server, lp_account, lp_jwt, emulator_tls_ca, emulator_clock, case
) -> None:
    jwt, scheme = {
        "garbage": ("not.a.jwt", "jwt"),
        "other_scheme": (lp_jwt, "Bearer"),
        "expired": (lp_jwt, "jwt"),
        "other_account": (None, "jwt"),
    }[case]
    if case == "expired":
        emulator_clock.advance("61m")  # consumer_jwt_ttl: 1 h
    if case == "other_account":
        jwt = _second_account_jwt(emulator_tls_server)
    ws = connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, jwt, scheme)
    assert closed_with(ws) == 4407
    Peer(ws).hang_up()


@pytest.mark.parametrize("first_frame", ["garbage-jwt", "get-clock", "no-auth-header", "not-json"])
def test_a_first_frame_that_is_no_good_init_connection_is_closed_with_4407(
    emulator_tls_server, lp_account, emulator_tls_ca, first_frame
) -> None:
    frame = {
        "garbage-jwt": init_frame("garbage"),
        "get-clock": json.dumps({"kind": "req", "id": "1", "type": "GetClock", "body": {}}),
        "no-auth-header": json.dumps({"kind": "req", "id": "0", "type": "InitConnection", "headers": []}),
        "not-json": "{",
    }[first_frame]
    ws = connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, None)
    assert closed_with(ws, frame) == 4407
    Peer(ws).hang_up()


@pytest.mark.lp_account(settings={"consumer_jwt_ttl": "2m"})
def test_the_socket_closes_with_4407_once_the_clock_passes_the_jwt_exp(consumer: Peer, emulator_clock) -> None:
    assert consumer.call("GetClock")["code"] == 200
    emulator_clock.advance("100s")
    assert consumer.call("GetClock")["code"] == 200
    emulator_clock.advance("21s")
    assert closed_with(consumer.ws) == 4407  # no frame: the idle tick finds it


@pytest.mark.parametrize("action", ["revoke", "expire"])
def test_a_jwt_revoked_or_expired_through_the_control_api_closes_the_socket_with_4407(
    consumer: Peer, lp_jwt, emulator_clock, action
) -> None:
    getattr(emulator_clock, action)(token=lp_jwt)
    assert closed_with(consumer.ws, json.dumps({"kind": "req", "id": "1", "type": "GetClock", "body": {}})) == 4407


def test_a_consumer_revoked_by_its_id_is_closed_too(consumer: Peer, lp_jwt, emulator_clock) -> None:
    emulator_clock.revoke(consumer=sub_of(lp_jwt))
    assert closed_with(consumer.ws) == 4407


# --- conversations --------------------------------------------------------------------------------


def test_request_publish_and_subscribe_show_the_consumers_conversation_and_events(
    consumer: Peer, lp_account, lp_jwt
) -> None:
    me = sub_of(lp_jwt)
    answer = consumer.call(
        "cm.ConsumerRequestConversation", {"brandId": lp_account.id, "skillId": "-1", "channelType": "MESSAGING"}
    )
    conversation = answer["body"]["conversationId"]
    assert answer == {
        "kind": "resp",
        "reqId": "r1",
        "code": 200,
        "body": {"conversationId": conversation},
        "type": "cm.RequestConversationResponse",
    }
    assert [consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["body"] for _ in range(2)] == [
        {"sequence": 0},
        {"sequence": 1},
    ]

    subscribed = consumer.call("cqm.SubscribeExConversations", {"convState": ["OPEN"]})
    subscription = subscribed["body"]["subscriptionId"]
    assert subscribed == {
        "kind": "resp",
        "reqId": "r4",
        "code": 200,
        "body": {"subscriptionId": subscription},
        "type": "cqm.SubscribeExConversationsResponse",
    }
    initial = consumer.push("cqm.ExConversationChangeNotification")
    assert initial["kind"] == "notification" and initial["body"]["subscriptionId"] == subscription
    [change] = initial["body"]["changes"]
    assert change["type"] == "UPSERT" and change["result"]["convId"] == conversation
    details = change["result"]["conversationDetails"]
    assert (details["state"], details["brandId"], details["lastSequence"], details["authenticated"]) == (
        "OPEN",
        lp_account.id,
        1,
        False,
    )
    assert details["participants"] == [{"id": me, "role": "CONSUMER"}]

    events = consumer.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 1})
    assert events == {"kind": "resp", "reqId": "r5", "code": 200, "body": {}, "type": "GenericSubscribeResponse"}
    history = consumer.push("ms.MessagingEventNotification")
    assert history["kind"] == "notification" and [c["sequence"] for c in history["body"]["changes"]] == [1]
    assert history["body"]["changes"][0]["originatorId"] == me
    assert history["body"]["changes"][0]["originatorMetadata"] == {"id": me, "role": "CONSUMER"}
    assert history["body"]["changes"][0]["event"] == TEXT

    assert consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["body"] == {"sequence": 2}
    pushed = consumer.push("ms.MessagingEventNotification")
    assert [(c["sequence"], c["dialogId"]) for c in pushed["body"]["changes"]] == [(2, conversation)]
    update = consumer.push("cqm.ExConversationChangeNotification")
    assert update["body"]["changes"][0]["result"]["conversationDetails"]["lastSequence"] == 2


def test_typing_is_pushed_with_no_sequence_and_not_stored(consumer: Peer, emulator_tls_server, lp_account) -> None:
    conversation = open_conversation(consumer)
    consumer.call("ms.SubscribeMessagingEvents", {"dialogId": conversation})
    typing = consumer.call(
        "ms.PublishEvent", {"dialogId": conversation, "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}}
    )
    assert typing == {"kind": "resp", "reqId": "r3", "code": 200, "body": {}, "type": "ms.PublishEventResponse"}
    pushed = consumer.push("ms.MessagingEventNotification")["body"]["changes"]
    assert [(c["sequence"], c["event"]) for c in pushed] == [(-1, {"type": "ChatStateEvent", "chatState": "COMPOSING"})]
    assert (
        state_of(emulator_tls_server)["providers"]["liveperson"]["accounts"][lp_account.id]["conversations"][
            conversation
        ]["events"]
        == []
    )
    assert consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["body"] == {"sequence": 0}


def test_set_user_profile_answers_ok_and_keeps_the_sdes(
    consumer: Peer, emulator_tls_server, lp_account, lp_jwt
) -> None:
    sdes = [{"type": "ctmrinfo", "info": {"customerId": "138766AC"}}]
    answer = consumer.call("userprofile.SetUserProfile", {"authenticatedData": {"lp_sdes": sdes}})
    assert answer == {
        "kind": "resp",
        "reqId": "r1",
        "code": 200,
        "body": {"msg": "OK User Profile set successfully"},
        "type": "userprofile.SetUserProfileResponse",
    }
    stored = state_of(emulator_tls_server)["providers"]["liveperson"]["accounts"][lp_account.id]["consumers"][
        sub_of(lp_jwt)
    ]
    assert stored["profile"] == {"lp_sdes": sdes}


@pytest.mark.parametrize(
    "frame_text, reason",
    [
        (
            '{"kind": "req", "id": "x", "type": "ms.PublishEvent", "body": {"dialogId": "%s", "event": {"type": "RichContentEvent", "content": {"n": NaN}}}}',
            "numbers must be finite",
        ),
        (
            '{"kind": "req", "id": "x", "type": "ms.PublishEvent", "body": {"dialogId": "%s", "event": {"type": "ContentEvent", "message": "\\ud800"}}}',
            "strings must be valid Unicode",
        ),
    ],
)
def test_an_event_that_could_not_be_exported_is_refused(
    consumer: Peer, emulator_tls_server, frame_text, reason
) -> None:
    conversation = open_conversation(consumer)
    before = state_of(emulator_tls_server)
    consumer.ws.send(frame_text % conversation)
    assert consumer.answer("x") == {
        "kind": "resp",
        "reqId": "x",
        "code": 400,
        "body": {"msg": reason},
        "type": ERROR_TYPE,
    }
    assert state_of(emulator_tls_server) == before


def test_a_second_open_conversation_is_refused(consumer: Peer) -> None:
    open_conversation(consumer)
    refused = consumer.call("cm.ConsumerRequestConversation", {})
    assert refused == {
        "kind": "resp",
        "reqId": "r2",
        "code": 400,
        "body": {"msg": "consumer already has an open conversation"},
        "type": ERROR_TYPE,
    }


def close_body(conversation: str, as_list: bool = False) -> dict:
    field = {"field": "ConversationStateField", "conversationState": "CLOSE"}
    return {"conversationId": conversation, "conversationField": [field] if as_list else field}


def test_the_consumer_closes_its_conversation_and_a_closed_one_refuses_publish_and_a_second_close(
    consumer: Peer,
) -> None:
    conversation = open_conversation(consumer)
    consumer.call("cqm.SubscribeExConversations")
    consumer.push("cqm.ExConversationChangeNotification")
    closed = consumer.call("cm.UpdateConversationField", close_body(conversation))
    assert closed == {
        "kind": "resp",
        "reqId": "r3",
        "code": 200,
        "body": {},
        "type": "cm.UpdateConversationFieldResponse",
    }
    change = consumer.push("cqm.ExConversationChangeNotification")["body"]["changes"][0]
    details = change["result"]["conversationDetails"]
    assert (change["type"], details["state"], details["closeReason"]) == ("UPSERT", "CLOSE", "CONSUMER")
    refused = consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
    assert refused == {
        "kind": "resp",
        "reqId": "r4",
        "code": 400,
        "body": {"msg": f"conversation {conversation} is closed"},
        "type": ERROR_TYPE,
    }
    again = consumer.call("cm.UpdateConversationField", close_body(conversation))
    assert again["code"] == 400 and again["body"] == {"msg": f"conversation {conversation} is already closed"}
    assert open_conversation(consumer) != conversation  # a new one may start


def test_another_consumer_cannot_see_or_touch_a_foreign_dialog(consumer: Peer, other_consumer: Peer) -> None:
    conversation = open_conversation(consumer)
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
    missing = {"msg": f"conversation {conversation} not found"}
    for kind, body in [
        ("ms.SubscribeMessagingEvents", {"dialogId": conversation}),
        ("ms.PublishEvent", {"dialogId": conversation, "event": TEXT}),
        ("cm.UpdateConversationField", close_body(conversation)),
    ]:
        answer = other_consumer.call(kind, body)
        assert (answer["code"], answer["body"], answer["type"]) == (404, missing, ERROR_TYPE)
    other_consumer.call("cqm.SubscribeExConversations")
    assert other_consumer.push("cqm.ExConversationChangeNotification")["body"]["changes"] == []
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
    assert other_consumer.call("GetClock")["code"] == 200 and other_consumer.pushes == []  # nothing of it was pushed


# --- the upgrade ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.1", "3.0", ""])
def test_another_version_is_refused_before_the_upgrade(
    emulator_tls_server, lp_account, lp_jwt, emulator_tls_ca, version
) -> None:
    url = consumer_url(emulator_tls_server, lp_account.id, version)
    with pytest.raises(WsConnectionError) as refused:
        Client.connect(
            url,
            headers={"Authorization": f"jwt {lp_jwt}"},
            ssl_context=ssl.create_default_context(cafile=emulator_tls_ca),
        )
    assert refused.value.status_code == 400
    reply = requests.get(url.replace("wss://", "https://"), headers=UPGRADE, verify=emulator_tls_ca, timeout=5)
    assert reply.status_code == 400 and reply.json()["error"]["message"] == "unsupported version: use v=3"


def test_the_test_client_cannot_upgrade_and_answers_400() -> None:
    client = create_app().test_client()
    path = CONSUMER_SOCKET.format(account="12345678") + "?v=3"
    upgraded, plain = client.get(path, headers=UPGRADE), client.get(path)
    assert (upgraded.status_code, upgraded.json["error"]["message"]) == (
        400,
        "WebSocket upgrade not supported by this server",
    )
    assert (plain.status_code, plain.json["error"]["message"]) == (400, "a WebSocket upgrade is required")


# --- what a consumer socket pushes (unit level) ------------------------------------------------------


def test_at_step_up_the_previous_owner_is_told_the_conversation_left_then_nothing() -> None:
    """The listener alone, fed the changes of Conversations.move_to: the old owner gets one DELETE, the new one an UPSERT."""
    account = Account(id="12345678")
    namespace = SimpleNamespace(name="ns", clock=SimpleNamespace(now=lambda: 1_000.0))
    account.remember_consumer("unauth", "anonymous", 0)
    account.remember_consumer("auth", "authenticated", 0)
    rules = Conversations(namespace, account)  # type: ignore[arg-type]
    conversation = rules.request_conversation("unauth", {})
    old, new = (ConsumerConnection(None, "ns", account.id, who) for who in ("unauth", "auth"))
    for connection in (old, new):
        connection.subscribe_conversations(None)
        connection.dialogs[conversation.id] = 0
    rules.changes.clear()
    rules.move_to(conversation, "auth")
    rules.publish(conversation, "auth", CONSUMER, TEXT)
    moved, published = rules.changes
    [gone] = old.frames_for(moved)
    assert gone["body"]["changes"] == [{"type": "DELETE", "result": {"convId": conversation.id}}]
    assert old.frames_for(published) == []
    [upsert] = new.frames_for(moved)
    details = upsert["body"]["changes"][0]["result"]["conversationDetails"]
    assert (details["authenticated"], details["stepUp"]) == (True, {"fromConsumerId": "unauth", "at": 1_000_000})
    assert [f["type"] for f in new.frames_for(published)] == [
        "cqm.ExConversationChangeNotification",
        "ms.MessagingEventNotification",
    ]


def test_a_frame_whose_id_is_nan_is_refused_with_a_null_req_id_that_stays_json(consumer: Peer) -> None:
    consumer.ws.send('{"kind":"req","type":"GetClock","id":NaN}')
    raw = consumer.ws.receive(timeout=WAIT_SECONDS)
    assert "NaN" not in raw and json.loads(raw)["reqId"] is None and json.loads(raw)["code"] == 400
