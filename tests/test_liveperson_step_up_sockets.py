"""Step-up end to end over the real sockets (TLS server): an unauthenticated consumer talks to an agent, logs
in mid-conversation presenting its unauthenticated LP JWT (stepup.py), and both sides continue the same
conversation with its whole history; after logout a fresh identity sees nothing. Reference section 7."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from simple_websocket import Client
from test_liveperson_consumer_ws import TEXT, Peer, connect_consumer, open_conversation, sub_of

from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, LivePersonAgentSession
from emulator.pytest_plugin.liveperson_consumers import BrandIdp

AGENT_SOCKET = "/ws_api/account/{account}/messaging/brand/{bearer}?v=2.1"
AGENT_CONVERSATIONS = ".ams.aam.ExConversationChangeNotification"
CONSUMER_CONVERSATIONS = "cqm.ExConversationChangeNotification"
EVENTS = "ms.MessagingEventNotification"
WITHOUT_IDENTITY_ONLY = ["Common.Async_Messaging", "Messaging.Un_Auth_Messaging", "Common.User_Type_Bot"]


@pytest.fixture
def emulator_backend(emulator_tls_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_tls_server


class Sockets:
    """Opens consumer and agent sockets on the TLS server and hangs them all up at the end."""

    def __init__(self, handle: EmulatorHandle, account: LivePersonAccount, ca: str) -> None:
        self._handle, self._account, self._ca = handle, account, ca
        self.opened: list[Peer] = []

    def consumer(self, lp_jwt: str) -> Peer:
        return self._keep(Peer(connect_consumer(self._handle, self._account.id, self._ca, lp_jwt)))

    def agent(self, session: LivePersonAgentSession) -> Peer:
        base = self._handle.base_url.replace("https://", "wss://")
        url = base + AGENT_SOCKET.format(account=self._account.id, bearer=session.bearer)
        return self._keep(Peer(Client.connect(url, ssl_context=ssl.create_default_context(cafile=self._ca))))

    def _keep(self, peer: Peer) -> Peer:
        self.opened.append(peer)
        return peer


@pytest.fixture
def sockets(
    emulator_tls_server: EmulatorHandle, lp_account: LivePersonAccount, emulator_tls_ca: str
) -> Iterator[Sockets]:
    opened = Sockets(emulator_tls_server, lp_account, emulator_tls_ca)
    try:
        yield opened
    finally:
        for peer in opened.opened:
            peer.hang_up()


def _texts(changes: list[dict]) -> list[tuple[int, str, str]]:
    return [(c["sequence"], c["originatorMetadata"]["role"], c["event"]["message"]) for c in changes]


def _about(conversation: str):  # noqa: ANN202
    return lambda body: any(change["result"]["convId"] == conversation for change in body["changes"])


def _unauthenticated_chat(
    sockets: Sockets, lp_account: LivePersonAccount, session: LivePersonAgentSession
) -> tuple[Peer, Peer, str, str]:
    """An unauthenticated consumer asks, the agent answers asking them to log in: (consumer, agent, LP JWT, conversation)."""
    unauth_jwt = lp_account.exchange(lp_account.issue_ext_jwt())
    consumer, agent = sockets.consumer(unauth_jwt), sockets.agent(session)
    conversation = open_conversation(consumer)
    consumer.call("ms.SubscribeMessagingEvents", {"dialogId": conversation})
    consumer.call("cqm.SubscribeExConversations", {})
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "where is my order?"}})
    agent.call(".ams.aam.SubscribeExConversations", {"convState": ["OPEN"]})
    agent.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})
    asked = agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "please log in"}})
    assert asked["body"] == {"sequence": 1}
    return consumer, agent, unauth_jwt, conversation


def test_the_consumer_logs_in_mid_conversation_and_both_sides_continue_it(
    sockets: Sockets, lp_account: LivePersonAccount, lp_agent_session: LivePersonAgentSession, lp_brand_idp: BrandIdp
) -> None:
    old_socket, agent, unauth_jwt, conversation = _unauthenticated_chat(sockets, lp_account, lp_agent_session)
    unauth_id = sub_of(unauth_jwt)

    id_token = lp_brand_idp.id_token(
        "cust-42",
        given_name="Ada",
        family_name="Lovelace",
        email="ada@example.com",
        lp_sdes=[{"type": "ctmrinfo", "info": {"customerId": "138766AC", "ctype": "vip"}}],
    )
    auth_jwt = lp_brand_idp.authenticate(id_token=id_token, unauth_jwt=unauth_jwt)
    auth_id = sub_of(auth_jwt)

    # the old, unauthenticated socket is told the conversation left it, and sees nothing more
    gone = old_socket.push(CONSUMER_CONVERSATIONS, lambda body: body["changes"][0]["type"] == "DELETE")
    assert gone["body"]["changes"] == [{"type": "DELETE", "result": {"convId": conversation}}]

    # the agent sees the same conversation, now the authenticated consumer's, marked as stepped up
    moved = agent.push(
        AGENT_CONVERSATIONS, lambda body: body["changes"][0]["result"]["conversationDetails"]["stepUp"] is not None
    )
    details = moved["body"]["changes"][0]["result"]["conversationDetails"]
    assert (details["convId"], details["participants"]["CONSUMER"], details["authenticated"]) == (
        conversation,
        [auth_id],
        True,
    )
    assert details["stepUp"]["fromConsumerId"] == unauth_id and details["lastSequence"] == 1
    profile = agent.call(".ams.userprofile.GetUserProfile", {"userId": auth_id})["body"]
    assert (profile["authenticated"], profile["given_name"], profile["email"], profile["ext"]["sub"]) == (
        True,
        "Ada",
        "ada@example.com",
        "cust-42",
    )
    assert profile["lp_sdes"] == [{"type": "ctmrinfo", "info": {"customerId": "138766AC", "ctype": "vip"}}]
    assert profile["stepUp"]["fromConsumerId"] == unauth_id

    # the consumer reconnects authenticated: the whole history, same sequences, and the talk goes on
    consumer = sockets.consumer(auth_jwt)
    consumer.call("cqm.SubscribeExConversations", {})
    [mine] = consumer.push(CONSUMER_CONVERSATIONS, _about(conversation))["body"]["changes"]
    assert mine["result"]["conversationDetails"]["state"] == "OPEN"
    consumer.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})
    history = consumer.push(EVENTS)["body"]["changes"]
    assert _texts(history) == [(0, "CONSUMER", "where is my order?"), (1, "ASSIGNED_AGENT", "please log in")]
    assert history[0]["originatorId"] == unauth_id  # what was said before the login keeps its author
    sent = consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "logged in"}})
    assert sent["body"] == {"sequence": 2}
    heard = agent.push(EVENTS, lambda body: body["changes"][0]["sequence"] == 2)["body"]["changes"]
    assert [(c["originatorId"], c["event"]["message"]) for c in heard] == [(auth_id, "logged in")]
    reply = agent.call(
        ".ams.ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "I see your order"}}
    )
    assert reply["body"] == {"sequence": 3}
    assert _texts(consumer.push(EVENTS, lambda body: body["changes"][0]["sequence"] == 3)["body"]["changes"]) == [
        (3, "ASSIGNED_AGENT", "I see your order")
    ]
    # the unauthenticated identity can no longer reach the conversation
    assert old_socket.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["code"] == 404


def test_the_agent_asks_for_a_login_and_sees_the_consumer_come_back_authenticated_by_code_flow(
    sockets: Sockets, lp_account: LivePersonAccount, lp_agent_session: LivePersonAgentSession, lp_brand_idp: BrandIdp
) -> None:
    _, agent, unauth_jwt, conversation = _unauthenticated_chat(sockets, lp_account, lp_agent_session)
    before = agent.call(".ams.userprofile.GetUserProfile", {"userId": sub_of(unauth_jwt)})["body"]
    assert (before["authenticated"], before["stepUp"]) == (False, None)

    auth_jwt = lp_brand_idp.authenticate(
        code=lp_brand_idp.code("cust-code-flow", given_name="Grace"), unauth_jwt=unauth_jwt
    )

    moved = agent.push(
        AGENT_CONVERSATIONS, lambda body: body["changes"][0]["result"]["conversationDetails"]["stepUp"] is not None
    )
    details = moved["body"]["changes"][0]["result"]["conversationDetails"]
    assert (
        details["participants"]["CONSUMER"] == [sub_of(auth_jwt)]
        and details["consumerProfile"]["given_name"] == "Grace"
    )
    consumer = sockets.consumer(auth_jwt)
    consumer.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})
    assert [c["sequence"] for c in consumer.push(EVENTS)["body"]["changes"]] == [0, 1]
    assert agent.call(".ams.ms.PublishEvent", {"dialogId": conversation, "event": TEXT | {"message": "thanks"}})[
        "body"
    ] == {"sequence": 2}
    assert _texts(consumer.push(EVENTS, lambda body: body["changes"][0]["sequence"] == 2)["body"]["changes"]) == [
        (2, "ASSIGNED_AGENT", "thanks")
    ]


def test_after_logout_a_fresh_identity_sees_nothing_and_logging_back_in_sees_it_all(
    sockets: Sockets, lp_account: LivePersonAccount, lp_agent_session: LivePersonAgentSession, lp_brand_idp: BrandIdp
) -> None:
    _, _, unauth_jwt, conversation = _unauthenticated_chat(sockets, lp_account, lp_agent_session)
    lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("cust-logout"), unauth_jwt=unauth_jwt)

    fresh = sockets.consumer(lp_account.exchange(lp_account.issue_ext_jwt()))  # logged out: a new anonymous identity
    fresh.call("cqm.SubscribeExConversations", {})
    assert fresh.push(CONSUMER_CONVERSATIONS)["body"]["changes"] == []
    assert fresh.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})["code"] == 404

    again = sockets.consumer(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("cust-logout")))
    again.call("ms.SubscribeMessagingEvents", {"dialogId": conversation, "fromSeq": 0})
    assert [c["sequence"] for c in again.push(EVENTS)["body"]["changes"]] == [0, 1]


@pytest.mark.lp_account(features=WITHOUT_IDENTITY_ONLY)
def test_without_the_step_up_features_logging_in_starts_a_new_conversation(
    sockets: Sockets, lp_account: LivePersonAccount, lp_agent_session: LivePersonAgentSession, lp_brand_idp: BrandIdp
) -> None:
    old_socket, _, unauth_jwt, conversation = _unauthenticated_chat(sockets, lp_account, lp_agent_session)
    auth_jwt = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("cust-no-step-up"), unauth_jwt=unauth_jwt)

    consumer = sockets.consumer(auth_jwt)
    consumer.call("cqm.SubscribeExConversations", {})
    assert consumer.push(CONSUMER_CONVERSATIONS)["body"]["changes"] == []
    assert open_conversation(consumer) != conversation
    # the unauthenticated identity keeps its conversation
    assert old_socket.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})["body"] == {"sequence": 2}
