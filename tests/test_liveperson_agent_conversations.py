"""The agent WebSocket's view of messaging conversations (reference 6.5, 6.6, 10.1): an agent subscribes to
the account's conversations, follows a consumer's dialog, replies, closes, and reads the consumer's profile;
both sockets answer malformed frames with a `resp` and serve on, leaving the namespace's state unchanged."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simple_websocket import Client
from test_liveperson_consumer_ws import (
    TEXT,
    Peer,
    close_body,
    closed_with,
    connect_consumer,
    open_conversation,
    state_of,
    sub_of,
)

from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, LivePersonAgentSession

AGENT_SOCKET = "/ws_api/account/{account}/messaging/brand/{bearer}?v=2.1"
CONVERSATIONS = ".ams.aam.ExConversationChangeNotification"
EVENTS = "ms.MessagingEventNotification"


@pytest.fixture
def emulator_backend(emulator_tls_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_tls_server


@pytest.fixture
def agent(
    emulator_tls_server: EmulatorHandle, lp_agent_session: LivePersonAgentSession, emulator_tls_ca: str
) -> Iterator[Peer]:
    base = emulator_tls_server.base_url.replace("https://", "wss://")
    url = base + AGENT_SOCKET.format(account=lp_agent_session.account.id, bearer=lp_agent_session.bearer)
    peer = Peer(Client.connect(url, ssl_context=ssl.create_default_context(cafile=emulator_tls_ca)))
    try:
        yield peer
    finally:
        peer.hang_up()


@pytest.fixture
def consumer(
    emulator_tls_server: EmulatorHandle, lp_account: LivePersonAccount, lp_jwt: str, emulator_tls_ca: str
) -> Iterator[Peer]:
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, lp_jwt))
    try:
        yield peer
    finally:
        peer.hang_up()


def for_conversation(conversation: str):  # noqa: ANN201
    return lambda body: any(change["result"]["convId"] == conversation for change in body["changes"])


def test_the_agent_sees_the_consumers_conversation_and_they_talk_both_ways(
    agent: Peer, consumer: Peer, lp_agent_session, lp_jwt
) -> None:
    me = sub_of(lp_jwt)
    conversation = open_conversation(consumer)
    consumer.call("ms.SubscribeMessagingEvents", {"dialogId": conversation})
    assert consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["body"] == {"sequence": 0}

    subscribed = agent.call(".ams.aam.SubscribeExConversations", {"convState": ["OPEN"]})
    assert subscribed["code"] == 200 and set(subscribed["body"]) == {"subscriptionId"}
    [change] = agent.push(CONVERSATIONS)["body"]["changes"]
    details = change["result"]["conversationDetails"]
    assert (change["type"], change["result"]["convId"], details["state"]) == ("UPSERT", conversation, "OPEN")
    assert details["participants"] == {"CONSUMER": [me]} == details["participantsPId"]  # node-agent-sdk's v2 shape
    assert details["dialogs"][0]["participantsDetails"] == [{"id": me, "role": "CONSUMER", "state": "ACTIVE"}]

    assert agent.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0}) == {
        "kind": "resp",
        "reqId": "r2",
        "code": 200,
        "body": {},
    }
    history = agent.push(EVENTS)["body"]
    assert history["dialogId"] == conversation and [
        (c["sequence"], c["originatorId"], c["originatorPId"]) for c in history["changes"]
    ] == [(0, me, me)]
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "anyone?"}})
    pushed = agent.push(EVENTS)["body"]["changes"]
    assert [(c["sequence"], c["event"]["message"], c["originatorMetadata"]["role"]) for c in pushed] == [
        (1, "anyone?", "CONSUMER")
    ]

    reply = agent.call(
        ".ams.ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "hi, how can I help?"}}
    )
    assert reply == {"kind": "resp", "reqId": "r3", "code": 200, "body": {"sequence": 2}}
    seen = consumer.push("ms.MessagingEventNotification", lambda body: body["changes"][0]["sequence"] == 2)["body"][
        "changes"
    ][0]
    assert (seen["originatorId"], seen["originatorMetadata"], seen["event"]["message"]) == (
        lp_agent_session.user_pid,
        {"id": lp_agent_session.user_pid, "role": "ASSIGNED_AGENT"},
        "hi, how can I help?",
    )
    joined = agent.push(
        CONVERSATIONS, lambda body: body["changes"][0]["result"]["conversationDetails"]["lastSequence"] == 2
    )
    assert joined["body"]["changes"][0]["result"]["conversationDetails"]["participants"] == {
        "CONSUMER": [me],
        "ASSIGNED_AGENT": [lp_agent_session.user_pid],
    }


def test_a_new_conversation_is_pushed_to_a_subscribed_agent(agent: Peer, consumer: Peer) -> None:
    subscription = agent.call(".ams.aam.SubscribeExConversations")["body"]["subscriptionId"]
    assert agent.push(CONVERSATIONS)["body"] == {"subscriptionId": subscription, "changes": []}
    conversation = open_conversation(consumer)
    pushed = agent.push(CONVERSATIONS, for_conversation(conversation))
    assert pushed["body"]["subscriptionId"] == subscription and pushed["body"]["changes"][0]["type"] == "UPSERT"


def test_the_agent_closes_and_the_consumer_is_told(agent: Peer, consumer: Peer) -> None:
    conversation = open_conversation(consumer)
    consumer.call("cqm.SubscribeExConversations")
    consumer.push("cqm.ExConversationChangeNotification")
    agent.call(".ams.aam.SubscribeExConversations", {"convState": ["OPEN"]})
    agent.push(CONVERSATIONS)
    assert agent.call(".ams.cm.UpdateConversationField", close_body(conversation, as_list=True)) == {
        "kind": "resp",
        "reqId": "r2",
        "code": 200,
        "body": {},
    }
    details = consumer.push("cqm.ExConversationChangeNotification")["body"]["changes"][0]["result"][
        "conversationDetails"
    ]
    assert (details["state"], details["closeReason"]) == ("CLOSE", "AGENT")
    left = agent.push(CONVERSATIONS, for_conversation(conversation))["body"]["changes"][0]
    assert left["type"] == "DELETE"  # closed: no longer in the subscription's OPEN state
    refused = agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
    assert refused == {
        "kind": "resp",
        "reqId": "r3",
        "code": 400,
        "body": {"msg": f"conversation {conversation} is closed"},
    }
    assert consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["code"] == 400


def test_the_consumer_closes_and_the_agent_is_told(agent: Peer, consumer: Peer) -> None:
    conversation = open_conversation(consumer)
    agent.call(".ams.aam.SubscribeExConversations")
    agent.push(CONVERSATIONS)
    consumer.call("cm.UpdateConversationField", close_body(conversation))
    details = agent.push(CONVERSATIONS, for_conversation(conversation))["body"]["changes"][0]["result"][
        "conversationDetails"
    ]
    assert (details["state"], details["closeReason"]) == ("CLOSE", "CONSUMER")
    again = agent.call(".ams.cm.UpdateConversationField", close_body(conversation))
    assert (again["code"], again["body"]) == (400, {"msg": f"conversation {conversation} is already closed"})


def test_query_messages_as_node_agent_sdk_sends_it_then_online_event_distribution(
    agent: Peer, consumer: Peer, lp_jwt
) -> None:
    conversation = open_conversation(consumer)
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
    answer = agent.call(".ams.ms.QueryMessages", {"dialogId": conversation, "newerThanSequence": 0})
    assert (answer["code"], answer["type"], [c["sequence"] for c in answer["body"]]) == (
        200,
        ".ams.ms.QueryMessages$Response",
        [0],
    )
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})
    online = agent.push(".ams.ms.OnlineEventDistribution")["body"]
    assert (online["sequence"], online["dialogId"], online["originatorPId"]) == (1, conversation, sub_of(lp_jwt))


def test_get_user_profile_takes_the_consumer_id_as_the_body_and_answers_the_raw_profile(
    agent: Peer, consumer: Peer, lp_jwt
) -> None:
    sdes = [{"type": "personal", "personal": {"firstname": "Ada"}}]
    consumer.call("userprofile.SetUserProfile", {"authenticatedData": {"lp_sdes": sdes}})
    profile = agent.call(".ams.userprofile.GetUserProfile", sub_of(lp_jwt))  # [C] the body is the bare consumer id
    assert profile == {
        "kind": "resp",
        "reqId": "r1",
        "code": 200,
        "type": ".ams.userprofile.GetUserProfile$Response",
        "body": {
            "authenticatedData": {"lp_sdes": sdes},  # what node-agent-sdk turns into SDEs
            "consumerId": sub_of(lp_jwt),
            "authenticated": False,
            "ext": None,
            "lp_sdes": sdes,
            "stepUp": None,
        },
    }
    assert (
        agent.call(".ams.userprofile.GetUserProfile", {"userId": sub_of(lp_jwt)})["body"] == profile["body"]
    )  # LABS's form
    unknown = agent.call(".ams.userprofile.GetUserProfile", "nobody")
    assert (unknown["code"], unknown["type"], unknown["body"]) == (200, ".ams.userprofile.GetUserProfile$Response", {})
    refused = agent.call(".ams.userprofile.GetUserProfile", ["nobody"])
    assert (refused["code"], refused["body"]) == (400, {"msg": "body must be an object"})


def test_an_unknown_dialog_answers_404(agent: Peer) -> None:
    for kind in ("ms.SubscribeMessagingEvents", ".ams.ms.PublishEvent", ".ams.ms.QueryMessages"):
        answer = agent.call(kind, {"dialogId": "nope", "event": TEXT})
        assert (answer["code"], answer["body"]) == (404, {"msg": "conversation nope not found"})


# --- malformed frames -------------------------------------------------------------------------------

TYPES = [
    "GetClock",
    "cm.ConsumerRequestConversation",
    "ms.PublishEvent",
    "cm.UpdateConversationField",
    "userprofile.SetUserProfile",
    "cqm.SubscribeExConversations",
    "ms.SubscribeMessagingEvents",
    ".ams.aam.SubscribeExConversations",
    ".ams.ms.PublishEvent",
    ".ams.cm.UpdateConversationField",
    ".ams.userprofile.GetUserProfile",
    ".ams.ms.QueryMessages",
    "no.Such",
]
TEXTS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
SCALARS = st.none() | st.booleans() | st.integers() | TEXTS
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3), max_leaves=6
)
CLOSE = {
    "conversationId": "nope",
    "conversationField": {"field": "ConversationStateField", "conversationState": "CLOSE"},
}
UNKNOWN_DIALOG = {"dialogId": "nope", "event": {"type": "ContentEvent", "message": "x"}}
# a request each type refuses: a wrong brand, a bad convState, an unknown dialog, a non-object profile, ...
REFUSED_REQUESTS = st.sampled_from(
    [
        ("cm.ConsumerRequestConversation", {"brandId": "not-the-account"}),
        ("ms.PublishEvent", UNKNOWN_DIALOG),
        ("cm.UpdateConversationField", CLOSE),
        ("userprofile.SetUserProfile", {"authenticatedData": []}),
        ("cqm.SubscribeExConversations", {"convState": ["LIMBO"]}),
        ("ms.SubscribeMessagingEvents", {"dialogId": "nope", "fromSeq": -1}),
        (".ams.aam.SubscribeExConversations", {"convState": "OPEN"}),
        (".ams.ms.PublishEvent", UNKNOWN_DIALOG),
        (".ams.cm.UpdateConversationField", CLOSE),
        (".ams.userprofile.GetUserProfile", {"userId": ["nobody"]}),
        (".ams.ms.QueryMessages", {"dialogId": None}),
        ("no.Such", {}),
    ]
)


def _profile_by_id(frame: str) -> bool:
    """GetUserProfile with a string body: the consumer id, a valid request."""
    message = json.loads(frame)
    return message["type"] == ".ams.userprofile.GetUserProfile" and isinstance(message["body"], str)


FRAMES = st.one_of(
    TEXTS.map(lambda text: "{" + text),
    JSON.filter(lambda value: not isinstance(value, dict)).map(json.dumps),
    st.dictionaries(TEXTS, JSON, max_size=4).map(lambda value: json.dumps({**value, "kind": "nope"})),
    st.builds(
        lambda kind, body: json.dumps({"kind": "req", "id": "x", "type": kind, "body": body}),
        st.sampled_from(TYPES),
        JSON.filter(lambda value: not isinstance(value, dict)),
    ).filter(lambda frame: not _profile_by_id(frame)),
    REFUSED_REQUESTS.map(
        lambda request: json.dumps({"kind": "req", "id": "x", "type": request[0], "body": request[1]})
    ),
    st.binary(max_size=20),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(FRAMES, min_size=1, max_size=4))
def test_malformed_frames_answer_a_resp_and_change_nothing(
    agent: Peer, consumer: Peer, emulator_tls_server, frames
) -> None:
    before = state_of(emulator_tls_server)
    for peer in (agent, consumer):
        for frame in frames:
            peer.ws.send(frame)
            answer = peer.receive()
            assert answer["kind"] == "resp" and answer["code"] >= 400, (frame, answer)
            assert set(answer) <= {"kind", "reqId", "code", "body", "type"} and isinstance(answer["body"]["msg"], str)
        assert peer.call(".GetClock" if peer is agent else "GetClock")["code"] == 200
        assert peer.pushes == []
    assert state_of(emulator_tls_server) == before


def test_a_bearer_already_expired_at_connect_is_closed_with_4407(
    emulator_tls_server, expired_lp_agent_session, emulator_tls_ca
) -> None:
    base = emulator_tls_server.base_url.replace("https://", "wss://")
    url = base + AGENT_SOCKET.format(
        account=expired_lp_agent_session.account.id, bearer=expired_lp_agent_session.bearer
    )
    ws = Client.connect(url, ssl_context=ssl.create_default_context(cafile=emulator_tls_ca))
    assert closed_with(ws) == 4407
    Peer(ws).hang_up()
