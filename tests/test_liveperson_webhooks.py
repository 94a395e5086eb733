"""Connector API webhooks (reference liveperson-outbound.md section 1): every change of a conversation an
app installation opened reaches that installation's endpoint for the event type, in LivePerson's envelope,
signed with the installation's secret, through the namespace's outbox (background, retried on the emulated
clock per `max_retries`, holdable, journaled). No test sleeps: a flush waits for the attempts under way."""

from __future__ import annotations

import dataclasses
import json
import ssl

import pytest
from simple_websocket import Client
from test_liveperson_consumer_ws import Peer, connect_consumer, open_conversation

from emulator.providers.liveperson import webhooks
from emulator.providers.liveperson.conversations import Change
from emulator.pytest_plugin import WebhookReceiver, issue_lp_app_jwt
from emulator.pytest_plugin.liveperson_connector_app import (
    LivePersonConnectorApp,
    install_connector_app,
    notification_key,
)

T0 = "2026-03-01T00:00:00.000Z"
T0_MS = 1772323200000
pytestmark = pytest.mark.emulator_time(T0)
CONTENT = "ms.MessagingEventNotification.ContentEvent"
CONVERSATION = "cqm.ExConversationChangeNotification"

# [CC] the test vectors of LivePerson's Connector App Hub (reference 1.5): notifications as the app received
# them, and the signature each carried (secret rl9hacst6kqilbofup64n11ga3)
VECTOR_SECRET = "rl9hacst6kqilbofup64n11ga3"
CONSUMER_ID = "2969e404f3be1c8cdda63f0b72d205ab5afb3fe3e3d7d72ab58245f564fdfd91"
CONTROLLER_ID = "52e05c00-d5e4-5823-acf7-62570b939a63"
CONVERSATION_ID = "b8b83fe9-75f0-46f2-baaa-2930f7192cfb"
PAUSE_VECTOR = (
    {
        "kind": "notification",
        "body": {
            "changes": [
                {
                    "originatorId": CONSUMER_ID,
                    "originatorMetadata": {"id": CONSUMER_ID, "role": "CONSUMER"},
                    "event": {"type": "ChatStateEvent", "chatState": "PAUSE"},
                    "conversationId": CONVERSATION_ID,
                    "dialogId": CONVERSATION_ID,
                }
            ]
        },
        "type": "ms.MessagingEventNotification",
    },
    "sha1=e/TfS0wv1HbvEsMqcBMmFLcMslI=",
)
CLOSE_VECTOR = (
    {
        "kind": "notification",
        "body": {
            "changes": [
                {
                    "type": "UPSERT",
                    "result": {
                        "convId": CONVERSATION_ID,
                        "effectiveTTR": -1,
                        "conversationDetails": {
                            "skillId": "-1",
                            "participants": [
                                {"id": CONTROLLER_ID, "role": "CONTROLLER"},
                                {"id": CONSUMER_ID, "role": "CONSUMER"},
                            ],
                            "dialogs": [
                                {
                                    "dialogId": CONVERSATION_ID,
                                    "participantsDetails": [
                                        {"id": CONSUMER_ID, "role": "CONSUMER"},
                                        {"id": CONTROLLER_ID, "role": "CONTROLLER"},
                                    ],
                                    "dialogType": "MAIN",
                                    "channelType": "MESSAGING",
                                    "state": "CLOSE",
                                    "creationTs": 1545398580042,
                                    "endTs": 1545399379370,
                                    "metaDataLastUpdateTs": 1545399379370,
                                    "closedBy": "CONSUMER",
                                }
                            ],
                            "brandId": "42257269",
                            "state": "CLOSE",
                            "stage": "CLOSE",
                            "closeReason": "CONSUMER",
                            "startTs": 1545398580042,
                            "endTs": 1545399379370,
                            "metaDataLastUpdateTs": 1545399379370,
                            "ttr": {"ttrType": "PRIORITIZED", "value": 600},
                        },
                    },
                }
            ]
        },
        "type": "cqm.ExConversationChangeNotification",
    },
    "sha1=CKiT6u4nb4Mpi0tdbCbgBXKAF1E=",
)


@pytest.mark.parametrize("notification, expected", [PAUSE_VECTOR, CLOSE_VECTOR], ids=["chat_state", "close"])
def test_the_signature_reproduces_the_published_test_vectors(notification: dict, expected: str) -> None:
    body = webhooks.serialize(notification)
    assert webhooks.signature(VECTOR_SECRET, body) == expected
    spaced = json.dumps(notification).encode()  # the same JSON with spaces: other bytes, another signature
    assert webhooks.signature(VECTOR_SECRET, spaced) != expected


def test_a_close_change_renders_byte_for_byte_as_the_published_close_notification() -> None:
    details = {
        "convId": CONVERSATION_ID,
        "brandId": "42257269",
        "skillId": "-1",
        "state": "CLOSE",
        "stage": "CLOSE",
        "startTs": 1545398580042,
        "endTs": 1545399379370,
        "closeReason": "CONSUMER",
        "metaDataLastUpdateTs": 1545399379370,
        "participants": [{"id": CONTROLLER_ID, "role": "CONTROLLER"}, {"id": CONSUMER_ID, "role": "CONSUMER"}],
        "dialogs": [
            {
                "dialogId": CONVERSATION_ID,
                "dialogType": "MAIN",
                "channelType": "MESSAGING",
                "state": "CLOSE",
                "participantsDetails": [
                    {"id": CONSUMER_ID, "role": "CONSUMER", "state": "ACTIVE"},
                    {"id": CONTROLLER_ID, "role": "CONTROLLER", "state": "ACTIVE"},
                ],
            }
        ],
        "context": {},
        "authenticated": False,
        "lastSequence": 3,
    }
    rendered = webhooks.render(Change("ns", "42257269", details, (CONSUMER_ID,)), now_ms=0)
    assert webhooks.serialize(rendered) == webhooks.serialize(CLOSE_VECTOR[0])
    assert webhooks.signature(VECTOR_SECRET, webhooks.serialize(rendered)) == CLOSE_VECTOR[1]


def test_the_retry_schedules() -> None:
    assert webhooks.retry_schedule(0, None) == ()
    assert webhooks.retry_schedule(3, None) == (30.0, 30.0, 30.0)
    assert webhooks.retry_schedule(1, 60) == (2.0, 4.0, 8.0, 16.0)  # 30 s waited; 32 more would pass 60
    assert max(webhooks.retry_schedule(1, 3600)) == 300.0
    assert webhooks.retry_schedule(0, 3600) == ()  # [C] max_retries 0 under TTL retry: dropped


# --- end to end over the Connector API -----------------------------------------------------------------


def flushed(app: LivePersonConnectorApp) -> list[dict]:
    """Every due delivery attempted and ended: the notification bodies the receiver got, oldest first."""
    app.account.handle.control.flush_deliveries()
    return app.notifications()


def test_a_connector_conversation_reaches_the_webhooks_in_order_signed(
    lp_connector_app: LivePersonConnectorApp,
) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    assert app.say(consumer, conversation, "hi there") == 0
    app.send(consumer, conversation, {"type": "ChatStateEvent", "chatState": "COMPOSING"})
    app.send(consumer, conversation, {"type": "RichContentEvent", "content": {"type": "vertical", "elements": []}})
    app.send(consumer, conversation, {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0]})
    app.close(consumer, conversation)

    bodies = flushed(app)
    assert [notification_key(b) for b in bodies] == [
        CONVERSATION,
        CONTENT,
        "ms.MessagingEventNotification.ChatStateEvent",
        "ms.MessagingEventNotification.RichContentEvent",
        "ms.MessagingEventNotification.AcceptStatusEvent",
        CONVERSATION,
    ]
    assert all(app.verified(d) for d in app.receiver.deliveries)
    assert all(
        list(b) == ["kind", "body", "type"] and b["kind"] == "notification" and len(b["body"]["changes"]) == 1
        for b in bodies
    )

    opened = bodies[0]["body"]["changes"][0]
    assert opened["type"] == "UPSERT" and opened["result"]["convId"] == conversation
    details = opened["result"]["conversationDetails"]
    assert details["participants"] == [{"id": consumer.lp_consumer_id, "role": "CONSUMER"}]
    assert (details["state"], details["stage"], details["brandId"], details["startTs"]) == (
        "OPEN",
        "OPEN",
        app.account.id,
        T0_MS,
    )
    assert details["metaDataLastUpdateTs"] == T0_MS and details["ttr"] == {"ttrType": "PRIORITIZED", "value": 600}
    assert "closeReason" not in details and "endTs" not in details

    message = bodies[1]["body"]["changes"][0]
    assert message == {
        "sequence": 0,
        "originatorId": consumer.lp_consumer_id,
        "originatorMetadata": {"id": consumer.lp_consumer_id, "role": "CONSUMER"},
        "serverTimestamp": T0_MS,
        "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi there"},
        "conversationId": conversation,
        "dialogId": conversation,
        "messageAudience": "ALL",
    }
    typing = bodies[2]["body"]["changes"][0]
    assert "sequence" not in typing and "serverTimestamp" not in typing and typing["event"]["chatState"] == "COMPOSING"
    assert bodies[4]["body"]["changes"][0]["sequence"] == 2  # [C] an AcceptStatusEvent takes a sequence

    closed = bodies[5]["body"]["changes"][0]["result"]["conversationDetails"]
    assert (closed["state"], closed["stage"], closed["closeReason"], closed["endTs"]) == (
        "CLOSE",
        "CLOSE",
        "CONSUMER",
        T0_MS,
    )
    assert closed["dialogs"][0]["closedBy"] == "CONSUMER" and closed["dialogs"][0]["endTs"] == T0_MS


def test_the_headers_and_the_exact_body_bytes(lp_connector_app: LivePersonConnectorApp, emulator_backend) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    app.say(consumer, app.open_conversation(consumer), "Grüße ☕")
    flushed(app)
    delivery = app.receiver.deliveries[-1]
    headers = {name.lower(): value for name, value in delivery.headers.items()}
    assert headers["x-liveperson-account-id"] == app.account.id
    assert headers["x-liveperson-client-id"] == app.client_id
    assert headers["x-liveperson-signature"] == webhooks.signature(app.client_secret, delivery.raw)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert "Grüße ☕".encode() in delivery.raw  # UTF-8, not \\u escapes: the signed bytes are the sent bytes
    assert delivery.method == "POST"


def test_deliveries_are_listed_and_journaled(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    app.say(consumer, app.open_conversation(consumer), "hello")
    control = app.account.handle.control
    listed = control.flush_deliveries()
    assert [d["kind"] for d in listed] == ["liveperson.webhook", "liveperson.webhook"]
    assert all(d["state"] == "delivered" and d["url"] == app.receiver.url for d in listed)
    assert listed[1]["payload"]["body"]["changes"][0]["event"]["message"] == "hello"
    assert listed[1]["headers"]["x-liveperson-client-id"] == app.client_id
    outgoing = [e for e in control.journal(provider="liveperson") if e.get("direction") == "outgoing"]
    assert len(outgoing) == 2 and all(e["status"] == 200 for e in outgoing)


@pytest.mark.parametrize("status", [500, 202, 204])
def test_only_200_and_201_deliver_and_max_retries_counts_on_the_emulated_clock(lp_account, status: int) -> None:
    receiver = WebhookReceiver()
    try:
        client_id, client_secret = install_connector_app(lp_account, receiver.url, max_retries=2)
        app = LivePersonConnectorApp(
            lp_account, client_id, client_secret, receiver, issue_lp_app_jwt(lp_account, client_id, client_secret)
        )
        control = lp_account.handle.control
        receiver.respond(status, times=3)
        app.open_conversation(app.consumer())
        [delivery] = control.flush_deliveries()
        assert delivery["state"] == "pending" and [a["status"] for a in delivery["attempts"]] == [status]
        control.advance("29s")
        assert len(control.deliveries()[0]["attempts"]) == 1
        control.advance("1s")
        assert [a["status"] for a in control.deliveries()[0]["attempts"]] == [status, status]
        control.advance("30s")
        [delivery] = control.deliveries()
        assert delivery["state"] == "failed" and len(delivery["attempts"]) == 3  # the attempt and its 2 retries
        assert len(receiver.deliveries) == 3
        assert receiver.deliveries[0].raw == receiver.deliveries[2].raw  # the same signed body each time
    finally:
        receiver.close()


def test_retention_time_retries_two_four_eight_seconds_apart_within_it(lp_account) -> None:
    receiver = WebhookReceiver()
    try:
        client_id, client_secret = install_connector_app(lp_account, receiver.url, max_retries=1)
        control = lp_account.handle.control
        document = control.export_state()["namespaces"][lp_account.handle.namespace]["providers"]["liveperson"][
            "accounts"
        ][lp_account.id]
        document["apps"][0]["capabilities"]["webhooks"]["retry"] = {"retention_time": 10}
        control.seed({"liveperson": {"accounts": [document]}})
        app = LivePersonConnectorApp(
            lp_account, client_id, client_secret, receiver, issue_lp_app_jwt(lp_account, client_id, client_secret)
        )
        receiver.respond(500, times=5)
        app.open_conversation(app.consumer())
        control.flush_deliveries()
        for step in ("2s", "4s"):
            control.advance(step)
        [delivery] = control.deliveries()
        attempts = [a["at"] - delivery["attempts"][0]["at"] for a in delivery["attempts"]]
        assert attempts == [0.0, 2.0, 6.0] and delivery["state"] == "failed"  # 8 s more would pass the 10 s retention
    finally:
        receiver.close()


def test_without_max_retries_a_failed_attempt_is_final(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    control = app.account.handle.control
    app.receiver.respond(503)
    app.open_conversation(app.consumer())
    [delivery] = control.flush_deliveries()
    assert delivery["state"] == "failed"  # the fixture's webhooks have max_retries 0: no retry
    assert [a["status"] for a in delivery["attempts"]] == [503]


def test_a_hanging_receiver_never_holds_the_request(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    app.receiver.hang(times=1)
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)  # the open's UPSERT hangs at the receiver
    app.receiver.wait_for(1)
    assert app.say(consumer, conversation, "still answered") == 0
    pending = app.account.handle.control.deliveries()
    assert [d["state"] for d in pending] == ["pending", "pending"]  # the first under way, the second behind it


def test_held_deliveries_wait_for_release(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    control = app.account.handle.control
    control.hold_deliveries()
    app.open_conversation(app.consumer())
    assert control.flush_deliveries()[0]["attempts"] == [] and app.receiver.deliveries == []
    released = control.release_deliveries()
    assert released[0]["state"] == "delivered" and len(app.receiver.deliveries) == 1


def test_a_refused_or_faulted_request_sends_nothing(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    control = app.account.handle.control
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    control.add_fault(
        "status", status=503, times=1, match={"path": "/api/account/*/messaging/consumer/conversation/send"}
    )
    with pytest.raises(AssertionError, match="503"):
        app.say(consumer, conversation, "lost")
    with pytest.raises(AssertionError, match="400"):
        app.send(consumer, conversation, {"type": "ContentEvent", "message": 7})
    assert [notification_key(b) for b in flushed(app)] == [CONVERSATION]


def test_a_disabled_installation_gets_nothing_and_another_apps_conversation_is_not_its(
    lp_connector_app, lp_account
) -> None:
    app = lp_connector_app
    other = WebhookReceiver()
    try:
        other_id, other_secret = install_connector_app(lp_account, other.url)
        other_app = LivePersonConnectorApp(
            lp_account, other_id, other_secret, other, issue_lp_app_jwt(lp_account, other_id, other_secret)
        )
        other_app.open_conversation(other_app.consumer())
        assert flushed(app) == [] and len(other.deliveries) == 1

        control = lp_account.handle.control
        document = control.export_state()["namespaces"][lp_account.handle.namespace]["providers"]["liveperson"][
            "accounts"
        ][lp_account.id]
        for installed in document["apps"]:
            installed["enabled"] = installed["client_id"] != app.client_id
        control.seed({"liveperson": {"accounts": [document]}})
        app.open_conversation(app.consumer())  # [I] a disabled app still gets AppJWTs, and sends
        assert flushed(app) == []
    finally:
        other.close()


def test_wait_for_waits_for_a_notification_and_checks_signatures(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    app.say(consumer, app.open_conversation(consumer), "hi")
    body = app.wait_for(CONTENT)
    assert body["body"]["changes"][0]["event"]["message"] == "hi"


def test_wait_for_fails_the_test_on_a_delivery_whose_signature_does_not_verify(
    lp_connector_app: LivePersonConnectorApp,
) -> None:
    consumer = lp_connector_app.consumer()
    lp_connector_app.say(consumer, lp_connector_app.open_conversation(consumer), "hi")
    checked_with_another_secret = dataclasses.replace(lp_connector_app, client_secret="not-this-app-secret")
    with pytest.raises(pytest.fail.Exception, match="deliveries without a valid signature"):
        checked_with_another_secret.wait_for(CONTENT)


# --- the agent's side, over the agent socket -----------------------------------------------------------


@pytest.fixture
def emulator_backend(request):
    """The agent socket needs Werkzeug's server; the tests above run on the in-process app."""
    uses_socket = "agent" in request.fixturenames
    return request.getfixturevalue("emulator_tls_server" if uses_socket else "emulator")


@pytest.fixture
def agent(emulator_tls_server, lp_agent_session, emulator_tls_ca):
    base = emulator_tls_server.base_url.replace("https://", "wss://")
    url = f"{base}/ws_api/account/{lp_agent_session.account.id}/messaging/brand/{lp_agent_session.bearer}?v=2.1"
    peer = Peer(Client.connect(url, ssl_context=ssl.create_default_context(cafile=emulator_tls_ca)))
    try:
        yield peer
    finally:
        peer.hang_up()


def test_the_agent_reply_and_close_reach_the_connector(
    lp_connector_app: LivePersonConnectorApp, agent: Peer, lp_agent_session
) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    app.say(consumer, conversation, "anyone there?")
    reply = {"type": "ContentEvent", "contentType": "text/plain", "message": "Hello, how can I help?"}
    assert agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": reply})["code"] == 200
    field = [{"field": "ConversationStateField", "conversationState": "CLOSE"}]
    assert (
        agent.call(".ams.cm.UpdateConversationField", {"conversationId": conversation, "conversationField": field})[
            "code"
        ]
        == 200
    )

    answered = app.wait_for(
        CONTENT, lambda body: body["body"]["changes"][0]["originatorMetadata"]["role"] == "ASSIGNED_AGENT"
    )
    change = answered["body"]["changes"][0]
    assert (change["sequence"], change["originatorId"], change["event"]) == (1, lp_agent_session.user_pid, reply)
    closed = app.wait_for(
        CONVERSATION, lambda body: body["body"]["changes"][0]["result"]["conversationDetails"]["state"] == "CLOSE"
    )
    details = closed["body"]["changes"][0]["result"]["conversationDetails"]
    assert (
        details["closeReason"] == "AGENT"
        and {"id": lp_agent_session.user_pid, "role": "ASSIGNED_AGENT"} in details["participants"]
    )


PRIVATE = {"type": "ContentEvent", "contentType": "text/plain", "message": "between us agents"}
PUBLIC = {"type": "ContentEvent", "contentType": "text/plain", "message": "for everyone"}


def test_a_private_message_never_reaches_the_connector(lp_connector_app: LivePersonConnectorApp, agent: Peer) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    private = agent.call(
        ".ams.ms.PublishEvent", {"dialogId": conversation, "event": PRIVATE, "messageAudience": "AGENTS_AND_MANAGERS"}
    )
    assert private["code"] == 200 and private["body"] == {"sequence": 0}
    assert agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": PUBLIC})["body"] == {"sequence": 1}
    refused = agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": PUBLIC, "messageAudience": "SOME"})
    assert refused["code"] == 400
    app.account.handle.control.flush_deliveries()
    messages = [b["body"]["changes"][0] for b in app.notifications(CONTENT)]
    assert [(m["sequence"], m["messageAudience"], m["event"]["message"]) for m in messages] == [
        (1, "ALL", "for everyone")
    ]


@pytest.fixture
def consumer_socket(emulator_tls_server, lp_account, lp_jwt, emulator_tls_ca, agent):
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, lp_jwt))
    try:
        yield peer
    finally:
        peer.hang_up()


def test_a_private_message_never_reaches_the_consumer_socket(consumer_socket: Peer, agent: Peer) -> None:
    conversation = open_conversation(consumer_socket)
    assert consumer_socket.call("ms.SubscribeMessagingEvents", {"dialogId": conversation})["code"] == 200
    agent.call(
        ".ams.ms.PublishEvent", {"dialogId": conversation, "event": PRIVATE, "messageAudience": "AGENTS_AND_MANAGERS"}
    )
    agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": PUBLIC})
    pushed = consumer_socket.push("ms.MessagingEventNotification")["body"]["changes"]
    assert [(c["sequence"], c["event"]["message"]) for c in pushed] == [(1, "for everyone")]
    again = consumer_socket.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})
    assert again["code"] == 200
    history = consumer_socket.push("ms.MessagingEventNotification")["body"]["changes"]
    assert [c["event"]["message"] for c in history] == ["for everyone"]
