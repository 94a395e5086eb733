"""Routing on the agent socket and the agent's conversation field changes (liveperson-outbound.md sections 3
to 5): rings to the agents of a waiting conversation's skill, accept / reject / expiry, assignment pushed to
both sockets, transfers back to a skill queue and to an agent, participants, TTR, manual ETTR, CSAT, delay,
subscription filters, and every request type node-agent-sdk's Const.js can send answered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_liveperson_consumer_ws import TEXT, Peer, connect_consumer, state_of, sub_of

from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount
from emulator.pytest_plugin.liveperson_routing import (
    CONVERSATIONS,
    ROUTING_TASKS,
    LivePersonRoutingAgent,
    start_routing_agent,
)

CONSUMER_CONVERSATIONS = "cqm.ExConversationChangeNotification"
CONST_JS = Path(__file__).parent / "node" / "node_modules" / "node-agent-sdk" / "lib" / "Const.js"


@pytest.fixture
def emulator_backend(emulator_tls_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_tls_server


@pytest.fixture
def consumer(
    emulator_tls_server: EmulatorHandle, lp_account: LivePersonAccount, lp_jwt: str, emulator_tls_ca: str
) -> Iterator[Peer]:
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, lp_jwt))
    try:
        yield peer
    finally:
        peer.hang_up()


@pytest.fixture
def second_agent(lp_account: LivePersonAccount, emulator_tls_ca: str) -> Iterator[LivePersonRoutingAgent]:
    """Another agent, of skill 424242."""
    agent = start_routing_agent(lp_account, emulator_tls_ca, ["424242"])
    try:
        yield agent
    finally:
        agent.socket.close()


def _open(consumer: Peer, skill: str) -> str:
    consumer.call("cqm.SubscribeExConversations", {})
    consumer.push(CONSUMER_CONVERSATIONS)
    answer = consumer.call("cm.ConsumerRequestConversation", {"skillId": skill})
    assert answer["code"] == 200, answer
    return answer["body"]["conversationId"]


def _details(consumer: Peer, conversation: str, matching=lambda details: True) -> dict:  # noqa: ANN001
    def wanted(body: dict) -> bool:
        result = body["changes"][0]["result"]
        return result["convId"] == conversation and matching(result["conversationDetails"])

    return consumer.push(CONSUMER_CONVERSATIONS, wanted)["body"]["changes"][0]["result"]["conversationDetails"]


def _fields(agent: LivePersonRoutingAgent, conversation: str, *fields: dict) -> dict:
    return agent.socket.call(
        ".ams.cm.UpdateConversationField", {"conversationId": conversation, "conversationField": list(fields)}
    )


def _assigned(agent: LivePersonRoutingAgent, consumer: Peer, conversation: str) -> None:
    ring = agent.wait_for_ring(conversation)
    assert agent.answer(ring)["code"] == 200
    _details(consumer, conversation, lambda d: {"id": agent.agent_id, "role": "ASSIGNED_AGENT"} in d["participants"])


def consumer_id(details: dict) -> str:
    return next(p["id"] for p in details["participants"] if p["role"] == "CONSUMER")


REMOVE_ASSIGNED = {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}


def test_a_conversation_of_the_skill_rings_the_agent_who_accepts_and_both_sockets_see_the_assignment(
    lp_routing_agent: LivePersonRoutingAgent, consumer: Peer, lp_jwt: str, lp_account: LivePersonAccount, emulator_clock
) -> None:
    agent = lp_routing_agent
    mine = agent.socket.call(
        ".ams.aam.SubscribeExConversations",
        {"agentIds": [f"{lp_account.id}.{agent.session.user_id}"], "convState": ["OPEN"]},
    )
    assert agent.socket.push(CONVERSATIONS)["body"] == {"subscriptionId": mine["body"]["subscriptionId"], "changes": []}
    conversation = _open(consumer, agent.skill)
    opened = _details(consumer, conversation)
    assert opened["participants"] == [{"id": sub_of(lp_jwt), "role": "CONSUMER"}] and opened["ttr"] == {
        "ttrType": "PRIORITIZED",
        "value": 600,
    }
    assert opened["metaDataLastUpdateTs"] == opened["startTs"]

    ring = agent.wait_for_ring(conversation)
    [details] = ring["ringsDetails"]
    assert (ring["conversationId"], ring["consumerId"], ring["skillId"], ring["brandId"], ring["taskCompleted"]) == (
        conversation,
        sub_of(lp_jwt),
        agent.skill,
        lp_account.id,
        False,
    )
    assert (
        details["ringId"].startswith(f"{conversation}_{agent.session.user_id}_") and details["ringState"] == "WAITING"
    )
    assert (
        details["ringExpiration"] == 72000
        and details["ringExpirationTs"] == int(details["ringId"].rsplit("_", 1)[1]) + 72000
    )
    assert {"routingTaskId", "brandId"} <= set(ring) and {"convId", "consumerId", "skillId", "brandId"} <= set(
        details
    )  # what NAS strips

    emulator_clock.advance("5s")
    accepted = agent.answer(ring)
    assert (accepted["code"], accepted["body"]) == (200, "Ring state updated successfully")
    done = agent.wait_for_ring(conversation, state="ACCEPTED")
    assert done["taskCompleted"] is True and done["assignedAgentId"] == agent.agent_id
    pushed = agent.socket.push(CONVERSATIONS)["body"]["changes"][0]  # now in the agentIds subscription
    assert pushed["type"] == "UPSERT" and pushed["result"]["conversationDetails"]["participantsPId"][
        "ASSIGNED_AGENT"
    ] == [agent.agent_id]
    seen = _details(consumer, conversation)
    assert seen["participants"] == [
        {"id": sub_of(lp_jwt), "role": "CONSUMER"},
        {"id": agent.agent_id, "role": "ASSIGNED_AGENT"},
    ]
    assert seen["metaDataLastUpdateTs"] >= opened["startTs"] + 5000  # the clock moved 5 s (and runs on)
    assert agent.answer(ring)["code"] == 400  # a ring is answered once


def test_rings_reach_only_available_agents_of_the_skill_and_a_rejected_ring_is_not_offered_again(
    lp_routing_agent: LivePersonRoutingAgent, second_agent: LivePersonRoutingAgent, consumer: Peer, emulator_tls_server
) -> None:
    assert second_agent.set_state("AWAY")["body"] == "Agent state updated successfully"
    conversation = _open(consumer, "-1")  # no skill: every ONLINE agent
    ring = lp_routing_agent.wait_for_ring(conversation)
    before = state_of(emulator_tls_server)
    assert (
        lp_routing_agent.socket.call(".ams.routing.UpdateRingState", {"ringId": "nope", "ringState": "ACCEPTED"})[
            "code"
        ]
        == 404
    )
    assert (
        lp_routing_agent.socket.call(
            ".ams.routing.UpdateRingState", {"ringId": ring["ringsDetails"][0]["ringId"], "ringState": "MAYBE"}
        )["code"]
        == 400
    )
    assert second_agent.set_state("SLEEPING")["code"] == 400
    assert state_of(emulator_tls_server) == before
    assert lp_routing_agent.answer(ring, "REJECTED")["code"] == 200
    assert lp_routing_agent.wait_for_ring(conversation, state="REJECTED")["taskCompleted"] is True
    second_agent.set_state("ONLINE")  # available now: the waiting conversation rings it at once
    assert second_agent.wait_for_ring(conversation)["skillId"] == "-1"
    consumer.call("ms.PublishEvent", {"dialogId": conversation, "event": TEXT})  # a change, but no second ring
    assert lp_routing_agent.socket.call(".GetClock")["code"] == 200
    assert not [p for p in lp_routing_agent.socket.pushes if p["type"] == ROUTING_TASKS]


def test_a_ring_expires_on_the_emulators_clock(
    lp_routing_agent: LivePersonRoutingAgent, consumer: Peer, emulator_clock
) -> None:
    ring = lp_routing_agent.wait_for_ring(_open(consumer, lp_routing_agent.skill))
    emulator_clock.advance("73s")
    expired = lp_routing_agent.wait_for_ring(
        ring["conversationId"], state="EXPIRED"
    )  # pushed on the socket's next idle tick
    assert (
        expired["taskCompleted"] is True and expired["ringsDetails"][0]["ringId"] == ring["ringsDetails"][0]["ringId"]
    )
    late = lp_routing_agent.answer(ring)
    assert (late["code"], late["body"]) == (400, {"msg": f"ring {ring['ringsDetails'][0]['ringId']} is EXPIRED"})


def test_transfer_to_a_skill_goes_back_to_the_queue_and_rings_that_skills_agents(
    lp_routing_agent: LivePersonRoutingAgent, second_agent: LivePersonRoutingAgent, consumer: Peer, emulator_tls_server
) -> None:
    agent = lp_routing_agent
    conversation = _open(consumer, agent.skill)
    _assigned(agent, consumer, conversation)
    second_agent.set_state("OCCUPIED")  # [C] rung for transfers only
    before = state_of(emulator_tls_server)
    alone = _fields(agent, conversation, {"field": "Skill", "type": "UPDATE", "skill": "424242"})
    assert (alone["code"], alone["body"]["msg"]) == (
        400,
        "a transfer must remove the assigned agent in the same request (ParticipantsChange REMOVE ASSIGNED_AGENT)",
    )
    assert state_of(emulator_tls_server) == before
    moved = _fields(agent, conversation, REMOVE_ASSIGNED, {"field": "Skill", "type": "UPDATE", "skill": "424242"})
    assert (moved["code"], moved["body"]) == (200, "OK Agent removed successfully")
    queued = _details(consumer, conversation, lambda d: d["skillId"] == "424242")
    assert [p["role"] for p in queued["participants"]] == ["CONSUMER"]
    assert second_agent.wait_for_ring(conversation)["skillId"] == "424242"
    again = _fields(agent, conversation, REMOVE_ASSIGNED)
    assert (again["code"], again["body"]["msg"]) == (
        400,
        f"conversation {conversation} has no assigned agent to remove",
    )


def test_transfer_to_an_agent_suggests_it_and_rings_it_alone(
    lp_routing_agent: LivePersonRoutingAgent, second_agent: LivePersonRoutingAgent, consumer: Peer, lp_account
) -> None:
    conversation = _open(consumer, lp_routing_agent.skill)
    _assigned(lp_routing_agent, consumer, conversation)
    suggest = {
        "field": "ParticipantsChange",
        "type": "SUGGEST",
        "role": "ASSIGNED_AGENT",
        "userId": f"{lp_account.id}.{second_agent.session.user_id}",
    }
    assert _fields(lp_routing_agent, conversation, REMOVE_ASSIGNED, suggest)["body"] == "OK Agent removed successfully"
    suggested = {"id": second_agent.agent_id, "role": "ASSIGNED_AGENT", "state": "SUGGESTED"}
    details = _details(consumer, conversation, lambda d: suggested in d["dialogs"][0]["participantsDetails"])
    assert details["participants"] == [
        {"id": consumer_id(details), "role": "CONSUMER"}
    ]  # [CC] a suggestion is no participant yet
    ring = second_agent.wait_for_ring(conversation)  # not of its skill: it is the suggested agent
    assert second_agent.answer(ring)["code"] == 200
    taken = _details(consumer, conversation, lambda d: second_agent.agent_id in [p["id"] for p in d["participants"]])
    assert taken["participants"][1] == {"id": second_agent.agent_id, "role": "ASSIGNED_AGENT"}
    assert [p["state"] for p in taken["dialogs"][0]["participantsDetails"]] == ["ACTIVE", "ACTIVE"]


def test_participants_ttr_ettr_csat_delay_and_close_change_the_conversation_and_notify_both_sockets(
    lp_routing_agent: LivePersonRoutingAgent, second_agent: LivePersonRoutingAgent, consumer: Peer, lp_account
) -> None:
    agent = lp_routing_agent
    conversation = _open(consumer, agent.skill)
    _assigned(agent, consumer, conversation)
    manager = {"field": "ParticipantsChange", "type": "ADD", "role": "MANAGER", "userId": second_agent.agent_id}
    assert _fields(agent, conversation, manager)["body"] == "OK Agent added successfully"
    assert {"id": second_agent.agent_id, "role": "MANAGER"} in _details(
        consumer, conversation, lambda d: len(d["participants"]) == 3
    )["participants"]
    assert _fields(agent, conversation, manager)["code"] == 400  # already in
    changes = [
        {"field": "TTRField", "ttrType": "URGENT", "value": 300},
        {"field": "ManualETTR", "time": 1_800_000_000_000},
        {"field": "CSATRate", "csatRate": 4, "csatResolutionConfirmation": True, "status": "FILLED"},
        {"field": "DelayField", "type": "NIGHT", "tillWhen": 1_800_000_000_000},
    ]
    answer = _fields(agent, conversation, *changes)
    assert (answer["code"], answer["body"]) == (200, {})
    details = _details(consumer, conversation, lambda d: d["ttr"]["ttrType"] == "URGENT")
    assert (details["ttr"], details["manualETTR"], details["delay"]) == (
        {"ttrType": "URGENT", "value": 300},
        1_800_000_000_000,
        {"type": "NIGHT", "tillWhen": 1_800_000_000_000},
    )
    assert details["csat"] == {"csatRate": 4, "status": "FILLED", "csatResolutionConfirmation": True}
    for bad in (
        {"field": "TTRField", "ttrType": "SOON", "value": 1},
        {"field": "CSATRate", "csatRate": 9, "status": "FILLED"},
        {"field": "Note", "note": "x"},
        {"field": "ParticipantsChange", "type": "ADD", "role": "OWNER"},
    ):
        assert _fields(agent, conversation, bad)["code"] == 400, bad
    removed = _fields(agent, conversation, {**manager, "type": "REMOVE"})
    assert removed["body"] == "OK Agent removed successfully"
    close = {"field": "DialogChange", "type": "UPDATE", "dialog": {"dialogId": conversation, "state": "CLOSE"}}
    assert _fields(agent, conversation, close)["body"] == "OK Conversation resolved successfully"
    closed = _details(consumer, conversation, lambda d: d["state"] == "CLOSE")
    assert (closed["closeReason"], closed["dialogs"][0]["closedBy"], closed["stage"]) == ("AGENT", "AGENT", "CLOSE")
    assert (
        _fields(agent, conversation, {"field": "TTRField", "ttrType": "URGENT", "value": 1})["body"]["msg"]
        == f"conversation {conversation} is closed"
    )


def test_the_consumer_asks_for_urgency_and_rates_and_the_agent_is_told(
    lp_routing_agent: LivePersonRoutingAgent, assigned: str, consumer: Peer
) -> None:
    agent = lp_routing_agent
    agent.socket.call(".ams.aam.SubscribeExConversations", {"convState": ["OPEN"]})
    agent.socket.push(CONVERSATIONS, lambda body: bool(body["changes"]))
    fields = [
        {"field": "TTRField", "ttrType": "URGENT", "value": 60},
        {"field": "CSATRate", "csatRate": 5, "status": "FILLED"},
    ]
    answer = consumer.call("cm.UpdateConversationField", {"conversationId": assigned, "conversationField": fields})
    assert (answer["code"], answer["body"]) == (200, {})
    told = agent.socket.push(
        CONVERSATIONS, lambda body: body["changes"][0]["result"]["conversationDetails"]["ttr"]["ttrType"] == "URGENT"
    )
    details = told["body"]["changes"][0]["result"]["conversationDetails"]
    assert details["csat"] == {"csatRate": 5, "status": "FILLED", "csatResolutionConfirmation": False}
    join = {"field": "ParticipantsChange", "type": "ADD", "role": "MANAGER"}
    refused = consumer.call("cm.UpdateConversationField", {"conversationId": assigned, "conversationField": [join]})
    assert (refused["code"], refused["body"]["msg"]) == (
        400,
        "the consumer may change only ConversationStateField, DialogChange, TTRField, CSATRate",
    )
    close = {
        "field": "DialogChange",
        "type": "UPDATE",
        "dialog": {"dialogId": assigned, "state": "CLOSE", "closedCause": "Closed by consumer"},
    }
    assert (
        consumer.call("cm.UpdateConversationField", {"conversationId": assigned, "conversationField": [close]})["body"]
        == "OK Conversation resolved successfully"
    )
    closed = agent.socket.push(CONVERSATIONS, lambda body: body["changes"][0]["type"] == "DELETE")["body"]["changes"][
        0
    ]["result"]
    assert closed["conversationDetails"]["closeReason"] == "CONSUMER"


def test_subscription_filters_skill_ids_and_min_last_updated_time(
    lp_routing_agent: LivePersonRoutingAgent, consumer: Peer, emulator_clock
) -> None:
    agent = lp_routing_agent
    conversation = _open(consumer, agent.skill)
    started = _details(consumer, conversation)["startTs"]

    def first(body: dict) -> list[str]:
        subscription = agent.socket.call(".ams.aam.SubscribeExConversations", body)["body"]["subscriptionId"]
        pushed = agent.socket.push(CONVERSATIONS, lambda b: b["subscriptionId"] == subscription)
        return [change["result"]["convId"] for change in pushed["body"]["changes"]]

    assert first({"skillIds": [agent.skill]}) == [conversation]
    assert first({"skillIds": ["1"]}) == []
    assert first({"minLastUpdatedTime": started}) == [conversation]
    assert first({"minLastUpdatedTime": started + 1}) == []
    assert agent.socket.call(".ams.aam.SubscribeExConversations", {"skillIds": "1"})["code"] == 400


def _const_requests() -> list[str]:
    if not CONST_JS.is_file():
        pytest.fail(f"node-agent-sdk is not installed at {CONST_JS} (npm ci --prefix tests/node)")
    text = CONST_JS.read_text()
    block = text[text.index("REQUESTS: [") : text.index("]", text.index("REQUESTS: ["))]
    return re.findall(r"'([^']+)'", block)


def test_every_request_type_of_node_agent_sdk_is_answered_or_refused_with_a_reason(
    lp_routing_agent: LivePersonRoutingAgent,
) -> None:
    kinds = _const_requests()
    assert len(kinds) == 15 and ".ams.routing.UpdateRingState" in kinds  # 1.2.0's list
    for kind in kinds:
        answer = lp_routing_agent.socket.call(kind, {})
        assert answer["kind"] == "resp" and isinstance(answer["code"], int), answer
        if answer["code"] >= 400:
            assert isinstance(answer["body"]["msg"], str) and "unknown request type" not in answer["body"]["msg"], (
                kind,
                answer,
            )


FIELD_NAMES = st.sampled_from(
    ["ParticipantsChange", "Skill", "TTRField", "ManualETTR", "CSATRate", "DelayField", "Note", "DialogChange", "Nope"]
)
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-2, 400)
    | st.sampled_from(
        [
            "ADD",
            "REMOVE",
            "SUGGEST",
            "UPDATE",
            "MANAGER",
            "READER",
            "ASSIGNED_AGENT",
            "URGENT",
            "FILLED",
            "NIGHT",
            "12",
            "x",
        ]
    )
)
FIELD = st.fixed_dictionaries(
    {"field": FIELD_NAMES},
    optional={
        key: VALUES
        for key in ("type", "role", "skill", "ttrType", "value", "time", "csatRate", "status", "tillWhen", "userId")
    },
)
RING_BODIES = st.fixed_dictionaries({}, optional={"ringId": VALUES, "ringState": VALUES})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(FIELD, min_size=1, max_size=3), ring=RING_BODIES)
def test_field_changes_and_ring_answers_are_answered_and_a_refused_one_changes_nothing(
    lp_routing_agent: LivePersonRoutingAgent,
    assigned: str,
    emulator_tls_server: EmulatorHandle,
    fields: list[dict],
    ring: dict,
) -> None:
    for kind, body in (
        (".ams.cm.UpdateConversationField", {"conversationId": assigned, "conversationField": fields}),
        (".ams.routing.UpdateRingState", ring),
    ):
        before = state_of(emulator_tls_server)
        answer = lp_routing_agent.socket.call(kind, body)
        assert answer["code"] in (200, 400, 404), answer
        if answer["code"] != 200:
            assert isinstance(answer["body"]["msg"], str)
            assert state_of(emulator_tls_server) == before, (kind, body, answer)


@pytest.fixture
def assigned(lp_routing_agent: LivePersonRoutingAgent, consumer: Peer) -> str:
    """A conversation of the agent's skill, assigned to it."""
    conversation = _open(consumer, lp_routing_agent.skill)
    _assigned(lp_routing_agent, consumer, conversation)
    return conversation


def test_an_export_from_before_routing_keeps_its_agents_as_assigned_agents() -> None:
    from emulator.providers.liveperson.models import Conversation

    earlier = {"id": "c1", "consumer_id": "u1", "started_at": 1.0, "agent_ids": ["pid-1"]}
    restored = Conversation.model_validate(earlier)
    assert [(p.id, p.role, p.state) for p in restored.participants] == [("pid-1", "ASSIGNED_AGENT", "ACTIVE")]
    assert restored.assigned_agent() == "pid-1" and "agent_ids" not in restored.model_dump()
