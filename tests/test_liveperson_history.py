"""Messaging Interactions (reference liveperson-outbound.md section 7): `conversations/search` by start time and
`conversations/conversation/search` by id answer the emulated conversations as history records, with a live
agent bearer, in the documented shape; bad filters are 400 in LivePerson's envelope."""

from __future__ import annotations

import json
import re

import pytest

from emulator.pytest_plugin.liveperson_connector_app import LivePersonConnectorApp

T0 = "2026-03-01T12:00:00Z"
T0_MS = 1772366400000
HOUR_MS = 3600 * 1000
pytestmark = pytest.mark.emulator_time(T0)


def search(account, session, body, tail="/search", **params):
    path = f"/messaging_history/api/account/{account.id}/conversations{tail}"
    return account.handle.post(
        path, json=body, params=params or None, headers={"Authorization": f"Bearer {session.bearer}"}
    )


def around_now() -> dict:
    return {"start": {"from": T0_MS - HOUR_MS, "to": T0_MS + HOUR_MS}}


def test_the_service_is_found_through_csds(lp_account) -> None:
    assert (
        lp_account.handle.get(f"/api/account/{lp_account.id}/service/msgHist/baseURI.json").json()["service"]
        == "msgHist"
    )


def test_a_conversation_with_an_agent_as_a_history_record(lp_unauth_conversation, lp_agent_session) -> None:
    reply = search(lp_unauth_conversation.account, lp_agent_session, around_now())
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["_metadata"]["count"] == 1 and body["_metadata"]["shardsStatusResult"] == {"partialResult": False}
    assert re.fullmatch(
        r"https?://[^/]+/messaging_history/api/account/\d+/conversations/search\?limit=50&offset=0",
        body["_metadata"]["self"]["href"],
    )
    [record] = body["conversationHistoryRecords"]
    info = record["info"]
    assert info["conversationId"] == lp_unauth_conversation.id and info["brandId"] == lp_unauth_conversation.account.id
    assert (info["startTimeL"], info["startTime"], info["endTimeL"], info["endTime"]) == (
        T0_MS,
        "2026-03-01 12:00:00.000+0000",
        -1,
        "undefined",
    )
    assert (info["status"], info["latestQueueState"], info["latestSkillId"], info["isPartial"]) == (
        "OPEN",
        "ACTIVE",
        -1,
        False,
    )
    assert info["latestAgentId"] == lp_agent_session.user_id and info["firstConversation"] is True
    consumer_message, agent_message = record["messageRecords"]
    assert consumer_message == {
        "type": "TEXT_PLAIN",
        "messageData": {"msg": {"text": "Hi, I need help with my order"}},
        "messageId": f"ms::conv:{lp_unauth_conversation.id}::msg:0",
        "seq": 0,
        "dialogId": lp_unauth_conversation.id,
        "participantId": lp_unauth_conversation.consumer.consumer_id,
        "source": "APP",
        "time": "2026-03-01 12:00:00.000+0000",
        "timeL": T0_MS,
        "device": "undefined",
        "sentBy": "Consumer",
    }
    assert (agent_message["sentBy"], agent_message["participantId"], agent_message["seq"]) == (
        "Agent",
        lp_agent_session.user_id,
        1,
    )
    [agent] = record["agentParticipants"]
    assert (agent["agentId"], agent["role"], agent["permission"]) == (
        lp_agent_session.user_id,
        "AGENT",
        "ASSIGNED_AGENT",
    )
    assert record["consumerParticipants"][0]["participantId"] == lp_unauth_conversation.consumer.consumer_id
    assert record["dialogs"][0]["dialogType"] == "MAIN" and record["transfers"] == []


def test_connector_events_map_to_their_history_types(
    lp_connector_app: LivePersonConnectorApp, lp_agent_session
) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    app.say(consumer, conversation, "hello")
    app.send(consumer, conversation, {"type": "RichContentEvent", "content": {"type": "vertical", "elements": []}})
    app.send(consumer, conversation, {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0, 1]})
    app.account.handle.control.advance("5m")
    app.close(consumer, conversation)
    [record] = search(app.account, lp_agent_session, around_now()).json()["conversationHistoryRecords"]
    assert [m["type"] for m in record["messageRecords"]] == ["TEXT_PLAIN", "RICH_CONTENT"]
    assert json.loads(record["messageRecords"][1]["messageData"]["richContent"]["content"]) == {
        "type": "vertical",
        "elements": [],
    }
    assert [s["messageDeliveryStatus"] for s in record["messageStatuses"]] == ["READ", "READ"]
    assert record["messageStatuses"][1]["messageId"].endswith("::msg:1")
    info = record["info"]
    assert (info["status"], info["closeReason"], info["endTimeL"], info["duration"]) == (
        "CLOSE",
        "CONSUMER",
        T0_MS + 300_000,
        300_000,
    )
    assert (info["latestQueueState"], info["latestAgentId"]) == ("IN_QUEUE", "-1")


def test_filters_paging_and_content(lp_connector_app: LivePersonConnectorApp, lp_agent_session) -> None:
    app = lp_connector_app
    first = app.open_conversation(app.consumer())
    app.account.handle.control.advance("50m")  # within the AppJWT's hour
    second_consumer = app.consumer()
    second = app.open_conversation(second_consumer)
    app.close(second_consumer, second)
    wide = {"start": {"from": T0_MS - HOUR_MS, "to": T0_MS + 2 * HOUR_MS}}

    def ids(reply):
        assert reply.status == 200, reply.text
        return [r["info"]["conversationId"] for r in reply.json()["conversationHistoryRecords"]]

    assert ids(search(app.account, lp_agent_session, wide)) == [first, second]
    assert ids(search(app.account, lp_agent_session, wide, sort="start:desc")) == [second, first]
    assert ids(search(app.account, lp_agent_session, {**wide, "status": ["CLOSE"]})) == [second]
    assert ids(search(app.account, lp_agent_session, {"start": {"from": T0_MS - HOUR_MS, "to": T0_MS + 60_000}})) == [
        first
    ]
    assert ids(search(app.account, lp_agent_session, {"start": {"from": str(T0_MS + 30 * 60_000), "to": -1}})) == [
        second
    ]
    paged = search(app.account, lp_agent_session, wide, limit="1", offset="0").json()
    assert paged["_metadata"]["count"] == 2 and len(paged["conversationHistoryRecords"]) == 1
    assert paged["_metadata"]["next"]["href"].endswith("?limit=1&offset=1")
    only_info = search(app.account, lp_agent_session, {**wide, "contentToRetrieve": ["campaign"]}).json()
    assert set(only_info["conversationHistoryRecords"][0]) == {"info"}


def test_by_conversation_id(lp_connector_app: LivePersonConnectorApp, lp_agent_session) -> None:
    app = lp_connector_app
    one, two = app.open_conversation(app.consumer()), app.open_conversation(app.consumer())
    by_one = search(app.account, lp_agent_session, {"conversationId": one}, "/conversation/search", source="tests")
    assert by_one.status == 200 and [
        r["info"]["conversationId"] for r in by_one.json()["conversationHistoryRecords"]
    ] == [one]
    both = search(
        app.account,
        lp_agent_session,
        {"conversationIds": [two, one, "unknown"]},
        "/conversation/search",
        source="tests",
    )
    assert both.json()["_metadata"]["count"] == 2
    assert (
        search(app.account, lp_agent_session, {"conversationId": one}, "/conversation/search").status == 400
    )  # no source


@pytest.mark.parametrize(
    "body, params",
    [
        ({}, {}),  # no start
        ({"start": {"from": T0_MS - 100 * 24 * HOUR_MS, "to": T0_MS}}, {}),  # more than three months
        ({"start": {"from": "soon", "to": T0_MS}}, {}),
        ({"start": {"from": T0_MS, "to": T0_MS - 2 * HOUR_MS}}, {}),
        ({"start": {"from": T0_MS}, "status": ["PENDING"]}, {}),
        ({"start": {"from": T0_MS}, "keyword": "bonus"}, {}),  # a documented filter the emulator does not apply
        ({"start": {"from": T0_MS}}, {"limit": "101"}),
        ({"start": {"from": T0_MS}}, {"sort": "mcs:asc"}),
        ([], {}),
    ],
)
def test_bad_searches_are_400(lp_account, lp_agent_session, body, params) -> None:
    reply = search(lp_account, lp_agent_session, body, **params)
    assert reply.status == 400 and set(reply.json()["error"]) == {"time", "message", "internalCode", "responseStatus"}


def test_a_missing_or_dead_bearer_is_401(lp_account, lp_agent_session) -> None:
    path = f"/messaging_history/api/account/{lp_account.id}/conversations/search"
    assert lp_account.handle.post(path, json=around_now()).status == 401
    lp_agent_session.logout()
    assert search(lp_account, lp_agent_session, around_now()).status == 401
