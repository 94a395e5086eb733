"""LivePerson Connector API (reference sections 6.1 to 6.4): CONVERSATION and SEND with an AppJWT and a
ConsumerJWS, the 401 table, and the 400 envelope the emulator chose for every other refusal [I]."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import requests
from flask import Flask

from emulator.providers.liveperson import notifications
from emulator.providers.liveperson.conversations import Change
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, LivePersonConsumerJws, issue_lp_app_jwt

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
T0 = "2026-03-01T12:00:00Z"
NOW_MS = 1_772_366_400_000
V3 = {"v": "3"}
SDES = [
    {"type": "ctmrinfo", "info": {"socialId": "1234567890", "ctype": "vip"}},
    {"type": "personal", "personal": {"firstname": "John", "lastname": "Doe", "gender": "MALE"}},
]
PROFILE = {
    "kind": "req",
    "id": "1,",
    "type": "userprofile.SetUserProfile",
    "body": {"authenticatedData": {"lp_sdes": SDES}},
}
CLOSE_FIELD = {"field": "ConversationStateField", "conversationState": "CLOSE"}
TOO_DEEP = json.loads("[" * 40 + "]" * 40)


def request_conversation(account_id: str, req_id: object = "2,") -> dict:
    """The doc's `cm.ConsumerRequestConversation` entry."""
    return {
        "kind": "req",
        "id": req_id,
        "type": "cm.ConsumerRequestConversation",
        "body": {
            "brandId": account_id,
            "channelType": "MESSAGING",
            "ttrDefName": "NORMAL",
            "skillId": "-1",
            "campaignInfo": {"campaignId": "99999", "engagementId": "888888"},
            "conversationContext": {
                "visitorId": "v1",
                "sessionId": "s1",
                "interactionContextId": "2",
                "type": "SharkContext",
                "lang": "en-US",
            },
        },
    }


def text(dialog_id: str, message: str = "hi", req_id: object = "1") -> dict:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": message}
    return {"kind": "req", "id": req_id, "type": "ms.PublishEvent", "body": {"dialogId": dialog_id, "event": event}}


def event(dialog_id: str, published: dict, req_id: object = "1") -> dict:
    return {"kind": "req", "id": req_id, "type": "ms.PublishEvent", "body": {"dialogId": dialog_id, "event": published}}


def close_req(conversation_id: str, req_id: object = 1) -> dict:
    return {
        "kind": "req",
        "id": req_id,
        "type": "cm.UpdateConversationField",
        "body": {"conversationId": conversation_id, "conversationField": CLOSE_FIELD},
    }


def conversation_path(account_id: str) -> str:
    return f"/api/account/{account_id}/messaging/consumer/conversation"


def send_path(account_id: str) -> str:
    return conversation_path(account_id) + "/send"


def post(
    handle: EmulatorHandle,
    path: str,
    body: Any = None,
    headers: dict | None = None,
    params: dict | None = V3,
    data: bytes | None = None,
):
    if data is None and body is not None:
        data = json.dumps(body).encode()
    return handle.post(path, data=data, headers={"Content-Type": "application/json", **(headers or {})}, params=params)


def create(jws: LivePersonConsumerJws, body: Any = None, **kwargs: Any):
    account = jws.app_jwt.account
    body = [PROFILE, request_conversation(account.id)] if body is None else body
    return post(
        account.handle, conversation_path(account.id), body, {**jws.headers(), **kwargs.pop("headers", {})}, **kwargs
    )


def send(jws: LivePersonConsumerJws, body: Any, **kwargs: Any):
    account = jws.app_jwt.account
    return post(account.handle, send_path(account.id), body, {**jws.headers(), **kwargs.pop("headers", {})}, **kwargs)


def open_conversation(jws: LivePersonConsumerJws) -> str:
    reply = create(jws)
    assert reply.status == 200, reply.text
    return reply.json()[1]["body"]["conversationId"]


def error_body(code: int, title: str, details: str, error_code: int) -> dict:
    return {
        "kind": "resp",
        "code": code,
        "body": {"title": title, "details": details, "errorCode": error_code},
        "type": ".ReqBody$ErrorResp",
    }


def assert_refused(reply, status: int, details: str | None = None, reason: str | None = None) -> dict:
    assert reply.status == status, reply.text
    body = reply.json()
    assert set(body) == {"kind", "code", "body", "type"} and (body["kind"], body["code"], body["type"]) == (
        "resp",
        status,
        ".ReqBody$ErrorResp",
    ), body
    assert set(body["body"]) == {"title", "details", "errorCode"}, body
    if status != 401:
        assert body["body"]["errorCode"] == status * 100
        assert body["body"]["title"] == {400: "Bad Request", 404: "Not Found"}[status]
    if details is not None:
        assert body["body"]["details"] == details
    if reason is not None:
        assert reply.headers["X-Emulator-Reason"] == reason
    return body


def lp_state(handle: EmulatorHandle) -> dict:
    return handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]


def account_state(handle: EmulatorHandle, account_id: str) -> dict:
    return lp_state(handle)["accounts"][account_id]


def b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


# --- the whole flow, in-process and over HTTP --------------------------------------------------------


@pytest.fixture
def emulator_backend(request: pytest.FixtureRequest) -> EmulatorHandle:
    """In-process unless a test asks for `emulator_server` (indirect parametrization)."""
    return request.getfixturevalue(getattr(request, "param", "emulator"))


def _in_process(handle: EmulatorHandle) -> Callable[[str, Any, dict], tuple[int, Any]]:
    def call(path: str, body: Any, headers: dict) -> tuple[int, Any]:
        reply = handle.post(path, json=body, headers=headers, params=V3)
        return reply.status, reply.json()

    return call


def _over_http(handle: EmulatorHandle) -> Callable[[str, Any, dict], tuple[int, Any]]:
    def call(path: str, body: Any, headers: dict) -> tuple[int, Any]:
        # no namespace header: the account in the path routes the request to the test's namespace
        reply = requests.post(handle.base_url + path, params=V3, json=body, headers=headers, timeout=10)
        assert reply.headers["Content-Type"] == "application/json"
        return reply.status_code, reply.json()

    return call


@pytest.mark.emulator_time(T0)
@pytest.mark.parametrize("emulator_backend", ["emulator", "emulator_server"], indirect=True)
def test_whole_flow(
    emulator_backend: EmulatorHandle, lp_account: LivePersonAccount, lp_consumer_jws: LivePersonConsumerJws
) -> None:
    call = _over_http(emulator_backend) if emulator_backend.base_url else _in_process(emulator_backend)
    headers = lp_consumer_jws.headers()
    status, answers = call(conversation_path(lp_account.id), [PROFILE, request_conversation(lp_account.id)], headers)
    assert status == 200, answers
    conversation_id = answers[1]["body"]["conversationId"]
    assert UUID.fullmatch(conversation_id)
    assert answers == [
        {"code": "OK", "body": {"msg": "OK User Profile set successfully"}, "reqId": "1,"},
        {"code": "OK", "body": {"conversationId": conversation_id}, "reqId": "2,"},
    ]
    to_send = send_path(lp_account.id)
    assert call(to_send, text(conversation_id, "hi"), headers) == (
        200,
        {"reqId": "1", "code": "OK", "body": {"sequence": 0}},
    )
    assert call(to_send, text(conversation_id, "again", req_id="b"), headers) == (
        200,
        {"reqId": "b", "code": "OK", "body": {"sequence": 1}},
    )
    typing = event(conversation_id, {"type": "ChatStateEvent", "chatState": "COMPOSING"}, req_id="t")
    assert call(to_send, typing, headers) == (200, {"reqId": "t", "code": "OK", "body": {}})
    accept = event(conversation_id, {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0, 1]}, req_id=7)
    assert call(to_send, accept, headers) == (200, {"reqId": "7", "code": "OK", "body": {"sequence": 2}})
    assert call(to_send, close_req(conversation_id), headers) == (200, {"reqId": "1", "code": "OK", "body": {}})
    status, refused = call(to_send, text(conversation_id, "late"), headers)
    assert (status, refused) == (
        400,
        error_body(400, "Bad Request", f"conversation {conversation_id} is closed", 40000),
    )

    account = account_state(emulator_backend, lp_account.id)
    assert account["consumers"][lp_consumer_jws.lp_consumer_id] == {
        "consumer_id": lp_consumer_jws.lp_consumer_id,
        "kind": "external",
        "first_seen": NOW_MS / 1000,
        "ext": None,
        "profile": {"lp_sdes": SDES},
    }
    stored = account["conversations"][conversation_id]
    assert (stored["consumer_id"], stored["state"], stored["close_reason"]) == (
        lp_consumer_jws.lp_consumer_id,
        "CLOSE",
        "CONSUMER",
    )
    assert stored["context"]["type"] == "SharkContext" and stored["campaign"] == {
        "campaignId": "99999",
        "engagementId": "888888",
    }
    assert [(e["sequence"], e["role"], e["originator_id"], e["event"]) for e in stored["events"]] == [
        (
            0,
            "CONSUMER",
            lp_consumer_jws.lp_consumer_id,
            {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
        ),
        (
            1,
            "CONSUMER",
            lp_consumer_jws.lp_consumer_id,
            {"type": "ContentEvent", "contentType": "text/plain", "message": "again"},
        ),
        (
            2,
            "CONSUMER",
            lp_consumer_jws.lp_consumer_id,
            {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0, 1]},
        ),
    ]  # the typing state was never stored
    assert {e["server_timestamp"] for e in stored["events"]} == {NOW_MS}


class _Recorder:
    """A listener as a socket registers one: it records every change handed to it."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def notify(self, change: Change) -> None:
        self.changes.append(change)


@pytest.fixture
def pushes(emulator_app: Flask, emulator: EmulatorHandle, lp_account: LivePersonAccount) -> Iterator[list[Change]]:
    """The changes dispatched for `lp_account` during the test (in-process)."""
    recorder = _Recorder()
    with emulator_app.app_context():
        notifications.listeners().add(emulator.namespace, lp_account.id, recorder)
    yield recorder.changes
    with emulator_app.app_context():
        notifications.listeners().remove(emulator.namespace, lp_account.id, recorder)


# --- CONVERSATION ------------------------------------------------------------------------------------


def test_answers_follow_the_requests_ids(lp_account, lp_consumer_jws):
    body = [{**PROFILE, "id": 10}, {**PROFILE, "id": "p2", "body": {}}, request_conversation(lp_account.id, req_id=0)]
    answers = create(lp_consumer_jws, body).json()
    assert [a["reqId"] for a in answers] == ["10", "p2", "0"]
    assert answers[1] == {"code": "OK", "body": {"msg": "OK User Profile set successfully"}, "reqId": "p2"}
    assert UUID.fullmatch(answers[2]["body"]["conversationId"])


def test_profile_only_and_empty_profile(lp_account, lp_consumer_jws, emulator):
    reply = create(lp_consumer_jws, [{**PROFILE, "body": {}}])
    assert reply.status == 200 and reply.json() == [
        {"code": "OK", "body": {"msg": "OK User Profile set successfully"}, "reqId": "1,"}
    ]
    consumer = account_state(emulator, lp_account.id)["consumers"][lp_consumer_jws.lp_consumer_id]
    assert (consumer["kind"], consumer["profile"]) == ("external", {})
    assert account_state(emulator, lp_account.id)["conversations"] == {}


def test_the_conversation_request_needs_a_profile_first(lp_account, lp_consumer_jws, emulator):
    before = lp_state(emulator)
    for body in ([request_conversation(lp_account.id)], [request_conversation(lp_account.id), PROFILE]):
        reply = create(lp_consumer_jws, body)
        assert_refused(
            reply, 400, "userprofile.SetUserProfile must come before cm.ConsumerRequestConversation", "profile_not_set"
        )
    assert lp_state(emulator) == before
    # a profile set by an earlier call counts
    assert create(lp_consumer_jws, [PROFILE]).status == 200
    reply = create(lp_consumer_jws, [request_conversation(lp_account.id)])
    assert reply.status == 200 and UUID.fullmatch(reply.json()[0]["body"]["conversationId"])


def test_profiles_merge_and_are_shown_with_the_conversation(lp_account, lp_consumer_jws, emulator, pushes):
    seen = pushes
    other = [{"type": "personal", "personal": {"firstname": "Jane"}}]
    second = {**PROFILE, "id": "again", "body": {"authenticatedData": {"lp_sdes": other}}}
    create(lp_consumer_jws, [PROFILE, second, request_conversation(lp_account.id)])
    assert account_state(emulator, lp_account.id)["consumers"][lp_consumer_jws.lp_consumer_id]["profile"] == {
        "lp_sdes": other
    }
    assert [change.conversation["consumerProfile"]["lp_sdes"] for change in seen] == [other]


def test_a_second_open_conversation_is_refused(lp_account, lp_consumer_jws, emulator):
    first = open_conversation(lp_consumer_jws)
    before = lp_state(emulator)
    changed_profile = {
        **PROFILE,
        "body": {"authenticatedData": {"lp_sdes": [{"type": "ctmrinfo", "info": {"ctype": "gold"}}]}},
    }
    reply = create(lp_consumer_jws, [changed_profile, request_conversation(lp_account.id)])
    assert_refused(reply, 400, "consumer already has an open conversation", "messaging_refused")
    assert lp_state(emulator) == before  # the profile set before the refused request is rolled back
    assert send(lp_consumer_jws, close_req(first)).status == 200
    second = open_conversation(lp_consumer_jws)
    assert second != first


def test_two_conversation_requests_in_one_call_are_refused(lp_account, lp_consumer_jws, emulator):
    before = lp_state(emulator)
    reply = create(
        lp_consumer_jws, [PROFILE, request_conversation(lp_account.id), request_conversation(lp_account.id, "3")]
    )
    assert_refused(reply, 400, "at most one cm.ConsumerRequestConversation per call", "repeated_request_conversation")
    assert lp_state(emulator) == before


@pytest.mark.parametrize(
    "bad_request, details",
    [
        ({"brandId": "1"}, "brandId 1 is not this account"),
        ({"skillId": ["x"]}, "skillId must be a string"),
        ({"conversationContext": "x"}, "conversationContext and campaignInfo must be objects"),
    ],
)
def test_a_valid_profile_then_a_bad_conversation_request_changes_nothing(
    lp_account, lp_consumer_jws, emulator, bad_request, details
):
    before = lp_state(emulator)
    bad = request_conversation(lp_account.id)
    bad["body"] = {**bad["body"], **bad_request}
    assert_refused(create(lp_consumer_jws, [PROFILE, bad]), 400, details, "messaging_refused")
    assert lp_state(emulator) == before


def test_a_bad_profile_after_a_good_one_changes_nothing(lp_account, lp_consumer_jws, emulator):
    before = lp_state(emulator)
    bad = {**PROFILE, "id": "2", "body": {"authenticatedData": {"lp_sdes": [{"no": "type"}]}}}
    reply = create(lp_consumer_jws, [PROFILE, bad, request_conversation(lp_account.id, "3")])
    assert_refused(reply, 400, "lp_sdes must be a list of objects with a type", "messaging_refused")
    assert lp_state(emulator) == before


def test_client_properties_header(lp_account, lp_consumer_jws, emulator):
    properties = json.dumps({"type": ".ClientProperties", "features": ["AUTO_MESSAGES"]})
    assert create(lp_consumer_jws, headers={"Client-Properties": properties}).status == 200
    before = lp_state(emulator)
    for malformed in ("{nope", "[1]", '"x"', "", "[" * 3000):  # the last: nested deeper than Python's stack
        reply = create(lp_consumer_jws, [PROFILE], headers={"Client-Properties": malformed})
        assert_refused(reply, 400, "Client-Properties must be a JSON object", "bad_client_properties")
    assert lp_state(emulator) == before


@pytest.mark.parametrize("params", [None, {"v": "2"}, {"v": "3.0"}, {"v": ""}])
def test_only_version_3_is_served(lp_consumer_jws, params):
    assert_refused(create(lp_consumer_jws, params=params), 400, "unsupported version: use v=3", "unsupported_version")
    assert_refused(
        send(lp_consumer_jws, text("x"), params=params), 400, "unsupported version: use v=3", "unsupported_version"
    )


MALFORMED_ARRAYS = [
    (b"{nope", "request body is not valid JSON", "malformed_json"),
    (b"\xff\xfe[]", "request body is not valid JSON", "malformed_json"),
    (b"", "request body is required", "missing_body"),
    (b"[]", "request body must be a non-empty JSON array of requests", "body_not_array"),
    (b"{}", "request body must be a non-empty JSON array of requests", "body_not_array"),
    (b"null", "request body is required", "missing_body"),
    (b"[1]", "a request must be a JSON object", "request_not_object"),
    (
        b'[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{}}, "x"]',
        "a request must be a JSON object",
        "request_not_object",
    ),
    (b'[{"id":"1","type":"userprofile.SetUserProfile","body":{}}]', 'kind must be "req"', "bad_kind"),
    (b'[{"kind":"resp","id":"1","type":"userprofile.SetUserProfile","body":{}}]', 'kind must be "req"', "bad_kind"),
    (
        b'[{"kind":"req","type":"userprofile.SetUserProfile","body":{}}]',
        "id is required (a string or an integer)",
        "bad_id",
    ),
    (
        b'[{"kind":"req","id":true,"type":"userprofile.SetUserProfile","body":{}}]',
        "id is required (a string or an integer)",
        "bad_id",
    ),
    (
        b'[{"kind":"req","id":1.5,"type":"userprofile.SetUserProfile","body":{}}]',
        "id is required (a string or an integer)",
        "bad_id",
    ),
    (
        b'[{"kind":"req","id":"1","type":"ms.PublishEvent","body":{}}]',
        "unsupported type: ms.PublishEvent",
        "unknown_type",
    ),
    (b'[{"kind":"req","id":"1","body":{}}]', "unsupported type: null", "unknown_type"),
    (b'[{"kind":"req","id":"1","type":["x"],"body":{}}]', 'unsupported type: ["x"]', "unknown_type"),
    (
        b'[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":[]}]',
        "body must be a JSON object",
        "body_not_object",
    ),
    (
        b'[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{"authenticatedData":1}}]',
        "authenticatedData must be an object",
        "messaging_refused",
    ),
    (
        b'[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{"x":NaN}}]',
        "numbers must be finite",
        "unstorable_json",
    ),
    (
        b'[{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{"x":1e400}}]',
        "numbers must be finite",
        "unstorable_json",
    ),
    (
        b'[{"kind":"req","id":"\\ud800","type":"userprofile.SetUserProfile","body":{}}]',
        "strings must be valid Unicode",
        "unstorable_json",
    ),
    (
        json.dumps([{**PROFILE, "body": {"x": TOO_DEEP}}]).encode(),
        "request body is nested deeper than 32 levels",
        "unstorable_json",
    ),
    (b"[" * 5000 + b"]" * 5000, "request body is not valid JSON", "malformed_json"),
    (json.dumps([PROFILE] * 21).encode(), "at most 20 requests per call", "too_many_requests"),
]


@pytest.mark.parametrize("raw, details, reason", MALFORMED_ARRAYS)
def test_malformed_conversation_arrays_are_400(lp_account, lp_consumer_jws, emulator, raw, details, reason):
    before = lp_state(emulator)
    assert_refused(create(lp_consumer_jws, data=raw), 400, details, reason)
    assert lp_state(emulator) == before


def test_a_body_past_the_limit_is_413_in_the_connector_envelope(lp_account, lp_consumer_jws, emulator):
    reply = create(lp_consumer_jws, data=b"[" + b" " * (4 * 1024 * 1024) + b"]")
    assert (reply.status, reply.json()) == (
        413,
        {
            "kind": "resp",
            "code": 413,
            "type": ".ReqBody$ErrorResp",
            "body": {
                "title": "Request Entity Too Large",
                "details": "Request body is larger than 4MB",
                "errorCode": 41300,
            },
        },
    )


def test_unknown_account_is_an_invalid_site(emulator, lp_consumer_jws):
    for path in (conversation_path("1"), send_path("1")):
        reply = post(emulator, path, [PROFILE], lp_consumer_jws.headers())
        assert reply.status == 401 and reply.json()["error"]["message"] == "invalid site"


def test_get_is_not_allowed(lp_account, lp_consumer_jws):
    reply = lp_account.handle.get(conversation_path(lp_account.id), params=V3, headers=lp_consumer_jws.headers())
    assert reply.status == 405 and reply.json()["type"] == ".ReqBody$ErrorResp"
    assert reply.json()["body"]["errorCode"] == 40500


# --- SEND --------------------------------------------------------------------------------------------


def test_sequences_count_up_without_typing(lp_account, lp_consumer_jws):
    conversation_id = open_conversation(lp_consumer_jws)
    answers = []
    for index in range(3):
        answers.append(send(lp_consumer_jws, text(conversation_id, f"m{index}")).json()["body"])
        for state in ("COMPOSING", "PAUSE", "ACTIVE", "INACTIVE", "GONE"):
            typing = send(lp_consumer_jws, event(conversation_id, {"type": "ChatStateEvent", "chatState": state}))
            assert typing.json() == {"reqId": "1", "code": "OK", "body": {}}
    assert answers == [{"sequence": 0}, {"sequence": 1}, {"sequence": 2}]


@pytest.mark.parametrize("status", ["ACCEPT", "READ", "ACCESS", "NACK", "ACTION"])
def test_accept_statuses_get_a_sequence(lp_account, lp_consumer_jws, status):
    conversation_id = open_conversation(lp_consumer_jws)
    send(lp_consumer_jws, text(conversation_id))
    reply = send(
        lp_consumer_jws, event(conversation_id, {"type": "AcceptStatusEvent", "status": status, "sequenceList": [0]})
    )
    assert reply.json() == {"reqId": "1", "code": "OK", "body": {"sequence": 1}}


def test_close_then_close_again_and_send(lp_account, lp_consumer_jws, emulator):
    conversation_id = open_conversation(lp_consumer_jws)
    listed = {
        **close_req(conversation_id, "c"),
        "body": {"conversationId": conversation_id, "conversationField": [CLOSE_FIELD]},
    }
    assert send(lp_consumer_jws, listed).json() == {"reqId": "c", "code": "OK", "body": {}}
    stored = account_state(emulator, lp_account.id)["conversations"][conversation_id]
    assert (stored["state"], stored["close_reason"]) == ("CLOSE", "CONSUMER")
    before = lp_state(emulator)
    assert_refused(
        send(lp_consumer_jws, close_req(conversation_id)),
        400,
        f"conversation {conversation_id} is already closed",
        "messaging_refused",
    )
    assert_refused(
        send(lp_consumer_jws, text(conversation_id)),
        400,
        f"conversation {conversation_id} is closed",
        "messaging_refused",
    )
    assert lp_state(emulator) == before


def test_another_consumers_conversation_does_not_exist_for_it(lp_account, lp_consumer_jws, emulator):
    conversation_id = open_conversation(lp_consumer_jws)
    other = lp_consumer_jws.app_jwt.issue_consumer_jws()
    before = lp_state(emulator)
    assert_refused(
        send(other, text(conversation_id)), 404, f"conversation {conversation_id} not found", "messaging_refused"
    )
    assert_refused(
        send(other, close_req(conversation_id)), 404, f"conversation {conversation_id} not found", "messaging_refused"
    )
    assert lp_state(emulator) == before
    assert send(lp_consumer_jws, text(conversation_id)).json()["body"] == {"sequence": 0}


def test_the_same_ext_consumer_id_is_the_same_consumer(lp_account, lp_consumer_jws):
    conversation_id = open_conversation(lp_consumer_jws)
    again = lp_consumer_jws.app_jwt.issue_consumer_jws(lp_consumer_jws.ext_consumer_id)
    assert again.token != lp_consumer_jws.token
    assert send(again, text(conversation_id)).json()["body"] == {"sequence": 0}


def test_a_consumer_jws_of_another_app_of_the_account_works(lp_account, lp_consumer_jws, emulator):
    state = account_state(emulator, lp_account.id)
    apps = [*state["apps"], {"client_id": "second-app", "client_secret": "second-secret"}]
    emulator.control.seed({"liveperson": {"accounts": [{**state, "apps": apps}]}})
    second = issue_lp_app_jwt(lp_account, "second-app", "second-secret")
    conversation_id = open_conversation(lp_consumer_jws)
    reply = send(lp_consumer_jws, text(conversation_id), headers=second.headers())
    assert reply.json()["body"] == {"sequence": 0}


SEND_REFUSALS = [
    (b"[]", "a request must be a JSON object", "request_not_object"),
    (b'"x"', "a request must be a JSON object", "request_not_object"),
    (b"{nope", "request body is not valid JSON", "malformed_json"),
    (b"", "request body is required", "missing_body"),
    (
        b'{"kind":"req","id":"1","type":"cm.ConsumerRequestConversation","body":{}}',
        "unsupported type: cm.ConsumerRequestConversation",
        "unknown_type",
    ),
    (b'{"kind":"req","id":{},"type":"ms.PublishEvent","body":{}}', "id is required (a string or an integer)", "bad_id"),
    (
        b'{"kind":"req","id":"1","type":"ms.PublishEvent","body":{}}',
        "dialogId is required (a string)",
        "missing_dialog_id",
    ),
    (
        b'{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":5}}',
        "dialogId is required (a string)",
        "missing_dialog_id",
    ),
    (b'{"kind":"req","id":"1","type":"ms.PublishEvent","body":"x"}', "body must be a JSON object", "body_not_object"),
    (
        b'{"kind":"req","id":"1","type":"cm.UpdateConversationField","body":{}}',
        "conversationId is required (a string)",
        "missing_conversation_id",
    ),
]


@pytest.mark.parametrize("raw, details, reason", SEND_REFUSALS)
def test_malformed_send_bodies_are_400(lp_account, lp_consumer_jws, emulator, raw, details, reason):
    open_conversation(lp_consumer_jws)
    before = lp_state(emulator)
    assert_refused(send(lp_consumer_jws, None, data=raw), 400, details, reason)
    assert lp_state(emulator) == before


@pytest.mark.parametrize(
    "published, details",
    [
        (None, "event must be an object"),
        ({"type": "ContentEvent"}, "ContentEvent.message must be a string"),
        ({"type": "ContentEvent", "message": "x" * 10_001}, "ContentEvent.message is longer than 10000 characters"),
        (
            {"type": "ChatStateEvent", "chatState": "SLEEPING"},
            "ChatStateEvent.chatState must be one of ACTIVE, INACTIVE, GONE, COMPOSING, PAUSE",
        ),
        (
            {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [5]},
            "AcceptStatusEvent.sequenceList must list sequences of the conversation",
        ),
        (
            {"type": "AcceptStatusEvent", "status": "SEEN", "sequenceList": [0]},
            "AcceptStatusEvent.status must be one of ACCEPT, READ, ACCESS, NACK, ACTION",
        ),
        ({"type": "Nope"}, "unknown event type: Nope"),
    ],
)
def test_bad_events_are_400(lp_account, lp_consumer_jws, emulator, published, details):
    conversation_id = open_conversation(lp_consumer_jws)
    before = lp_state(emulator)
    assert_refused(send(lp_consumer_jws, event(conversation_id, published)), 400, details, "messaging_refused")
    assert lp_state(emulator) == before


@pytest.mark.parametrize(
    "field",
    [
        None,
        [],
        {"field": "ConversationStateField", "conversationState": "OPEN"},
        {"field": "TTRField", "ttrType": "URGENT"},
        [{"field": "ConversationStateField", "conversationState": "CLOSE"}, "x"],
    ],
)
def test_only_closing_fields_are_taken(lp_account, lp_consumer_jws, field):
    conversation_id = open_conversation(lp_consumer_jws)
    body = {
        "kind": "req",
        "id": "1",
        "type": "cm.UpdateConversationField",
        "body": {"conversationId": conversation_id, "conversationField": field},
    }
    details = 'conversationField must be {"field": "ConversationStateField", "conversationState": "CLOSE"}'
    assert_refused(send(lp_consumer_jws, body), 400, details, "unsupported_field")


def test_an_unknown_conversation_is_404(lp_consumer_jws):
    assert_refused(send(lp_consumer_jws, text("nope")), 404, "conversation nope not found", "messaging_refused")


# --- authentication: the 401 table of section 6.4 ----------------------------------------------------

APP_JWT_MISSING = error_body(401, "AppJWT is missing", "AUTHORIZATION header is not present", 40105)
CONSUMER_JWS_MISSING = error_body(401, "ConsumerJWS is missing", "X_ON_BEHALF_HEADER is not present", 40104)
APP_JWT_INVALID = error_body(401, "Invalid AppJWT", "AppJWT has expired or is invalid", 40102)
CONSUMER_JWS_INVALID = error_body(401, "Invalid ConsumerJWS", "ConsumerJWS is invalid", 40103)
MISSING_PARAMETER = error_body(401, "Missing parameter", "Brand Id is missing", 40001)


def both_routes(jws: LivePersonConsumerJws, headers: dict) -> list:
    """The same credentials on CONVERSATION and on SEND (whose body would be fine)."""
    account = jws.app_jwt.account
    return [
        post(account.handle, conversation_path(account.id), [PROFILE, request_conversation(account.id)], headers),
        post(account.handle, send_path(account.id), text("whatever"), headers),
    ]


def assert_both_refused(jws: LivePersonConsumerJws, headers: dict, expected: dict, reason: str) -> None:
    handle = jws.app_jwt.account.handle
    before = lp_state(handle)
    for reply in both_routes(jws, headers):
        assert (reply.status, reply.json()) == (401, expected), reply.text
        assert reply.headers["X-Emulator-Reason"] == reason
    assert lp_state(handle) == before


@pytest.mark.parametrize(
    "authorization, on_behalf, expected, reason",
    [
        (None, None, APP_JWT_MISSING, "missing_app_jwt"),
        (None, "jws", APP_JWT_MISSING, "missing_app_jwt"),
        ("", "jws", APP_JWT_MISSING, "missing_app_jwt"),
        ("Bearer ", "jws", APP_JWT_MISSING, "missing_app_jwt"),
        ("garbage", "jws", APP_JWT_INVALID, "malformed"),
        ("garbage", None, APP_JWT_INVALID, "malformed"),  # the AppJWT is checked first
        ("a.b.c", "jws", APP_JWT_INVALID, "malformed"),
        ("jws", "jws", MISSING_PARAMETER, "missing_claim"),  # a ConsumerJWS lacks the AppJWT's claims
        ("app", None, CONSUMER_JWS_MISSING, "missing_consumer_jws"),
        ("app", "  ", CONSUMER_JWS_MISSING, "missing_consumer_jws"),
        ("app", "garbage", CONSUMER_JWS_INVALID, "malformed"),
        ("app", "app", CONSUMER_JWS_INVALID, "missing_claim"),
        ("app", "Bearer jws", CONSUMER_JWS_INVALID, "malformed"),
    ],
)
def test_credential_refusals(lp_consumer_jws, authorization, on_behalf, expected, reason):
    tokens = {"app": lp_consumer_jws.app_jwt.token, "jws": lp_consumer_jws.token}
    headers = {}
    if authorization is not None:
        headers["Authorization"] = tokens.get(authorization, authorization)
    if on_behalf is not None:
        headers["X-LP-ON-BEHALF"] = re.sub(r"\b(app|jws)\b", lambda m: tokens[m[0]], on_behalf)
    assert_both_refused(lp_consumer_jws, headers, expected, reason)


def test_bearer_prefix_on_the_app_jwt_is_tolerated(lp_consumer_jws):
    headers = {**lp_consumer_jws.headers(), "Authorization": f"Bearer {lp_consumer_jws.app_jwt.token}"}
    assert create(lp_consumer_jws, headers=headers).status == 200


def test_expired_app_jwt(lp_consumer_jws, emulator_clock):
    conversation_id = open_conversation(lp_consumer_jws)
    emulator_clock.advance("59m")
    assert send(lp_consumer_jws, text(conversation_id)).status == 200
    emulator_clock.advance("1m")
    assert_both_refused(lp_consumer_jws, lp_consumer_jws.headers(), APP_JWT_INVALID, "expired")


@pytest.mark.lp_account(settings={"consumer_jws_ttl": "10m"})
def test_expired_consumer_jws(lp_consumer_jws, emulator_clock):
    emulator_clock.advance("10m")
    assert_both_refused(lp_consumer_jws, lp_consumer_jws.headers(), CONSUMER_JWS_INVALID, "expired")


def test_revoked_app_jwt(lp_consumer_jws):
    account = lp_consumer_jws.app_jwt.account
    account.handle.control.revoke(account=account.id, client_id=lp_consumer_jws.app_jwt.client_id)
    assert_both_refused(lp_consumer_jws, lp_consumer_jws.headers(), APP_JWT_INVALID, "revoked")
    fresh = issue_lp_app_jwt(account, lp_consumer_jws.app_jwt.client_id, lp_consumer_jws.app_jwt.client_secret)
    assert create(lp_consumer_jws, headers=fresh.headers()).status == 200  # the ConsumerJWS was not touched


def test_revoked_consumer_jws(lp_consumer_jws):
    account = lp_consumer_jws.app_jwt.account
    account.handle.control.revoke(account=account.id, consumer=lp_consumer_jws.lp_consumer_id)
    assert_both_refused(lp_consumer_jws, lp_consumer_jws.headers(), CONSUMER_JWS_INVALID, "revoked")


def test_consumer_jws_of_another_account(lp_consumer_jws, emulator):
    app = {"client_id": "foreign-app", "client_secret": "foreign-secret"}
    emulator.control.seed({"liveperson": {"accounts": [{"id": "86000001", "apps": [app]}]}})
    foreign = issue_lp_app_jwt(
        LivePersonAccount("86000001", "1", 600.0, emulator), app["client_id"], app["client_secret"]
    )
    foreign_jws = foreign.issue_consumer_jws(lp_consumer_jws.ext_consumer_id)
    headers = {**lp_consumer_jws.app_jwt.headers(), "X-LP-ON-BEHALF": foreign_jws.token}
    assert_both_refused(lp_consumer_jws, headers, CONSUMER_JWS_INVALID, "wrong_account")
    # and the foreign AppJWT is not this account's
    assert_both_refused(
        lp_consumer_jws, {**lp_consumer_jws.headers(), **foreign.headers()}, APP_JWT_INVALID, "wrong_audience"
    )


def test_unsigned_consumer_jws(lp_consumer_jws):
    header = jwt.get_unverified_header(lp_consumer_jws.token)
    claims = jwt.decode(lp_consumer_jws.token, options={"verify_signature": False})
    for forged in (
        f"{b64({**header, 'alg': 'none'})}.{b64(claims)}.",
        f"{b64({**header, 'alg': 'HS256'})}.{b64(claims)}.c2ln",
    ):
        headers = {**lp_consumer_jws.headers(), "X-LP-ON-BEHALF": forged}
        reply = both_routes(lp_consumer_jws, headers)[0]
        assert (reply.status, reply.json()) == (401, CONSUMER_JWS_INVALID)


def test_lp_consumer_jwt_is_not_a_consumer_jws(lp_consumer_jws, lp_jwt):
    headers = {**lp_consumer_jws.headers(), "X-LP-ON-BEHALF": lp_jwt}
    assert_both_refused(lp_consumer_jws, headers, CONSUMER_JWS_INVALID, "unknown_key")
    assert_both_refused(
        lp_consumer_jws, {**lp_consumer_jws.headers(), "Authorization": lp_jwt}, APP_JWT_INVALID, "unknown_key"
    )


def test_credentials_are_checked_before_the_version_and_body(lp_account):
    reply = post(lp_account.handle, conversation_path(lp_account.id), params={"v": "9"}, data=b"{nope")
    assert (reply.status, reply.json()) == (401, APP_JWT_MISSING)


# --- pushes ------------------------------------------------------------------------------------------


def test_changes_are_dispatched(lp_account, lp_consumer_jws, pushes):
    seen = pushes
    conversation_id = open_conversation(lp_consumer_jws)
    send(lp_consumer_jws, text(conversation_id))
    send(lp_consumer_jws, event(conversation_id, {"type": "ChatStateEvent", "chatState": "COMPOSING"}))
    send(lp_consumer_jws, close_req(conversation_id))
    send(lp_consumer_jws, text(conversation_id))  # refused: nothing pushed
    assert [(c.conversation["state"], c.event and c.event["sequence"], c.transient) for c in seen] == [
        ("OPEN", None, False),
        ("OPEN", 0, False),
        ("OPEN", -1, True),
        ("CLOSE", None, False),
    ]
    assert {c.consumer_ids for c in seen} == {(lp_consumer_jws.lp_consumer_id,)}
    assert seen[1].event["event"] == {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}
