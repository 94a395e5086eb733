"""Sunshine's private SDK API (reference 3, 4 and "What the emulator must get right" 9): anonymous users
with session tokens, SDK login with an end user's JWT (upgrade, merge, switch, a second install, another
user), logout, and the user's own conversations and messages.

Each outcome is looked at from both sides: the SDK's (`/sdk/v2/apps/{appId}/...`, v1 names: `appUser._id`
is the user id, `userId` the externalId; refusals in the v1 envelope `{"error": {"code", "description"}}`)
and the business's (the v2 REST API with the app key). The namespace's clock is frozen at T0. Webhook events
are read from the journal (method `EVENT`, path = the event type).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_fuzz import header_text, json_values
from test_fuzz_sunshine import (
    BODY_LIMIT,
    PLACEHOLDER,
    TIME_VALUES,
    bearer_token,
    bodies,
    check_reply,
    forgetting,
    garbage_headers,
    garbage_segments,
    is_python_json_object,
    is_strict_json,
    jwt_segments,
    resolve_placeholders,
    times_hold,
)

from emulator.client import Reply
from emulator.providers.sunshine.auth import sign_jwt
from emulator.pytest_plugin import EmulatorHandle, SunshineApp, SunshineSdkUser

T0 = "2026-03-01T00:00:00Z"
STAMP = "2026-03-01T00:00:00.000Z"
EPOCH = 1772323200.0  # T0 in epoch seconds, as the SDK API writes times
HEX_ID = re.compile(r"[0-9a-f]{24}")

pytestmark = pytest.mark.emulator_time(T0)
UserJwt = Callable[..., str]


def v1_error(code: str, description: str) -> dict:
    return {"error": {"code": code, "description": description}}


def sdk_call(
    app: SunshineApp, method: str, tail: str, *, prefix: str = "/sdk/v2", headers: dict | None = None, **kwargs: Any
) -> tuple[int, Any]:
    """One SDK call; every answer is JSON."""
    reply = app.handle.request(method, f"{prefix}/apps/{app.id}/{tail}", headers=headers, **kwargs)
    assert reply.headers["Content-Type"] == "application/json", (reply.status, reply.headers)
    return reply.status, reply.json()


def as_sdk(user: SunshineSdkUser, method: str, tail: str, **kwargs: Any) -> tuple[int, Any]:
    reply = user.request(method, tail, **kwargs)
    assert reply.headers["Content-Type"] == "application/json"
    return reply.status, reply.json()


def v2(app: SunshineApp, method: str, tail: str, **kwargs: Any) -> tuple[int, Any]:
    reply = app.request(method, tail, **kwargs)
    assert reply.headers["Content-Type"] == "application/json"
    return reply.status, reply.json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(user_id: str, token: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user_id}:{token}".encode()).decode()}


def events(app: SunshineApp, event_type: str) -> list[dict]:
    found = []
    for entry in app.handle.control.journal(method="EVENT", path=event_type):
        event = json.loads(entry["request_body"])
        assert event["type"] == event_type and event["createdAt"] == STAMP and HEX_ID.fullmatch(event["id"])
        found.append(event["payload"])
    return found


def create_anonymous(app: SunshineApp, client_id: str | None = None, **body: Any) -> SunshineSdkUser:
    client_id = client_id or secrets.token_hex(16)
    status, answer = sdk_call(app, "POST", "appusers", json={"client": {"id": client_id, "platform": "web"}, **body})
    assert status == 201, answer
    return SunshineSdkUser(app, answer["appUser"]["_id"], client_id, session_token=answer["sessionToken"])


def login(
    app: SunshineApp,
    token: str,
    external_id: str,
    client_id: str,
    anonymous: SunshineSdkUser | None = None,
    prefix: str = "/sdk/v2",
) -> tuple[int, Any]:
    body: dict = {"userId": external_id, "client": {"id": client_id, "platform": "web"}}
    if anonymous is not None:
        body.update(appUserId=anonymous.app_user_id, sessionToken=anonymous.session_token)
    return sdk_call(app, "POST", "login", prefix=prefix, json=body, headers=bearer(token))


def start_conversation_with_message(user: SunshineSdkUser, text: str = "hello") -> str:
    status, answer = as_sdk(user, "POST", f"appusers/{user.app_user_id}/conversations", json={})
    assert status == 201, answer
    conversation_id = answer["conversation"]["_id"]
    status, answer = as_sdk(
        user, "POST", f"conversations/{conversation_id}/messages", json={"message": {"type": "text", "text": text}}
    )
    assert status == 201, answer
    return conversation_id


def v2_conversations(app: SunshineApp, **filters: str) -> list[str]:
    key, value = next(iter(filters.items()))
    status, answer = v2(app, "GET", "conversations", params={f"filter[{key}]": value})
    assert status == 200, answer
    return [c["id"] for c in answer["conversations"]]


def v2_message_texts(app: SunshineApp, conversation_id: str) -> list[tuple[str, str | None, str]]:
    status, answer = v2(app, "GET", f"conversations/{conversation_id}/messages")
    assert status == 200, answer
    return [(m["author"]["type"], m["author"].get("userId"), m["content"]["text"]) for m in answer["messages"]]


def sunshine_state(emulator: EmulatorHandle, app: SunshineApp) -> dict:
    return emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["sunshine"]["apps"][app.id]


# --- anonymous users ------------------------------------------------------------------------------------


def test_an_anonymous_user_is_created_with_a_session_token(sunshine_app: SunshineApp) -> None:
    status, answer = sdk_call(
        sunshine_app,
        "POST",
        "appusers",
        json={
            "client": {"id": "browser-1", "platform": "web", "info": {"sdkVersion": "4.0"}},
            "userId": "",
            "givenName": "Ada",
        },
        headers={"x-smooch-appid": sunshine_app.id, "x-smooch-sdk": "web/zendesk/0.1"},
    )
    assert status == 201
    user_id = answer["appUser"]["_id"]
    assert HEX_ID.fullmatch(user_id) and isinstance(answer["sessionToken"], str) and len(answer["sessionToken"]) >= 32
    assert answer == {
        "appUser": {
            "_id": user_id,
            "givenName": "Ada",
            "signedUpAt": STAMP,
            "authenticated": False,
            "properties": {},
            "conversationStarted": False,
            "clients": [
                {
                    "id": "browser-1",
                    "status": "active",
                    "active": True,
                    "lastSeen": STAMP,
                    "platform": "web",
                    "info": {"sdkVersion": "4.0"},
                }
            ],
            "pendingClients": [],
        },
        "sessionToken": answer["sessionToken"],
        "conversations": [],
        "conversationsPagination": {"hasMore": False},
        "settings": {},
    }
    # the business sees an anonymous user with an sdk client and the browser as its device
    status, user = v2(sunshine_app, "GET", f"users/{user_id}")
    assert status == 200 and user["user"]["externalId"] is None and user["user"]["authenticated"] is False
    assert user["user"]["profile"]["givenName"] == "Ada"
    status, clients = v2(sunshine_app, "GET", f"users/{user_id}/clients")
    assert [c["type"] for c in clients["clients"]] == ["sdk"]
    status, devices = v2(sunshine_app, "GET", f"users/{user_id}/devices")
    assert [(d["guid"], d["status"], d["type"], d["clientId"]) for d in devices["devices"]] == [
        ("browser-1", "active", "web", clients["clients"][0]["id"])
    ]


def test_the_client_id_header_names_the_install_when_the_body_does_not(sunshine_app: SunshineApp) -> None:
    status, answer = sdk_call(sunshine_app, "POST", "appusers", headers={"x-smooch-clientid": "from-header"})
    assert status == 201 and [c["id"] for c in answer["appUser"]["clients"]] == ["from-header"]
    status, answer = sdk_call(sunshine_app, "POST", "appusers", json={})
    assert (status, answer) == (400, v1_error("bad_request", ".client should have required property 'id'"))


def test_an_anonymous_user_reaches_its_own_data_with_its_session_token(
    sunshine_anonymous_sdk_user: SunshineSdkUser,
) -> None:
    user = sunshine_anonymous_sdk_user
    status, answer = as_sdk(user, "GET", f"appusers/{user.app_user_id}")
    assert status == 200 and answer["appUser"]["_id"] == user.app_user_id and "sessionToken" not in answer
    status, answer = as_sdk(
        user,
        "PUT",
        f"appusers/{user.app_user_id}",
        json={"givenName": "Grace", "locale": "en-US", "properties": {"plan": "gold"}},
    )
    assert status == 200
    assert (answer["appUser"]["givenName"], answer["appUser"]["locale"], answer["appUser"]["properties"]) == (
        "Grace",
        "en-US",
        {"plan": "gold"},
    )
    status, v2_user = v2(user.app, "GET", f"users/{user.app_user_id}")
    assert (v2_user["user"]["profile"]["givenName"], v2_user["user"]["metadata"]) == ("Grace", {"plan": "gold"})
    assert events(user.app, "user:update")[-1]["source"] == {"type": "web"}

    conversation_id = start_conversation_with_message(user, "hi there")
    status, answer = as_sdk(user, "GET", f"conversations/{conversation_id}/messages")
    assert status == 200 and answer["hasPrevious"] is False
    assert answer["messages"] == [
        {
            "type": "text",
            "text": "hi there",
            "_id": answer["messages"][0]["_id"],
            "role": "appUser",
            "authorId": user.app_user_id,
            "received": EPOCH,
            "source": {"type": "web"},
        }
    ]
    assert answer["conversation"]["_id"] == conversation_id and answer["conversation"]["isDefault"] is True
    # the business sees the message as the user's, and the event carries the SDK's source
    assert v2_message_texts(user.app, conversation_id) == [("user", user.app_user_id, "hi there")]
    assert events(user.app, "conversation:message")[-1]["message"]["source"] == {"type": "web"}
    # the business answers; the SDK sees it
    v2(
        user.app,
        "POST",
        f"conversations/{conversation_id}/messages",
        json={"author": {"type": "business"}, "content": {"type": "text", "text": "welcome"}},
    )
    status, answer = as_sdk(user, "GET", f"conversations/{conversation_id}/messages")
    assert [(m["role"], m["text"]) for m in answer["messages"]] == [("appUser", "hi there"), ("business", "welcome")]
    status, answer = as_sdk(user, "GET", f"conversations/{conversation_id}/messages", params={"before": str(EPOCH)})
    assert (status, answer["messages"]) == (200, [])
    status, answer = as_sdk(user, "GET", f"conversations/{conversation_id}/messages", params={"before": "soon"})
    assert status == 400 and answer["error"]["code"] == "bad_request"
    status, answer = as_sdk(user, "GET", f"appusers/{user.app_user_id}/conversations")
    assert status == 200 and [c["_id"] for c in answer["conversations"]] == [conversation_id]


def test_intent_conversation_start_opens_the_default_conversation(sunshine_app: SunshineApp) -> None:
    status, answer = sdk_call(
        sunshine_app, "POST", "appusers", json={"client": {"id": "c"}, "intent": "conversation:start"}
    )
    assert status == 201 and len(answer["conversations"]) == 1 and answer["conversations"][0]["isDefault"] is True
    assert v2_conversations(sunshine_app, userId=answer["appUser"]["_id"]) == [answer["conversations"][0]["_id"]]


def test_ios_starts_the_default_conversation_once(sunshine_app: SunshineApp) -> None:
    """`POST appusers/{id}/conversation` (the iOS SDK's start, body `{client, intent}`): 201 `{"conversation"}` with
    the new default conversation (`conversation:create`, `startConversation`), then 200 with the same one."""
    user = create_anonymous(sunshine_app)
    body = {"client": {"id": user.client_id, "platform": "ios"}, "intent": "conversation:start"}
    status, answer = as_sdk(user, "POST", f"appusers/{user.app_user_id}/conversation", json=body)
    assert status == 201 and set(answer) == {"conversation"}
    started = answer["conversation"]
    assert started["isDefault"] is True and started["type"] == "personal" and started["messageCount"] == 0
    assert [p["appUserId"] for p in started["participants"]] == [user.app_user_id]
    assert v2_conversations(sunshine_app, userId=user.app_user_id) == [started["_id"]]
    assert [c["creationReason"] for c in events(sunshine_app, "conversation:create")] == ["startConversation"]
    assert as_sdk(user, "POST", f"appusers/{user.app_user_id}/conversation", json=body) == (
        200,
        {"conversation": started},
    )
    assert as_sdk(user, "POST", f"appusers/{user.app_user_id}/conversation", data=b"")[0] == 200  # the body is optional
    assert len(events(sunshine_app, "conversation:create")) == 1


def test_ios_start_refusals_are_v1_errors_and_change_nothing(sunshine_app: SunshineApp) -> None:
    alice, bob = create_anonymous(sunshine_app), create_anonymous(sunshine_app)
    assert as_sdk(bob, "POST", f"appusers/{alice.app_user_id}/conversation", json={}) == (
        403,
        v1_error("forbidden", "Forbidden"),
    )
    assert as_sdk(bob, "POST", f"appusers/{'0' * 24}/conversation", json={}) == (
        404,
        v1_error("user_not_found", "User not found"),
    )
    status, answer = as_sdk(alice, "POST", f"appusers/{alice.app_user_id}/conversation", json={"displayName": 7})
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    reply = alice.request(
        "POST", f"appusers/{alice.app_user_id}/conversation", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert (reply.status, reply.json()) == (400, v1_error("bad_request", "Invalid JSON body"))
    status, answer = sdk_call(sunshine_app, "POST", f"appusers/{alice.app_user_id}/conversation", json={})
    assert (status, answer) == (401, v1_error("unauthorized", "Authorization is required"))
    assert (
        v2_conversations(sunshine_app, userId=alice.app_user_id) == []
        and events(sunshine_app, "conversation:create") == []
    )


def test_ios_subscribes_to_a_conversation(sunshine_app: SunshineApp) -> None:
    """`POST conversations/{id}/subscribe` (iOS, opening a conversation, body `{author}`): 200 with the conversation
    and its latest messages; the caller's SDK client is associated with its participant, once."""
    user = create_anonymous(sunshine_app)
    conversation_id = start_conversation_with_message(user, "hello")
    body = {"author": {"role": "appUser", "appUserId": user.app_user_id}}
    status, answer = as_sdk(user, "POST", f"conversations/{conversation_id}/subscribe", json=body)
    assert status == 200 and set(answer) == {"conversation", "messages", "hasPrevious"}
    assert answer["conversation"]["_id"] == conversation_id and answer["hasPrevious"] is False
    assert [m["text"] for m in answer["messages"]] == ["hello"]
    again = as_sdk(user, "POST", f"conversations/{conversation_id}/subscribe", json=body)
    assert again == (200, answer)
    [participant] = v2(sunshine_app, "GET", f"conversations/{conversation_id}/participants")[1]["participants"]
    sdk_clients = [a for a in participant["clientAssociations"] if a["type"] == "sdk"]
    assert len(sdk_clients) == 1 and participant["clientAssociations"][0] == sdk_clients[0]


def test_ios_subscribe_refusals(sunshine_app: SunshineApp) -> None:
    alice, bob = create_anonymous(sunshine_app), create_anonymous(sunshine_app)
    conversation_id = start_conversation_with_message(alice)
    assert as_sdk(bob, "POST", f"conversations/{conversation_id}/subscribe", json={}) == (
        403,
        v1_error("forbidden", "Forbidden"),
    )
    assert as_sdk(bob, "POST", f"conversations/{'0' * 24}/subscribe", json={}) == (
        404,
        v1_error("conversation_not_found", "Conversation not found"),
    )
    status, answer = as_sdk(alice, "POST", f"conversations/{conversation_id}/subscribe", json={"author": "me"})
    assert (status, answer) == (400, v1_error("bad_request", ".author should be object"))


def test_session_tokens_are_refused_on_the_v2_api(sunshine_anonymous_sdk_user: SunshineSdkUser) -> None:
    app = sunshine_anonymous_sdk_user.app
    reply = app.handle.get(
        app.path(f"users/{sunshine_anonymous_sdk_user.app_user_id}"),
        headers=sunshine_anonymous_sdk_user.basic_headers(),
    )
    assert (reply.status, reply.json()) == (
        401,
        {"errors": [{"code": "invalid_auth", "title": "Invalid key id or secret"}]},
    )


def test_bad_session_credentials_are_refused_in_the_v1_envelope(sunshine_anonymous_sdk_user: SunshineSdkUser) -> None:
    user = sunshine_anonymous_sdk_user
    refused = v1_error("invalid_auth", "Invalid appUserId or sessionToken")
    for headers in (
        basic(user.app_user_id, "wrong"),
        basic(user.app_user_id, ""),
        basic("0" * 24, user.session_token or ""),
    ):
        assert sdk_call(user.app, "GET", f"appusers/{user.app_user_id}", headers=headers) == (401, refused)
    assert sdk_call(user.app, "GET", f"appusers/{user.app_user_id}") == (
        401,
        v1_error("unauthorized", "Authorization is required"),
    )
    assert (
        sdk_call(user.app, "GET", f"appusers/{user.app_user_id}", headers=user.app.basic_headers())[0] == 401
    )  # the app key is no session
    # a server JWT on the SDK API: the documented 403 "Invalid scope"
    assert sdk_call(user.app, "GET", f"appusers/{user.app_user_id}", headers=bearer(user.app.jwt())) == (
        403,
        v1_error("forbidden", "Invalid scope"),
    )


def test_another_users_data_is_refused(sunshine_app: SunshineApp) -> None:
    alice, bob = create_anonymous(sunshine_app), create_anonymous(sunshine_app)
    conversation_id = start_conversation_with_message(alice)
    forbidden = v1_error("forbidden", "Forbidden")
    assert as_sdk(bob, "GET", f"conversations/{conversation_id}/messages") == (403, forbidden)
    assert as_sdk(
        bob, "POST", f"conversations/{conversation_id}/messages", json={"message": {"type": "text", "text": "x"}}
    ) == (403, forbidden)
    assert as_sdk(bob, "GET", f"conversations/{conversation_id}") == (403, forbidden)
    assert as_sdk(bob, "GET", f"appusers/{alice.app_user_id}") == (403, forbidden)
    assert as_sdk(bob, "PUT", f"appusers/{alice.app_user_id}", json={"givenName": "x"}) == (403, forbidden)
    assert as_sdk(bob, "POST", f"appusers/{alice.app_user_id}/logout", json={"client": {"id": alice.client_id}}) == (
        403,
        forbidden,
    )
    assert as_sdk(bob, "GET", f"conversations/{'0' * 24}/messages") == (
        404,
        v1_error("conversation_not_found", "Conversation not found"),
    )
    assert as_sdk(bob, "GET", f"appusers/{'0' * 24}") == (404, v1_error("user_not_found", "User not found"))
    assert v2_message_texts(sunshine_app, conversation_id) == [("user", alice.app_user_id, "hello")]


def test_an_unknown_app_and_route_answer_in_the_v1_envelope(sunshine_app: SunshineApp) -> None:
    reply = sunshine_app.handle.post(f"/sdk/v2/apps/{'0' * 24}/appusers", json={"client": {"id": "c"}})
    assert (reply.status, reply.json()) == (404, v1_error("app_not_found", "App not found"))
    reply = sunshine_app.handle.get(f"/sdk/v2/apps/{sunshine_app.id}/nothing")
    assert reply.status == 404 and set(reply.json()) == {"error"}
    reply = sunshine_app.handle.post(
        f"/sdk/v2/apps/{sunshine_app.id}/appusers", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert (reply.status, reply.json()) == (400, v1_error("bad_request", "Invalid JSON body"))


# --- login -------------------------------------------------------------------------------------------


def test_login_upgrades_the_anonymous_user_when_nobody_holds_the_external_id(
    sunshine_anonymous_sdk_user: SunshineSdkUser, sunshine_user_jwt: UserJwt
) -> None:
    anonymous, app = sunshine_anonymous_sdk_user, sunshine_anonymous_sdk_user.app
    conversation_id = start_conversation_with_message(anonymous, "before login")
    external_id = f"ext-{secrets.token_hex(4)}"
    status, answer = login(app, sunshine_user_jwt(external_id), external_id, anonymous.client_id, anonymous)
    assert status == 200 and "sessionToken" not in answer
    assert (answer["appUser"]["_id"], answer["appUser"]["userId"], answer["appUser"]["authenticated"]) == (
        anonymous.app_user_id,
        external_id,
        True,
    )
    assert [c["_id"] for c in answer["conversations"]] == [conversation_id]
    assert answer["conversations"][0]["participants"][0]["userId"] == external_id
    # the business: the same user, now identified, with its conversation and history
    status, user = v2(app, "GET", f"users/{external_id}")
    assert (status, user["user"]["id"], user["user"]["authenticated"]) == (200, anonymous.app_user_id, True)
    assert v2_conversations(app, userExternalId=external_id) == [conversation_id]
    assert v2_message_texts(app, conversation_id) == [("user", anonymous.app_user_id, "before login")]
    update = events(app, "user:update")[-1]
    assert (update["reason"], update["user"]["externalId"], update["source"]) == (
        "authentication",
        external_id,
        {"type": "web"},
    )
    assert [e.get("reason") for e in events(app, "client:add")] == [
        None
    ]  # its creation only: the install was the user's already
    # the anonymous session is over; the JWT reaches the user
    assert as_sdk(anonymous, "GET", f"appusers/{anonymous.app_user_id}")[0] == 401
    identified = SunshineSdkUser(
        app, anonymous.app_user_id, anonymous.client_id, external_id=external_id, jwt=sunshine_user_jwt(external_id)
    )
    status, answer = as_sdk(identified, "GET", f"conversations/{conversation_id}/messages")
    assert status == 200 and [m["text"] for m in answer["messages"]] == ["before login"]


def test_login_merges_an_anonymous_user_with_history_into_the_holder(
    sunshine_app: SunshineApp, sunshine_user_jwt: UserJwt
) -> None:
    app = sunshine_app
    external_id = f"ext-{secrets.token_hex(4)}"
    status, holder = v2(app, "POST", "users", json={"externalId": external_id, "profile": {"givenName": "Holder"}})
    holder_id = holder["user"]["id"]
    status, own = v2(app, "POST", "conversations", json={"type": "personal", "participants": [{"userId": holder_id}]})
    own_id = own["conversation"]["id"]
    anonymous = create_anonymous(app, givenName="Anon", surname="Ymous")
    anonymous_conversation = start_conversation_with_message(anonymous, "anonymous words")

    status, answer = login(app, sunshine_user_jwt(external_id), external_id, anonymous.client_id, anonymous)
    assert status == 200 and answer["appUser"]["_id"] == holder_id and answer["appUser"]["userId"] == external_id
    assert (answer["appUser"]["givenName"], answer["appUser"]["surname"]) == (
        "Holder",
        "Ymous",
    )  # the survivor's profile, gaps filled
    assert [c["_id"] for c in answer["conversations"]] == [own_id]
    assert [c["id"] for c in answer["appUser"]["clients"]] == [anonymous.client_id]
    # the business: the anonymous user is gone; its default conversation's messages joined the holder's default
    assert v2(app, "GET", f"users/{anonymous.app_user_id}")[0] == 404
    assert v2_conversations(app, userExternalId=external_id) == [own_id]
    assert v2(app, "GET", f"conversations/{anonymous_conversation}")[0] == 404
    assert v2_message_texts(app, own_id) == [("user", holder_id, "anonymous words")]
    status, devices = v2(app, "GET", f"users/{holder_id}/devices")
    assert [(d["guid"], d["status"]) for d in devices["devices"]] == [(anonymous.client_id, "active")]
    merge = events(app, "user:merge")
    assert [m["mergedUsers"] for m in merge] == [
        {
            "surviving": {"id": holder_id, "externalId": external_id, "authenticated": False},
            "discarded": {"id": anonymous.app_user_id, "externalId": None, "authenticated": False},
        }
    ]
    assert merge[0]["reason"] == "sdkLogin"
    assert merge[0]["mergedConversations"] == {
        "surviving": {"id": own_id, "type": "personal", "metadata": None},
        "discarded": {"id": anonymous_conversation, "type": "personal", "metadata": None},
    }
    assert [(e.get("reason"), e["user"]["id"]) for e in events(app, "client:add")] == [
        (None, anonymous.app_user_id),
        ("sdkLogin", holder_id),
    ]
    # the anonymous session token is revoked
    assert as_sdk(anonymous, "GET", f"appusers/{anonymous.app_user_id}") == (
        401,
        v1_error("invalid_auth", "Invalid appUserId or sessionToken"),
    )
    assert login(app, sunshine_user_jwt(external_id), external_id, anonymous.client_id, anonymous)[0] == 401


def test_login_switches_when_the_anonymous_user_has_no_history(
    sunshine_app: SunshineApp, sunshine_user: Any, sunshine_user_jwt: UserJwt
) -> None:
    app = sunshine_app
    anonymous = create_anonymous(app)
    status, answer = login(
        app, sunshine_user_jwt(sunshine_user.external_id), sunshine_user.external_id, anonymous.client_id, anonymous
    )
    assert status == 200 and answer["appUser"]["_id"] == sunshine_user.id
    assert events(app, "user:merge") == []
    # the business: both users stay; the install is now also a device of the identified user
    assert v2(app, "GET", f"users/{anonymous.app_user_id}")[0] == 200
    status, devices = v2(app, "GET", f"users/{sunshine_user.id}/devices")
    assert [d["guid"] for d in devices["devices"]] == [anonymous.client_id]
    assert [(e.get("reason"), e["user"]["id"]) for e in events(app, "client:add")] == [
        (None, anonymous.app_user_id),
        ("sdkLogin", sunshine_user.id),
    ]


def test_login_without_an_anonymous_user_creates_the_identified_user(
    sunshine_app: SunshineApp, sunshine_user_jwt: UserJwt
) -> None:
    app = sunshine_app
    external_id = "first/login é"
    status, answer = login(app, sunshine_user_jwt(external_id), external_id, "phone-1")
    assert status == 200
    user_id = answer["appUser"]["_id"]
    assert answer == {
        "appUser": {
            "_id": user_id,
            "userId": external_id,
            "signedUpAt": STAMP,
            "authenticated": True,
            "properties": {},
            "conversationStarted": False,
            "clients": [{"id": "phone-1", "status": "active", "active": True, "lastSeen": STAMP, "platform": "web"}],
            "pendingClients": [],
        },
        "conversations": [],
        "conversationsPagination": {"hasMore": False},
        "settings": {},
    }
    status, user = v2(app, "GET", "users/first%2Flogin%20%C3%A9")
    assert (status, user["user"]["id"], user["user"]["authenticated"]) == (200, user_id, True)
    client_add = events(app, "client:add")
    assert [(e["reason"], e["user"]["id"], e["client"]["type"]) for e in client_add] == [("sdkLogin", user_id, "sdk")]


def test_logging_in_from_a_second_install_sees_the_same_conversation(
    sunshine_logged_in_sdk_user: SunshineSdkUser, sunshine_user_jwt: UserJwt
) -> None:
    first, app = sunshine_logged_in_sdk_user, sunshine_logged_in_sdk_user.app
    conversation_id = start_conversation_with_message(first, "from the laptop")
    status, answer = login(app, sunshine_user_jwt(first.external_id), first.external_id or "", "phone-2")
    assert status == 200 and answer["appUser"]["_id"] == first.app_user_id
    assert [c["_id"] for c in answer["conversations"]] == [conversation_id]
    assert sorted(c["id"] for c in answer["appUser"]["clients"]) == sorted([first.client_id, "phone-2"])
    second = SunshineSdkUser(app, first.app_user_id, "phone-2", external_id=first.external_id, jwt=first.jwt)
    assert (
        as_sdk(
            second,
            "POST",
            f"conversations/{conversation_id}/messages",
            json={"message": {"type": "text", "text": "from the phone"}},
        )[0]
        == 201
    )
    status, answer = as_sdk(first, "GET", f"conversations/{conversation_id}/messages")
    assert [m["text"] for m in answer["messages"]] == ["from the laptop", "from the phone"]
    # the business: one user, one sdk client, two devices
    status, clients = v2(app, "GET", f"users/{first.app_user_id}/clients")
    assert [c["type"] for c in clients["clients"]] == ["sdk"]
    status, devices = v2(app, "GET", f"users/{first.app_user_id}/devices")
    assert sorted(d["guid"] for d in devices["devices"]) == sorted([first.client_id, "phone-2"])
    assert v2_conversations(app, userExternalId=first.external_id or "") == [conversation_id]


def test_a_login_with_another_external_id_switches_users(
    sunshine_logged_in_sdk_user: SunshineSdkUser, sunshine_user_jwt: UserJwt
) -> None:
    first, app = sunshine_logged_in_sdk_user, sunshine_logged_in_sdk_user.app
    conversation_id = start_conversation_with_message(first)
    status, answer = login(app, sunshine_user_jwt("someone-else"), "someone-else", first.client_id)
    assert status == 200 and answer["appUser"]["_id"] != first.app_user_id and answer["conversations"] == []
    other = SunshineSdkUser(
        app,
        answer["appUser"]["_id"],
        first.client_id,
        external_id="someone-else",
        jwt=sunshine_user_jwt("someone-else"),
    )
    assert as_sdk(other, "GET", f"conversations/{conversation_id}/messages")[0] == 403
    assert v2(app, "GET", "users/someone-else")[1]["user"]["id"] == other.app_user_id
    assert v2_conversations(app, userExternalId=first.external_id or "") == [conversation_id]
    assert v2_conversations(app, userExternalId="someone-else") == []


@pytest.mark.parametrize("prefix", ["/sc/sdk/v2", "/sdk", "/sc/sdk"])
def test_login_logout_and_creation_answer_at_every_sdk_prefix(
    sunshine_app: SunshineApp, sunshine_user_jwt: UserJwt, prefix: str
) -> None:
    status, created = sdk_call(sunshine_app, "POST", "appusers", prefix=prefix, json={"client": {"id": "c1"}})
    assert status == 201
    anonymous = SunshineSdkUser(sunshine_app, created["appUser"]["_id"], "c1", session_token=created["sessionToken"])
    status, answer = login(sunshine_app, sunshine_user_jwt("prefixed"), "prefixed", "c1", anonymous, prefix=prefix)
    assert status == 200 and answer["appUser"]["_id"] == anonymous.app_user_id
    logout = sdk_call(
        sunshine_app,
        "POST",
        f"appusers/{anonymous.app_user_id}/logout",
        prefix=prefix,
        json={"client": {"id": "c1"}},
        headers=bearer(sunshine_user_jwt("prefixed")),
    )
    assert logout == (200, {})


def test_the_v1_app_user_scope_logs_in_too(sunshine_app: SunshineApp) -> None:
    token = sunshine_app.jwt("appUser", userId="legacy-user")
    status, answer = login(sunshine_app, token, "legacy-user", "c1")
    assert status == 200 and answer["appUser"]["userId"] == "legacy-user"


# --- invalid login ------------------------------------------------------------------------------------

INVALID_AUTH = "invalid_auth"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unnamed_key_jwt(claims: dict, secret: str) -> str:
    """An HS256 JWT whose header names no key (`kid`)."""
    signing_input = (
        f"{b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}"
    )
    return f"{signing_input}.{b64url(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())}"


def _invalid_logins(app: SunshineApp, expired: str) -> dict[str, tuple[str, int, str, str]]:
    """name -> (token, status, code, description); the body's userId is always `target`."""
    return {
        "numeric external_id": (
            sign_jwt({"scope": "user", "external_id": 12345}, app.key_id, app.secret),
            401,
            INVALID_AUTH,
            "Invalid JWT body. external_id must be a non-empty string",
        ),
        "missing kid": (
            unnamed_key_jwt({"scope": "user", "external_id": "target"}, app.secret),
            401,
            INVALID_AUTH,
            "Invalid JWT header. Missing key id (kid)",
        ),
        "scope that does not match the key": (
            sign_jwt({"scope": "account", "external_id": "target"}, app.key_id, app.secret),
            401,
            INVALID_AUTH,
            "Invalid JWT body. Cannot use account scope with app secret key",
        ),
        "unknown scope": (
            sign_jwt({"scope": "admin", "external_id": "target"}, app.key_id, app.secret),
            401,
            INVALID_AUTH,
            "Invalid JWT body. Cannot use admin scope with app secret key",
        ),
        "server scope": (
            sign_jwt({"scope": "app", "external_id": "target"}, app.key_id, app.secret),
            403,
            "forbidden",
            "Invalid scope",
        ),
        "bad signature": (
            sign_jwt({"scope": "user", "external_id": "target"}, app.key_id, app.secret + "x"),
            401,
            INVALID_AUTH,
            "Invalid JWT signature",
        ),
        "exp in the past": (expired, 401, INVALID_AUTH, "Invalid JWT. Token expired"),
        "body userId other than the JWT's": (
            sign_jwt({"scope": "user", "external_id": "somebody"}, app.key_id, app.secret),
            401,
            INVALID_AUTH,
            "Invalid JWT body. userId does not match the JWT's user",
        ),
        "session token instead of a JWT": ("", 401, INVALID_AUTH, "Login requires a user JWT (Authorization: Bearer)"),
        "no credentials": ("", 401, "unauthorized", "Authorization is required"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "numeric external_id",
        "missing kid",
        "scope that does not match the key",
        "unknown scope",
        "server scope",
        "bad signature",
        "exp in the past",
        "body userId other than the JWT's",
        "session token instead of a JWT",
        "no credentials",
    ],
)
def test_an_invalid_login_is_refused_and_changes_nothing(
    emulator: EmulatorHandle,
    sunshine_anonymous_sdk_user: SunshineSdkUser,
    sunshine_user_jwt: UserJwt,
    emulator_clock: Any,
    case: str,
) -> None:
    app, anonymous = sunshine_anonymous_sdk_user.app, sunshine_anonymous_sdk_user
    conversation_id = start_conversation_with_message(anonymous)
    now = int(emulator_clock.now().timestamp())
    expired = sign_jwt({"scope": "user", "external_id": "target", "exp": now - 1}, app.key_id, app.secret)
    token, status, code, description = _invalid_logins(app, expired)[case]
    headers = bearer(token) if token else anonymous.basic_headers() if case.startswith("session") else {}
    before = sunshine_state(emulator, app)
    body = {
        "userId": "target",
        "appUserId": anonymous.app_user_id,
        "sessionToken": anonymous.session_token,
        "client": {"id": anonymous.client_id},
    }
    assert sdk_call(app, "POST", "login", json=body, headers=headers) == (status, v1_error(code, description))
    assert sunshine_state(emulator, app) == before
    # the business sees no identified user, and the anonymous one as it was
    assert v2(app, "GET", "users/target")[0] == 404
    assert v2_conversations(app, userId=anonymous.app_user_id) == [conversation_id]
    assert as_sdk(anonymous, "GET", f"appusers/{anonymous.app_user_id}")[0] == 200


def test_an_expired_user_jwt_fixture_is_refused(sunshine_app: SunshineApp, expired_sunshine_user_jwt: str) -> None:
    import jwt

    external_id = jwt.decode(expired_sunshine_user_jwt, options={"verify_signature": False})["external_id"]
    status, answer = login(sunshine_app, expired_sunshine_user_jwt, external_id, "c1")
    assert (status, answer) == (401, v1_error("invalid_auth", "Invalid JWT. Token expired"))
    assert v2(sunshine_app, "GET", f"users/{external_id}")[0] == 404


def test_login_session_fields_go_together_and_must_be_valid(
    sunshine_anonymous_sdk_user: SunshineSdkUser, sunshine_user_jwt: UserJwt
) -> None:
    app, anonymous = sunshine_anonymous_sdk_user.app, sunshine_anonymous_sdk_user
    headers = bearer(sunshine_user_jwt("x1"))
    half = {"userId": "x1", "appUserId": anonymous.app_user_id, "client": {"id": "c"}}
    assert sdk_call(app, "POST", "login", json=half, headers=headers) == (
        400,
        v1_error("bad_request", "appUserId and sessionToken go together"),
    )
    wrong = {**half, "sessionToken": "nope"}
    assert sdk_call(app, "POST", "login", json=wrong, headers=headers) == (
        401,
        v1_error("invalid_auth", "Invalid appUserId or sessionToken"),
    )
    assert sdk_call(app, "POST", "login", json={"userId": 5, "client": {"id": "c"}}, headers=headers) == (
        400,
        v1_error("bad_request", ".userId should be string"),
    )
    assert v2(app, "GET", "users/x1")[0] == 404


def test_a_user_jwt_of_another_app_is_refused(sunshine_app: SunshineApp, emulator: EmulatorHandle) -> None:
    other_app, key_id, secret = secrets.token_hex(12), f"app_{secrets.token_hex(8)}", secrets.token_urlsafe(18)
    emulator.control.seed({"sunshine": {"apps": [{"id": other_app, "keys": [{"id": key_id, "secret": secret}]}]}})
    token = sign_jwt({"scope": "user", "external_id": "u"}, key_id, secret)
    assert login(sunshine_app, token, "u", "c") == (403, v1_error("forbidden", "Forbidden"))


# --- logout -----------------------------------------------------------------------------------------


def test_logout_deactivates_the_install_and_the_next_user_is_new(sunshine_logged_in_sdk_user: SunshineSdkUser) -> None:
    user, app = sunshine_logged_in_sdk_user, sunshine_logged_in_sdk_user.app
    conversation_id = start_conversation_with_message(user, "remember me")
    assert as_sdk(user, "POST", f"appusers/{user.app_user_id}/logout", json={"client": {"id": user.client_id}}) == (
        200,
        {},
    )
    # the business: the user and its history stay; the device is inactive
    status, devices = v2(app, "GET", f"users/{user.external_id}/devices")
    assert [(d["guid"], d["status"]) for d in devices["devices"]] == [(user.client_id, "inactive")]
    assert v2_message_texts(app, conversation_id) == [("user", user.app_user_id, "remember me")]
    # the same install starts a new anonymous user, which the business sees as another user
    fresh = create_anonymous(app, client_id=user.client_id)
    assert fresh.app_user_id != user.app_user_id
    status, v2_user = v2(app, "GET", f"users/{fresh.app_user_id}")
    assert (v2_user["user"]["externalId"], v2_user["user"]["authenticated"]) == (None, False)
    assert as_sdk(fresh, "GET", f"conversations/{conversation_id}/messages")[0] == 403
    # logging in again reactivates the install
    status, answer = login(app, user.jwt or "", user.external_id or "", user.client_id)
    assert status == 200 and answer["appUser"]["clients"][0]["status"] == "active"


def test_logout_of_an_anonymous_user_ends_its_session(sunshine_anonymous_sdk_user: SunshineSdkUser) -> None:
    user = sunshine_anonymous_sdk_user
    assert as_sdk(user, "POST", f"appusers/{user.app_user_id}/logout", json={}) == (
        200,
        {},
    )  # the header names the install
    assert as_sdk(user, "GET", f"appusers/{user.app_user_id}")[0] == 401
    assert v2(user.app, "GET", f"users/{user.app_user_id}")[0] == 200


def test_logout_of_an_unknown_install_is_refused(sunshine_logged_in_sdk_user: SunshineSdkUser) -> None:
    user = sunshine_logged_in_sdk_user
    answer = as_sdk(user, "POST", f"appusers/{user.app_user_id}/logout", json={"client": {"id": "never-seen"}})
    assert answer == (404, v1_error("client_not_found", "Client not found"))


# --- webhooks -----------------------------------------------------------------------------------------


def test_sdk_events_reach_the_apps_webhooks(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_user: Any,
    sunshine_user_jwt: UserJwt,
    emulator_webhook_receiver: Any,
) -> None:
    """The SDK's events go through the same publication as the v2 API's: journaled, then delivered."""
    emulator_webhook_receiver.sunshine_webhook(sunshine_app, ["conversation:message", "user:merge", "client:add"])
    anonymous = create_anonymous(sunshine_app)
    conversation_id = start_conversation_with_message(anonymous, "from the widget")
    assert (
        login(
            sunshine_app,
            sunshine_user_jwt(sunshine_user.external_id),
            sunshine_user.external_id,
            anonymous.client_id,
            anonymous,
        )[0]
        == 200
    )
    emulator.control.flush_deliveries()
    delivered = {e["type"]: e["payload"] for e in emulator_webhook_receiver.events()}  # the last of each type
    assert [e["type"] for e in emulator_webhook_receiver.events()] == [
        "client:add",
        "conversation:message",
        "user:merge",
        "client:add",
    ]
    message = delivered["conversation:message"]
    assert (message["conversation"]["id"], message["message"]["content"]["text"], message["message"]["source"]) == (
        conversation_id,
        "from the widget",
        {"type": "web"},
    )
    assert (delivered["user:merge"]["reason"], delivered["user:merge"]["mergedUsers"]["surviving"]["id"]) == (
        "sdkLogin",
        sunshine_user.id,
    )
    assert (delivered["client:add"]["reason"], delivered["client:add"]["user"]["id"]) == ("sdkLogin", sunshine_user.id)


# --- state --------------------------------------------------------------------------------------------


def test_the_state_exports_and_restores_with_sdk_sessions(
    emulator: EmulatorHandle, sunshine_anonymous_sdk_user: SunshineSdkUser, sunshine_logged_in_sdk_user: SunshineSdkUser
) -> None:
    from emulator.providers.sunshine.models import SunshineState

    state = emulator.control.export_state()
    sunshine = state["namespaces"][emulator.namespace]["providers"]["sunshine"]
    assert SunshineState.model_validate(sunshine).export() == sunshine
    assert sunshine_anonymous_sdk_user.session_token not in json.dumps(state)  # only its hash is kept
    emulator.control.reset()
    emulator.control.import_state(state)
    assert as_sdk(sunshine_anonymous_sdk_user, "GET", f"appusers/{sunshine_anonymous_sdk_user.app_user_id}")[0] == 200
    assert as_sdk(sunshine_logged_in_sdk_user, "GET", f"appusers/{sunshine_logged_in_sdk_user.app_user_id}")[0] == 200


# --- fuzz: malformed SDK requests and tokens ---------------------------------------------------------
# The approach of test_fuzz_sunshine.py: every reply is one the emulator meant to give (no exception escaped,
# no 5xx, no traceback, strict JSON), a refusal is exactly the v1 envelope, and a refused request changes no
# namespace's state (a user JWT that authenticates is remembered by the token lifecycle on its first use,
# even when the call it carried is refused later, a login's userId mismatch included; never when the JWT
# itself is refused).

SDK_PREFIXES = ("/sdk/v2", "/sc/sdk/v2")
LEGACY = ("/sdk", "/sc/sdk")
LOGIN_EXTERNAL = "fuzz-login"


def assert_v1_envelope(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the v1 envelope: {body}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "description"}, body
    assert isinstance(error["code"], str) and isinstance(error["description"], str), body


def check_sdk_reply(reply: Reply, what: str) -> Any:
    return check_reply(reply, what, envelope=assert_v1_envelope)


@dataclass(frozen=True)
class SdkRoute:
    name: str
    method: str
    template: str  # after the prefix
    who: str  # anon (session token), ident (user JWT), login (JWT of LOGIN_EXTERNAL), none
    body: Any = None
    status: int = 200
    legacy: bool = False

    @property
    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.template)


A_ = "/apps/{app}"
SDK_ROUTES = (
    SdkRoute(
        "create app user",
        "POST",
        A_ + "/appusers",
        "none",
        {
            "client": {"id": "fuzz-client", "platform": "ios"},
            "userId": "",
            "givenName": "Fuzz",
            "properties": {"a": 1},
            "intent": "conversation:start",
        },
        201,
        True,
    ),
    SdkRoute("get app user", "GET", A_ + "/appusers/{anon}", "anon"),
    SdkRoute(
        "update app user",
        "PUT",
        A_ + "/appusers/{anon}",
        "anon",
        {"givenName": "Ada", "locale": "fr", "properties": {"p": "q"}},
    ),
    SdkRoute(
        "login",
        "POST",
        A_ + "/login",
        "login",
        {
            "userId": LOGIN_EXTERNAL,
            "appUserId": "{anon}",
            "sessionToken": "{token}",
            "client": {"id": "{client}", "platform": "web"},
        },
        legacy=True,
    ),
    SdkRoute(
        "logout", "POST", A_ + "/appusers/{ident}/logout", "ident", {"client": {"id": "{ident_client}"}}, legacy=True
    ),
    SdkRoute("list conversations", "GET", A_ + "/appusers/{anon}/conversations", "anon"),
    SdkRoute(
        "create conversation", "POST", A_ + "/appusers/{anon}/conversations", "anon", {"displayName": "Second"}, 201
    ),
    SdkRoute("get conversation", "GET", A_ + "/conversations/{conversation}", "anon"),
    SdkRoute("list messages", "GET", A_ + "/conversations/{conversation}/messages", "anon"),
    SdkRoute(
        "post message",
        "POST",
        A_ + "/conversations/{ident_conversation}/messages",
        "ident",
        {"message": {"type": "text", "text": "hi"}},
        201,
    ),
    SdkRoute(
        "activity",
        "POST",
        A_ + "/conversations/{conversation}/activity",
        "anon",
        {"activity": {"type": "typing:start"}},
    ),
    SdkRoute(
        "postback",
        "POST",
        A_ + "/conversations/{conversation}/postback",
        "anon",
        {"postback": {"actionId": "{action}"}},
    ),
    SdkRoute(
        "referral",
        "POST",
        A_ + "/conversations/{conversation}/referral",
        "anon",
        {"referral": {"code": "fuzz", "details": {"source": "ad"}}},
    ),
    SdkRoute(
        "auth code",
        "POST",
        A_ + "/appusers/authcode",
        "none",
        {"authCode": "{authcode}", "client": {"id": "fuzz-code-client", "platform": "android"}},
    ),
    SdkRoute("upgrade", "POST", A_ + "/appusers/upgrade", "none", {"clientId": "{client}"}, legacy=True),
    SdkRoute(
        "push token",
        "PUT",
        A_ + "/appusers/{ident}/clients/{ident_client}",
        "ident",
        {"pushNotificationToken": "fuzz-token"},
    ),
    SdkRoute(
        "start default conversation",
        "POST",
        A_ + "/appusers/{anon}/conversation",
        "anon",
        {"client": {"id": "{client}", "platform": "ios"}, "intent": "conversation:start"},
    ),
    SdkRoute(
        "subscribe",
        "POST",
        A_ + "/conversations/{conversation}/subscribe",
        "anon",
        {"author": {"role": "appUser", "appUserId": "{anon}"}},
    ),
)
# multipart uploads and the integration config (no app in its path): test_sunshine_triggers.py
NOT_FUZZED_HERE = ("/files", "/config")


@dataclass(repr=False)
class SdkWorld:
    handle: EmulatorHandle
    app: SunshineApp
    ids: dict[str, str]
    anon: SunshineSdkUser
    ident: SunshineSdkUser
    now: float
    baseline: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SdkWorld(ids={self.ids})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def everything(self) -> dict:
        return self.handle.control.in_namespace("*").export_state()

    def fresh(self) -> dict:
        state = self.everything()
        if state != self.baseline:
            self.handle.control.import_state(
                {
                    "namespaces": copy.deepcopy(
                        {self.handle.namespace: self.baseline["namespaces"][self.handle.namespace]}
                    )
                }
            )
            state = self.everything()
        return state

    def resolve(self, value: Any) -> Any:
        return resolve_placeholders(value, self.ids)

    def user_jwt(self, external_id: Any, **claims: Any) -> str:
        return jwt_segments(
            {"alg": "HS256", "kid": self.app.key_id, "typ": "JWT"},
            json.dumps({"scope": "user", "external_id": external_id, **claims}).encode(),
            self.app.secret.encode(),
        )

    def authorization(self, who: str) -> str | None:
        if who == "anon":
            return self.anon.basic_headers()["Authorization"]
        if who == "ident":
            return f"Bearer {self.ident.jwt}"
        if who == "login":
            return f"Bearer {self.user_jwt(LOGIN_EXTERNAL)}"
        return None

    def external_of(self, who: str) -> str | None:
        return {"ident": self.ident.external_id, "login": LOGIN_EXTERNAL}.get(who)


@pytest.fixture
def sdk_world(emulator: EmulatorHandle, sunshine_app: SunshineApp, sunshine_user_jwt: UserJwt) -> SdkWorld:
    """An anonymous user and an identified one, each with a conversation holding a message, and a stranger."""
    anon = create_anonymous(sunshine_app)
    conversation = start_conversation_with_message(anon)
    external_id = f"ident-{secrets.token_hex(4)}"
    status, answer = login(sunshine_app, sunshine_user_jwt(external_id), external_id, "ident-install")
    assert status == 200
    ident = SunshineSdkUser(
        sunshine_app,
        answer["appUser"]["_id"],
        "ident-install",
        external_id=external_id,
        jwt=sunshine_user_jwt(external_id),
    )
    ident_conversation = start_conversation_with_message(ident)
    stranger = create_anonymous(sunshine_app)
    buttons = {"type": "text", "text": "Pick", "actions": [{"type": "postback", "text": "Go", "payload": "GO"}]}
    assert (
        sunshine_app.request(
            "POST", f"conversations/{conversation}/messages", json={"author": {"type": "business"}, "content": buttons}
        ).status
        == 201
    )
    action = as_sdk(anon, "GET", f"conversations/{conversation}/messages")[1]["messages"][-1]["actions"][0]["_id"]
    key = base64.b64encode(f"{sunshine_app.key_id}:{sunshine_app.secret}".encode()).decode()
    code = sunshine_app.handle.get(
        f"/v1.1/apps/{sunshine_app.id}/appusers/{anon.app_user_id}/authcode", headers={"Authorization": f"Basic {key}"}
    ).json()["authCode"]
    ids = {
        "app": sunshine_app.id,
        "anon": anon.app_user_id,
        "token": anon.session_token or "",
        "client": anon.client_id,
        "ident": ident.app_user_id,
        "ident_client": ident.client_id,
        "conversation": conversation,
        "ident_conversation": ident_conversation,
        "stranger": stranger.app_user_id,
        "stranger_conversation": start_conversation_with_message(stranger),
        "action": action,
        "authcode": code,
    }
    built = SdkWorld(emulator, sunshine_app, ids, anon, ident, emulator.control.now().timestamp())
    # the JWTs the template requests carry are remembered once, before the baseline
    for route in SDK_ROUTES:
        if route.who in ("ident", "login"):
            bearer_check = emulator.request(
                "GET",
                f"/sdk/v2/apps/{sunshine_app.id}/appusers/{'0' * 24}",
                headers={"Authorization": built.authorization(route.who) or ""},
            )
            assert bearer_check.status == 404, bearer_check.text
    built.baseline = built.everything()
    return built


@dataclass(frozen=True)
class SdkRequest:
    method: str
    path: str
    body: bytes | None
    authorization: str | None
    content_type: str | None = "application/json"
    query: str | None = None

    def __str__(self) -> str:
        body = "" if self.body is None else f" body={self.body[:120]!r} ({len(self.body)} bytes)"
        return f"{self.method} {self.path[:300]}{'?' + self.query[:100] if self.query else ''}{body} authorization={(self.authorization or '')[:160]!r}"


def sdk_template(world: SdkWorld, route: SdkRoute, prefix: str = "/sdk/v2", **changes: Any) -> SdkRequest:
    path = prefix + PLACEHOLDER.sub(lambda m: quote(world.ids[m[1]], safe=""), route.template)
    body = None if route.body is None else json.dumps(world.resolve(route.body)).encode()
    request = SdkRequest(route.method, path, body, world.authorization(route.who))
    return SdkRequest(**{**request.__dict__, **changes})


def sdk_send(world: SdkWorld, request: SdkRequest) -> tuple[Reply, Any]:
    before = world.fresh()
    headers = {} if request.content_type is None else {"Content-Type": request.content_type}
    if request.authorization is not None:
        headers["Authorization"] = request.authorization
    reply = world.handle.request(request.method, request.path, data=request.body, headers=headers, params=request.query)  # type: ignore[arg-type]
    body = check_sdk_reply(reply, str(request))
    after = world.everything()
    if reply.status >= 400 and after != before:
        token = bearer_token(request.authorization)
        # a login whose body names another user than its (valid) JWT is a 401 that comes after the JWT authenticated
        authenticated = (
            reply.status != 401
            or body["error"]["description"] == "Invalid JWT body. userId does not match the JWT's user"
        )
        remembered = token is not None and authenticated
        assert remembered and forgetting(after, token) == before, (
            f"{request} was refused ({reply.status} {body}) yet changed state"
        )
    return reply, body


def test_every_sdk_route_is_fuzzed(emulator_app: Any) -> None:
    served = set()
    for rule in emulator_app.url_map.iter_rules():
        if rule.rule.startswith(tuple(p + "/" for p in SDK_PREFIXES + LEGACY)) and rule.endpoint.startswith(
            "sunshine."
        ):
            served |= {(method, re.sub(r"<[^>]+>", "{}", rule.rule)) for method in rule.methods - {"HEAD", "OPTIONS"}}
    served = {(method, rule) for method, rule in served if not rule.endswith(NOT_FUZZED_HERE)}
    fuzzed = {
        (r.method, prefix + PLACEHOLDER.sub("{}", r.template))
        for r in SDK_ROUTES
        for prefix in SDK_PREFIXES + (LEGACY if r.legacy else ())
    }
    assert fuzzed == served


@pytest.mark.parametrize("prefix", SDK_PREFIXES + LEGACY)
def test_every_sdk_template_request_succeeds(sdk_world: SdkWorld, prefix: str) -> None:
    for route in SDK_ROUTES:
        if prefix in LEGACY and not route.legacy:
            continue
        reply, body = sdk_send(sdk_world, sdk_template(sdk_world, route, prefix))
        assert reply.status == route.status, f"{route.name}: {reply.status} {body}"


@settings(max_examples=100)
@given(data=st.data())
def test_malformed_sdk_bodies(sdk_world: SdkWorld, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from([r for r in SDK_ROUTES if r.body is not None]), label="route")
    raw = data.draw(bodies(sdk_world.resolve(route.body)), label="body")
    request = sdk_template(sdk_world, route, data.draw(st.sampled_from(SDK_PREFIXES)), body=raw)
    reply, body = sdk_send(sdk_world, request)
    event(f"{route.name}: {reply.status}")
    if len(raw or b"") > BODY_LIMIT:
        assert reply.status == 413, f"{request}: {reply.status} {body}"
    elif raw and raw.strip() and not is_python_json_object(raw):
        assert reply.status == 400, f"{request}: {reply.status} {body}"
    elif raw and raw.strip() and not is_strict_json(raw):
        assert reply.status == 400, f"a body that is no RFC 8259 JSON was taken: {request}: {reply.status} {body}"


@settings(max_examples=60)
@given(data=st.data())
def test_malformed_sdk_path_segments_and_queries(sdk_world: SdkWorld, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(SDK_ROUTES), label="route")
    ids = dict(sdk_world.ids)
    for placeholder in data.draw(st.sets(st.sampled_from(route.placeholders), min_size=1), label="replaced"):
        ids[placeholder] = data.draw(
            garbage_segments | st.sampled_from(sorted(set(sdk_world.ids.values()))), label=placeholder
        )
    prefix = data.draw(st.sampled_from(SDK_PREFIXES))
    path = prefix + PLACEHOLDER.sub(
        lambda m: ids[m[1]] if ids[m[1]] != sdk_world.ids[m[1]] else quote(ids[m[1]], safe=""), route.template
    )
    query = data.draw(
        st.none()
        | st.sampled_from(
            [
                "before=",
                "before=nan",
                "before=inf",
                "before=1e999",
                "before=-1",
                "before=%ff",
                "before=1772323200",
                "before=abc&before=1",
            ]
        )
    )
    reply, _ = sdk_send(
        sdk_world,
        sdk_template(sdk_world, route, path=path + data.draw(st.sampled_from(["", "", "/", "/x"])), query=query),
    )
    event(f"{route.name}: {reply.status}")


SCOPES_ = ("user", "user", "appUser", "app", "account", "integration", "", "USER", None, 1, ["user"], {"user": 1})
KIDS_ = ("<own>", "<own>", "<missing>", None, 1, "", "app_unknown", "<account>")
ALGS_ = ("HS256", "HS256", "none", "HS384", "RS256", "", None)


@st.composite
def user_jwts(draw: st.DrawFn, world: SdkWorld, route: SdkRoute) -> tuple[str | None, bool | None, str]:
    """A user JWT built piece by piece; (header, refused, what). refused None: either answer may be right."""
    mine = world.external_of(route.who)
    scope = draw(st.just("user") | st.sampled_from(SCOPES_))
    claim = "userId" if scope == "appUser" else "external_id"
    subject = draw(
        st.sampled_from([mine, mine, world.ident.external_id, LOGIN_EXTERNAL, "nobody", 12345, "", None, [mine]])
        | json_values
    )
    claims: dict = {"scope": scope, claim: subject} if draw(st.integers(0, 9)) else {claim: subject}
    for name in draw(st.sets(st.sampled_from(["exp", "nbf"]), max_size=2)):
        value = draw(st.sampled_from(TIME_VALUES))
        claims[name] = world.now + value[1] if isinstance(value, tuple) else value
    kid_choice = draw(st.just("<own>") | st.sampled_from(KIDS_))
    header: dict = {"alg": draw(st.just("HS256") | st.sampled_from(ALGS_)), "typ": "JWT"}
    if kid_choice != "<missing>":
        header["kid"] = {"<own>": world.app.key_id, "<account>": world.app.account_key_id}.get(kid_choice, kid_choice)  # type: ignore[arg-type]
    signature = draw(st.sampled_from(["right", "right", "wrong", "none"]))
    secret = {"right": world.app.secret.encode(), "wrong": b"not-the-secret", "none": None}[signature]
    payload = json.dumps(claims).encode()
    token = jwt_segments(header, payload, secret, header["alg"] if isinstance(header["alg"], str) else "HS256")
    authentic = (
        kid_choice == "<own>"
        and header["alg"] == "HS256"
        and signature == "right"
        and claims.get("scope") in ("user", "appUser")
        and isinstance(subject, str)
        and subject != ""
        and times_hold(claims, world.now)
        and is_strict_json(payload)
    )
    speaks_for_route_user = authentic and mine is not None and subject == mine
    refused: bool | None = None if speaks_for_route_user else (None if route.who == "none" else True)
    if authentic and route.who == "login" and subject != mine:
        refused = True  # the body's userId is not the JWT's
    return f"Bearer {token}", refused, f"JWT claims={payload[:160]!r} header={header}"


@st.composite
def sessions(draw: st.DrawFn, world: SdkWorld, route: SdkRoute) -> tuple[str | None, bool | None, str]:
    how = draw(
        st.sampled_from(
            [
                "right",
                "wrong-token",
                "stranger-id",
                "ident-id",
                "app-key",
                "empty",
                "no-colon",
                "non-utf8",
                "bad-base64",
            ]
        )
    )
    anon, token = world.anon.app_user_id, world.anon.session_token or ""
    raw = {
        "right": f"{anon}:{token}".encode(),
        "wrong-token": f"{anon}:{token}x".encode(),
        "stranger-id": f"{world.ids['stranger']}:{token}".encode(),
        "ident-id": f"{world.ident.app_user_id}:{token}".encode(),
        "app-key": f"{world.app.key_id}:{world.app.secret}".encode(),
        "empty": b":",
        "no-colon": anon.encode(),
        "non-utf8": b"\xff\xfe:" + token.encode(),
        "bad-base64": None,
    }[how]
    header = "Basic " + (
        base64.b64encode(raw).decode() if raw is not None else draw(st.sampled_from(["!!!", "a===", "%41"]))
    )
    refused: bool | None = None if route.who == "none" or (how == "right" and route.who == "anon") else True
    return header, refused, f"Basic {how}"


def sdk_credentials(world: SdkWorld, route: SdkRoute) -> st.SearchStrategy[tuple[str | None, bool | None, str]]:
    return st.one_of(
        garbage_headers.map(lambda h: (h, None if route.who == "none" else True, f"garbage {h!r}")),
        user_jwts(world, route),
        sessions(world, route),
        header_text.map(lambda t: (f"Bearer {t}", None if route.who == "none" else True, f"Bearer {t!r}")),
    )


@settings(max_examples=200)
@given(data=st.data())
def test_malformed_sdk_credentials(sdk_world: SdkWorld, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(SDK_ROUTES), label="route")
    header, refused, what = data.draw(sdk_credentials(sdk_world, route), label="credential")
    request = sdk_template(sdk_world, route, data.draw(st.sampled_from(SDK_PREFIXES)), authorization=header)
    reply, body = sdk_send(sdk_world, request)
    event(f"{route.name} {'refused' if refused else 'either'}: {reply.status}")
    if refused:
        assert reply.status in (401, 403), f"{what} was let through: {reply.status} {body} on {request}"
        assert body["error"]["code"] in ("invalid_auth", "unauthorized", "forbidden"), body


@settings(max_examples=80)
@given(data=st.data())
def test_any_mix_of_malformed_sdk_parts(sdk_world: SdkWorld, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(SDK_ROUTES), label="route")
    request = sdk_template(sdk_world, route, data.draw(st.sampled_from(SDK_PREFIXES)))
    garbled = data.draw(
        st.sets(st.sampled_from(["method", "body", "authorization", "content_type"]), min_size=1, max_size=3),
        label="garbled",
    )
    credential = data.draw(sdk_credentials(sdk_world, route)) if "authorization" in garbled else None
    changes = {
        "method": lambda: data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])),
        "body": lambda: data.draw(bodies(sdk_world.resolve(route.body))),
        "authorization": lambda: credential[0],  # type: ignore[index]
        "content_type": lambda: data.draw(
            st.sampled_from(
                [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
            )
            | header_text
        ),
    }
    request = SdkRequest(**{**request.__dict__, **{part: changes[part]() for part in sorted(garbled)}})
    reply, body = sdk_send(sdk_world, request)
    event(f"{sorted(garbled)}: {reply.status}")
    if credential is not None and credential[1] is True and reply.status < 400:
        raise AssertionError(f"{credential[2]} was let through: {reply.status} {body} on {request}")


def test_an_sdk_profile_email_that_is_no_address_is_refused_like_the_v2_profile(sunshine_anonymous_sdk_user) -> None:
    reply = sunshine_anonymous_sdk_user.request(
        "PUT", f"appusers/{sunshine_anonymous_sdk_user.app_user_id}", json={"email": "not an email"}
    )
    assert reply.status == 400 and 'should match format \\"email\\"' in reply.text, reply.text
