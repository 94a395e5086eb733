"""Sunshine Conversations webhook triggers past messages (the spec's "Webhook Triggers" table): read and typing
(v2 PostActivity and the SDK's activity route), postbacks and referrals from the SDK, deliveries of business
messages to channel clients, channel links completed or failed, `client:add` for SDK clients,
`creationReason`, and the SDK routes that raise them (files, authcode, upgrade, push token, config).

Every delivered event is checked against its schema in the published spec (`sunshine_event_schemas`).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from sunshine_event_schemas import check_event

from emulator.pytest_plugin import EmulatorHandle, SunshineApp, SunshineSdkUser
from emulator.pytest_plugin.sunshine_webhooks import SunshineWebhookEvents

T0 = "2026-03-01T00:00:00.000Z"
WHATSAPP = {
    "type": "whatsapp",
    "integrationId": "582dedf230e788746891281a",
    "primary": True,
    "phoneNumber": "+1 212-555-2368",
}
pytestmark = pytest.mark.emulator_time(T0)


def ok(reply: Any, status: int = 200) -> Any:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    return reply.json()


def checked(events: list[dict]) -> list[dict]:
    for event in events:
        check_event(event)
    return events


def sdk_conversation(user: SunshineSdkUser) -> str:
    answer = ok(user.request("POST", f"appusers/{user.app_user_id}/conversations", json={}), 201)
    return answer["conversation"]["_id"]


def business_says(app: SunshineApp, conversation_id: str, content: dict) -> dict:
    body = {"author": {"type": "business"}, "content": content}
    return ok(app.request("POST", f"conversations/{conversation_id}/messages", json=body), 201)["messages"][0]


def v1_error(code: str, description: str) -> dict:
    return {"error": {"code": code, "description": description}}


# --- read and typing ---------------------------------------------------------------------------------


def test_typing_and_read_round_trip(
    sunshine_app: SunshineApp,
    sunshine_anonymous_sdk_user: SunshineSdkUser,
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    """The user types and reads in the widget, the bot sees it; the bot types and reads through v2, the
    SDK sees `businessLastRead` and the bot's webhook gets nothing of its own doing."""
    user, events = sunshine_anonymous_sdk_user, sunshine_webhook_events
    conversation_id = sdk_conversation(user)
    business_says(sunshine_app, conversation_id, {"type": "text", "text": "How can I help?"})
    events.clear()

    assert (
        ok(
            user.request(
                "POST", f"conversations/{conversation_id}/activity", json={"activity": {"type": "typing:start"}}
            )
        )
        == {}
    )
    assert (
        ok(
            user.request(
                "POST", f"conversations/{conversation_id}/activity", json={"activity": {"type": "typing:stop"}}
            )
        )
        == {}
    )
    typing = checked(events.wait_for("conversation:typing", 2))
    author = {
        "type": "user",
        "userId": user.app_user_id,
        "user": {"id": user.app_user_id, "externalId": None, "authenticated": False},
    }
    assert [e["payload"]["activity"] for e in typing] == [
        {"type": "typing:start", "author": author, "source": {"type": "web"}},
        {"type": "typing:stop", "author": author, "source": {"type": "web"}},
    ]
    assert typing[0]["payload"]["conversation"]["id"] == conversation_id

    participant = ok(sunshine_app.request("GET", f"conversations/{conversation_id}/participants"))["participants"][0]
    assert participant["unreadCount"] == 1
    assert (
        ok(
            user.request(
                "POST", f"conversations/{conversation_id}/activity", json={"activity": {"type": "conversation:read"}}
            )
        )
        == {}
    )
    [read] = checked(events.wait_for("conversation:read"))
    assert (read["payload"]["activity"]["type"], read["payload"]["activity"]["author"]["userId"]) == (
        "conversation:read",
        user.app_user_id,
    )
    participant = ok(sunshine_app.request("GET", f"conversations/{conversation_id}/participants"))["participants"][0]
    assert (participant["unreadCount"], participant["lastRead"]) == (0, T0)

    # the bot's side: its typing and read change what the user sees, and announce nothing
    events.clear()
    for kind in ("typing:start", "typing:stop", "conversation:read"):
        assert (
            ok(
                sunshine_app.request(
                    "POST",
                    f"conversations/{conversation_id}/activity",
                    json={"author": {"type": "business"}, "type": kind},
                )
            )
            == {}
        )
    assert ok(sunshine_app.request("GET", f"conversations/{conversation_id}"))["conversation"]["businessLastRead"] == T0
    assert events.wait_for("*", 0) == []


def test_a_v2_read_by_a_user_author_is_announced(
    sunshine_app: SunshineApp, sunshine_conversation: Any, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    user_id = sunshine_conversation.user.id
    body = {"author": {"type": "user", "userId": user_id}, "type": "conversation:read"}
    assert ok(sunshine_app.request("POST", f"conversations/{sunshine_conversation.id}/activity", json=body)) == {}
    [read] = checked(sunshine_webhook_events.wait_for("conversation:read"))
    assert read["payload"]["activity"]["source"] == {"type": "api:conversations"}


def test_a_refused_activity_announces_nothing(
    sunshine_anonymous_sdk_user: SunshineSdkUser, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    conversation_id = sdk_conversation(sunshine_anonymous_sdk_user)
    sunshine_webhook_events.clear()
    reply = sunshine_anonymous_sdk_user.request(
        "POST", f"conversations/{conversation_id}/activity", json={"activity": {"type": "typing:sideways"}}
    )
    assert reply.status == 400 and "error" in reply.json()
    assert sunshine_anonymous_sdk_user.request(
        "POST", f"conversations/{'0' * 24}/activity", json={"activity": {"type": "typing:start"}}
    ).json() == v1_error("conversation_not_found", "Conversation not found")
    assert sunshine_webhook_events.wait_for("*", 0) == []


# --- postbacks and referrals ---------------------------------------------------------------------------


def test_a_postback_from_the_sdk_reaches_the_bots_webhook(
    sunshine_app: SunshineApp,
    sunshine_anonymous_sdk_user: SunshineSdkUser,
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user = sunshine_anonymous_sdk_user
    conversation_id = sdk_conversation(user)
    actions = [
        {"type": "link", "text": "Docs", "uri": "https://example.com"},
        {"type": "postback", "text": "Track my order", "payload": "TRACK_ORDER", "metadata": {"order": "A-17"}},
    ]
    business_says(sunshine_app, conversation_id, {"type": "text", "text": "Pick one", "actions": actions})
    shown = ok(user.request("GET", f"conversations/{conversation_id}/messages"))["messages"][-1]
    action_ids = [a["_id"] for a in shown["actions"]]
    assert len(set(action_ids)) == 2 and all(len(i) == 24 for i in action_ids)

    assert (
        ok(
            user.request(
                "POST", f"conversations/{conversation_id}/postback", json={"postback": {"actionId": action_ids[1]}}
            )
        )
        == {}
    )
    [event] = checked(sunshine_webhook_events.wait_for("conversation:postback"))
    assert event["payload"] == {
        "conversation": {"id": conversation_id, "type": "personal", "metadata": None},
        "user": {"id": user.app_user_id, "externalId": None, "authenticated": False},
        "postback": {"payload": "TRACK_ORDER", "metadata": {"order": "A-17"}},
        "source": {"type": "web"},
    }
    # a link is no postback, and an unknown id none either
    for action_id in (action_ids[0], "f" * 24):
        reply = user.request(
            "POST", f"conversations/{conversation_id}/postback", json={"postback": {"actionId": action_id}}
        )
        assert (reply.status, reply.json()["error"]["code"]) == (400, "bad_request")
    assert len(sunshine_webhook_events.wait_for("conversation:postback")) == 1


def test_a_postback_of_a_carousel_item(
    sunshine_app: SunshineApp,
    sunshine_anonymous_sdk_user: SunshineSdkUser,
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user = sunshine_anonymous_sdk_user
    conversation_id = sdk_conversation(user)
    items = [{"title": t, "actions": [{"type": "postback", "text": "Buy", "payload": f"BUY_{t}"}]} for t in ("A", "B")]
    business_says(sunshine_app, conversation_id, {"type": "carousel", "items": items})
    shown = ok(user.request("GET", f"conversations/{conversation_id}/messages"))["messages"][-1]
    second = shown["items"][1]["actions"][0]["_id"]
    ok(user.request("POST", f"conversations/{conversation_id}/postback", json={"postback": {"actionId": second}}))
    assert sunshine_webhook_events.payloads("conversation:postback")[0]["postback"]["payload"] == "BUY_B"


def test_a_referral_from_the_sdk(
    sunshine_anonymous_sdk_user: SunshineSdkUser, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    conversation_id = sdk_conversation(sunshine_anonymous_sdk_user)
    body = {"referral": {"code": "spring-sale", "details": {"source": "ad", "type": "ads", "adId": "123"}}}
    assert ok(sunshine_anonymous_sdk_user.request("POST", f"conversations/{conversation_id}/referral", json=body)) == {}
    [event] = checked(sunshine_webhook_events.wait_for("conversation:referral"))
    assert event["payload"]["referral"] == body["referral"]
    assert (event["payload"]["user"]["id"], event["payload"]["source"]) == (
        sunshine_anonymous_sdk_user.app_user_id,
        {"type": "web"},
    )


# --- conversation:create, client:add ---------------------------------------------------------------


def test_creation_reasons_and_the_sdk_client(
    sunshine_app: SunshineApp, sunshine_user: Any, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    events = sunshine_webhook_events
    client_id = secrets.token_hex(16)
    created = ok(
        sunshine_app.handle.post(
            f"/sdk/v2/apps/{sunshine_app.id}/appusers",
            json={"client": {"id": client_id, "platform": "ios"}, "intent": "conversation:start"},
        ),
        201,
    )
    [add] = checked(events.wait_for("client:add"))
    assert (add["payload"]["user"]["id"], add["payload"]["client"]["type"], add["payload"]["source"]) == (
        created["appUser"]["_id"],
        "sdk",
        {"type": "ios"},
    )
    assert "reason" not in add["payload"]
    ok(
        sunshine_app.request(
            "POST",
            "conversations",
            json={"type": "personal", "participants": [{"userId": sunshine_user.id, "subscribeSDKClient": True}]},
        ),
        201,
    )
    creates = checked(events.wait_for("conversation:create", 2))
    assert [(c["payload"]["creationReason"], c["payload"]["source"]["type"]) for c in creates] == [
        ("startConversation", "ios"),
        ("none", "api:conversations"),
    ]
    adds = checked(events.wait_for("client:add", 2))
    assert (adds[1]["payload"]["user"]["id"], adds[1]["payload"]["source"]) == (
        sunshine_user.id,
        {"type": "api:conversations"},
    )


# --- channel links and deliveries ----------------------------------------------------------------------


def hook(
    emulator: EmulatorHandle, app: SunshineApp, user_id: str, client_id: str, body: dict, token: str | None = None
) -> Any:
    headers = {"X-Emulator-Token": token} if token else {}
    return emulator.post(
        f"/__emulator/sunshine/apps/{app.id}/users/{user_id}/clients/{client_id}", json=body, headers=headers
    )


@pytest.fixture
def linked(emulator: EmulatorHandle, sunshine_app: SunshineApp, sunshine_conversation: Any) -> tuple[str, str]:
    """A WhatsApp client of the conversation's user, pending: (user id, client id)."""
    body = {
        "matchCriteria": WHATSAPP,
        "confirmation": {"type": "immediate"},
        "target": {"conversationId": sunshine_conversation.id},
    }
    client = ok(sunshine_app.request("POST", f"users/{sunshine_conversation.user.id}/clients", json=body), 201)[
        "client"
    ]
    assert client["status"] == "pending"
    return sunshine_conversation.user.id, client["id"]


def test_a_completed_link_is_a_client_update_and_then_deliveries_are_reported(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_conversation: Any,
    linked: tuple[str, str],
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user_id, client_id = linked
    events = sunshine_webhook_events
    business_says(sunshine_app, sunshine_conversation.id, {"type": "text", "text": "before the link"})
    assert events.wait_for("conversation:message:delivery:user", 0) == []  # a pending client gets nothing

    moved = ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed"}))["client"]
    assert (moved["id"], moved["status"], moved["linkedAt"]) == (client_id, "active", T0)
    [update] = checked(events.wait_for("client:update"))
    assert (update["payload"]["reason"], update["payload"]["client"]["status"]) == ("confirmed", "active")
    assert update["payload"]["conversation"]["id"] == sunshine_conversation.id

    message = business_says(sunshine_app, sunshine_conversation.id, {"type": "text", "text": "after the link"})
    [channel] = checked(events.wait_for("conversation:message:delivery:channel"))
    [user] = checked(events.wait_for("conversation:message:delivery:user"))
    destination = {"type": "whatsapp", "integrationId": WHATSAPP["integrationId"]}
    for event, final in ((channel, False), (user, True)):
        payload = event["payload"]
        assert (payload["message"], payload["destination"], payload["isFinalEvent"]) == (
            {"id": message["id"]},
            destination,
            final,
        )
        assert payload["user"]["id"] == user_id and len(payload["externalMessages"]) == 1
    assert channel["payload"]["externalMessages"] == user["payload"]["externalMessages"]
    # a user's own message is not delivered back to it
    ok(
        sunshine_app.request(
            "POST",
            f"conversations/{sunshine_conversation.id}/messages",
            json={"author": {"type": "user", "userId": user_id}, "content": {"type": "text", "text": "hi"}},
        ),
        201,
    )
    assert len(events.wait_for("conversation:message:delivery:user")) == 1


def test_a_client_flagged_to_fail_reports_a_delivery_failure(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_conversation: Any,
    linked: tuple[str, str],
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user_id, client_id = linked
    error = {"code": "uncategorized_error", "message": "The user blocked the business"}
    ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed", "deliveryError": error}))
    message = business_says(sunshine_app, sunshine_conversation.id, {"type": "text", "text": "are you there?"})
    [failure] = checked(sunshine_webhook_events.wait_for("conversation:message:delivery:failure"))
    assert (failure["payload"]["message"]["id"], failure["payload"]["error"], failure["payload"]["isFinalEvent"]) == (
        message["id"],
        error,
        True,
    )
    assert sunshine_webhook_events.events("conversation:message:delivery:user") == []
    # the flag cleared, deliveries succeed again
    ok(hook(emulator, sunshine_app, user_id, client_id, {"deliveryError": None}))
    business_says(sunshine_app, sunshine_conversation.id, {"type": "text", "text": "again"})
    assert len(sunshine_webhook_events.wait_for("conversation:message:delivery:user")) == 1


def test_a_failed_link_removes_the_client(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_conversation: Any,
    linked: tuple[str, str],
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user_id, client_id = linked
    ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "failed"}))
    [removed] = checked(sunshine_webhook_events.wait_for("client:remove"))
    assert (removed["payload"]["reason"], removed["payload"]["client"]["id"]) == ("linkFailed", client_id)
    assert removed["payload"]["conversation"]["id"] == sunshine_conversation.id
    clients = ok(sunshine_app.request("GET", f"users/{user_id}/clients"))["clients"]
    assert client_id not in [c["id"] for c in clients]
    # the link is over: no second move
    reply = hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed"})
    assert (reply.status, reply.json()["errors"][0]["code"]) == (404, "client_not_found")


def test_only_a_pending_link_can_complete(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, linked: tuple[str, str]
) -> None:
    user_id, client_id = linked
    ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed"}))
    reply = hook(emulator, sunshine_app, user_id, client_id, {"link": "failed"})
    assert (reply.status, reply.json()["errors"][0]["code"]) == (400, "bad_request")
    assert hook(emulator, sunshine_app, user_id, client_id, {"link": "sideways"}).status == 400


def test_a_matched_link_is_a_client_update_and_stays_pending(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_conversation: Any,
    linked: tuple[str, str],
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    """[C] client:update `matched`: the channel found a user that matches; [I] the link then still has to be confirmed."""
    user_id, client_id = linked
    moved = ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "matched"}))["client"]
    assert moved["status"] == "pending"
    ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed"}))
    updates = checked(sunshine_webhook_events.wait_for("client:update", 2))
    assert [(u["payload"]["reason"], u["payload"]["client"]["status"]) for u in updates] == [
        ("matched", "pending"),
        ("confirmed", "active"),
    ]
    assert (
        updates[0]["payload"]["conversation"]["id"] == sunshine_conversation.id
        and updates[0]["payload"]["user"]["id"] == user_id
    )


def test_a_user_blocks_and_unblocks_the_business(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_conversation: Any,
    linked: tuple[str, str],
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    """[C] client:update `blocked` (the user unsubscribed) and `unblocked` (resubscribed); the client's status is
    `blocked` in between, and [I] a blocked client gets no deliveries."""
    user_id, client_id = linked
    events = sunshine_webhook_events
    refused = hook(emulator, sunshine_app, user_id, client_id, {"subscription": "blocked"})  # still pending
    assert (refused.status, refused.json()["errors"][0]["code"]) == (400, "bad_request")
    ok(hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed"}))
    assert (
        ok(hook(emulator, sunshine_app, user_id, client_id, {"subscription": "blocked"}))["client"]["status"]
        == "blocked"
    )
    [listed] = [
        c for c in ok(sunshine_app.request("GET", f"users/{user_id}/clients"))["clients"] if c["id"] == client_id
    ]
    assert listed["status"] == "blocked"
    business_says(sunshine_app, sunshine_conversation.id, {"type": "text", "text": "anyone?"})
    assert events.wait_for("conversation:message:delivery:user", 0) == []
    again = hook(emulator, sunshine_app, user_id, client_id, {"subscription": "blocked"})
    assert again.status == 400
    assert (
        ok(hook(emulator, sunshine_app, user_id, client_id, {"subscription": "unblocked"}))["client"]["status"]
        == "active"
    )
    updates = checked(events.wait_for("client:update", 3))
    assert [(u["payload"]["reason"], u["payload"]["client"]["status"]) for u in updates] == [
        ("confirmed", "active"),
        ("blocked", "blocked"),
        ("unblocked", "active"),
    ]
    business_says(sunshine_app, sunshine_conversation.id, {"type": "text", "text": "welcome back"})
    assert len(events.wait_for("conversation:message:delivery:user")) == 1


def test_a_move_is_a_link_step_or_a_subscription_change_not_both(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, linked: tuple[str, str]
) -> None:
    user_id, client_id = linked
    reply = hook(emulator, sunshine_app, user_id, client_id, {"link": "confirmed", "subscription": "blocked"})
    assert (reply.status, reply.json()["errors"][0]["code"]) == (400, "bad_request")
    [listed] = [
        c for c in ok(sunshine_app.request("GET", f"users/{user_id}/clients"))["clients"] if c["id"] == client_id
    ]
    assert listed["status"] == "pending"


@pytest.mark.parametrize(
    "headers, status", [({}, 401), ({"X-Emulator-Token": "wrong"}, 401), ({"X-Emulator-Token": "sesame"}, 200)]
)
def test_the_link_hook_needs_the_control_token(headers: dict, status: int) -> None:
    from emulator.app import create_app
    from emulator.config import EmulatorConfig, parse_seed

    app_id, user_id, client_id = (secrets.token_hex(12) for _ in range(3))
    client = {"id": client_id, "type": "whatsapp", "status": "pending", "integrationId": WHATSAPP["integrationId"]}
    key = {"id": f"app_{secrets.token_hex(8)}", "secret": secrets.token_urlsafe(18)}
    seed = parse_seed(
        {"sunshine": {"apps": [{"id": app_id, "keys": [key], "users": [{"id": user_id, "clients": [client]}]}]}}
    )
    http = create_app(EmulatorConfig(seed=seed, control_token="sesame")).test_client()
    reply = http.post(
        f"/__emulator/sunshine/apps/{app_id}/users/{user_id}/clients/{client_id}",
        json={"link": "confirmed"},
        headers=headers,
    )
    assert reply.status_code == status
    basic = base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()
    [listed] = http.get(
        f"/v2/apps/{app_id}/users/{user_id}/clients", headers={"Authorization": f"Basic {basic}"}
    ).get_json()["clients"]
    assert listed["status"] == ("active" if status == 200 else "pending")  # a refused hook changes nothing


# --- SDK routes: files, authcode, upgrade, push token, config ------------------------------------------


def multipart(fields: dict[str, tuple[str | None, bytes, str | None]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(8)
    parts = []
    for name, (filename, data, content_type) in fields.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n" + (
            f"Content-Type: {content_type}\r\n" if content_type else ""
        )
        parts.append(head.encode() + b"\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_file_from_the_sdk_is_a_message_with_a_served_media_url(
    emulator: EmulatorHandle,
    sunshine_app: SunshineApp,
    sunshine_anonymous_sdk_user: SunshineSdkUser,
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user = sunshine_anonymous_sdk_user
    conversation_id = sdk_conversation(user)
    png = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(64)
    data, content_type = multipart(
        {"source": ("photo.png", png, "image/png"), "message": (None, b'{"text": "my receipt"}', None)}
    )
    answer = ok(
        user.request(
            "POST", f"conversations/{conversation_id}/files", data=data, headers={"Content-Type": content_type}
        ),
        201,
    )
    message = answer["message"]
    assert (message["type"], message["text"], message["mediaType"], message["role"]) == (
        "image",
        "my receipt",
        "image/png",
        "appUser",
    )
    [event] = checked(sunshine_webhook_events.wait_for("conversation:message"))[-1:]
    assert event["payload"]["message"]["content"]["mediaUrl"] == message["mediaUrl"]
    served = emulator.get(message["mediaUrl"].split("localhost", 1)[-1])
    assert (served.status, served.headers["Content-Type"], served.body) == (200, "image/png", png)
    # deleting the message deletes the upload [C]
    ok(sunshine_app.request("DELETE", f"conversations/{conversation_id}/messages/{message['_id']}"))
    assert emulator.get(message["mediaUrl"].split("localhost", 1)[-1]).status == 404


def test_an_auth_code_opens_a_session_for_its_user(
    sunshine_app: SunshineApp, sunshine_user: Any, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    key = base64.b64encode(f"{sunshine_app.key_id}:{sunshine_app.secret}".encode()).decode()
    code = ok(
        sunshine_app.handle.get(
            f"/v1.1/apps/{sunshine_app.id}/appusers/{sunshine_user.id}/authcode",
            headers={"Authorization": f"Basic {key}"},
        )
    )["authCode"]
    client_id = secrets.token_hex(16)
    path = f"/sdk/v2/apps/{sunshine_app.id}/appusers/authcode"
    answer = ok(
        sunshine_app.handle.post(path, json={"authCode": code, "client": {"id": client_id, "platform": "android"}})
    )
    assert (answer["appUser"]["_id"], answer["appUser"]["userId"]) == (sunshine_user.id, sunshine_user.external_id)
    session = SunshineSdkUser(sunshine_app, sunshine_user.id, client_id, session_token=answer["sessionToken"])
    assert ok(session.request("GET", f"appusers/{sunshine_user.id}"))["appUser"]["_id"] == sunshine_user.id
    [add] = checked(sunshine_webhook_events.wait_for("client:add"))
    assert (add["payload"]["reason"], add["payload"]["source"]) == ("authCode", {"type": "android"})
    # single use
    reply = sunshine_app.handle.post(path, json={"authCode": code, "client": {"id": client_id}})
    assert (reply.status, reply.json()["error"]["code"]) == (400, "bad_request")


def test_an_auth_code_expires(sunshine_app: SunshineApp, sunshine_user: Any, emulator_clock: Any) -> None:
    key = base64.b64encode(f"{sunshine_app.key_id}:{sunshine_app.secret}".encode()).decode()
    code = ok(
        sunshine_app.handle.get(
            f"/v1.1/apps/{sunshine_app.id}/appusers/{sunshine_user.id}/authcode",
            headers={"Authorization": f"Basic {key}"},
        )
    )["authCode"]
    emulator_clock.advance("601s")
    reply = sunshine_app.handle.post(
        f"/sdk/v2/apps/{sunshine_app.id}/appusers/authcode", json={"authCode": code, "client": {"id": "c1"}}
    )
    assert reply.status == 400


def test_upgrade_gives_the_install_a_new_session(
    sunshine_app: SunshineApp, sunshine_anonymous_sdk_user: SunshineSdkUser
) -> None:
    user = sunshine_anonymous_sdk_user
    for prefix in ("/sdk/v2", "/sdk"):
        answer = ok(
            sunshine_app.handle.post(
                f"{prefix}/apps/{sunshine_app.id}/appusers/upgrade", json={"clientId": user.client_id}
            )
        )
        assert answer["appUser"]["_id"] == user.app_user_id
        renewed = SunshineSdkUser(sunshine_app, user.app_user_id, user.client_id, session_token=answer["sessionToken"])
        assert ok(renewed.request("GET", f"appusers/{user.app_user_id}"))["appUser"]["_id"] == user.app_user_id
    assert user.request("GET", f"appusers/{user.app_user_id}").status == 401  # the old token is replaced
    reply = sunshine_app.handle.post(
        f"/sdk/v2/apps/{sunshine_app.id}/appusers/upgrade", json={"clientId": "never-seen"}
    )
    assert reply.json() == v1_error("user_not_found", "User not found")


def test_the_push_token_of_an_install(
    sunshine_app: SunshineApp,
    sunshine_logged_in_sdk_user: SunshineSdkUser,
    sunshine_webhook_events: SunshineWebhookEvents,
) -> None:
    user = sunshine_logged_in_sdk_user
    path = f"appusers/{user.app_user_id}/clients/{user.client_id}"
    client = ok(user.request("PUT", path, json={"pushNotificationToken": "fcm-token-1", "appVersion": "2.0"}))["client"]
    assert (client["id"], client["pushNotificationToken"], client["appVersion"]) == (
        user.client_id,
        "fcm-token-1",
        "2.0",
    )
    [device] = ok(sunshine_app.request("GET", f"users/{user.app_user_id}/devices"))["devices"]
    assert device["pushNotificationToken"] == "fcm-token-1"
    assert user.request(
        "PUT", f"appusers/{user.app_user_id}/clients/other", json={"pushNotificationToken": "x"}
    ).json() == v1_error("client_not_found", "Client not found")
    assert user.request("PUT", path, json={}).status == 400
    assert sunshine_webhook_events.wait_for("*", 0) == []  # [I] no event for a push token


def test_the_sdk_config_of_a_seeded_web_integration(emulator: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    integration_id = secrets.token_hex(12)
    emulator.control.seed(
        {
            "sunshine": {
                "apps": [
                    {
                        "id": sunshine_app.id,
                        "displayName": "Shop",
                        "keys": [{"id": sunshine_app.key_id, "secret": sunshine_app.secret}],
                        "integrations": [{"id": integration_id, "type": "web"}],
                    }
                ]
            }
        }
    )
    headers = {"x-smooch-appid": sunshine_app.id}
    config = ok(emulator.get(f"/sdk/v2/integrations/{integration_id}/config", headers=headers))["config"]
    assert config["app"] == {"_id": sunshine_app.id, "name": "Shop", "status": "active", "settings": {}}
    assert config["baseUrl"]["web"].endswith("/sdk/") and config["integrations"] == [
        {"_id": integration_id, "type": "web"}
    ]
    assert emulator.get(f"/sc/sdk/v2/integrations/{integration_id}/config", headers=headers).status == 200
    custom = ok(
        sunshine_app.request(
            "POST",
            "integrations",
            json={"type": "custom", "webhooks": [{"target": "https://example.com/h", "triggers": ["*"]}]},
        ),
        201,
    )["integration"]["id"]
    for wanted in (custom, "0" * 24):
        assert emulator.get(f"/sdk/v2/integrations/{wanted}/config", headers=headers).json() == v1_error(
            "integration_not_found", "Integration not found"
        )
    assert emulator.get(f"/sdk/v2/integrations/{integration_id}/config").json() == v1_error(
        "app_not_found", "App not found"
    )
