"""Sunshine `passthrough:messaging`: an Apple Messages for Business client sends an interactive message by data
reference (the emulator-only hook stands in for Apple), webhooks subscribed to the trigger get the reference,
and `downloadMessageRef` takes it back. [I] the payload's shape: the spec gives no schema for this event."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.pytest_plugin import EmulatorHandle, SunshineApp
from emulator.pytest_plugin.webhooks import WebhookReceiver

T0 = "2026-03-01T00:00:00.000Z"
APPLE_INTEGRATION = "5e6f7a8b9c0d1e2f3a4b5c6d"
REF = {
    "url": "https://p61-content.icloud.com/M58C0A1A2EB62B6E.C01USN00",
    "bid": "com.apple.messages.MSMessageExtensionBalloonPlugin:0000000000:com.apple.icloud.apps.messages.business.extension",
    "key": "00c0d1827fdc858fe7b42421de1fb289",
    "signature": "81a619c81da5a01c6139219a5d20e174",
    "owner": "M58C0A2A1EB62B4E.C01USN00",
}
pytestmark = pytest.mark.emulator_time(T0)


@dataclass
class AppleUser:
    app: SunshineApp
    user_id: str
    apple_client: str
    whatsapp_client: str
    pending_client: str
    conversation_id: str
    lonely: tuple[str, str]  # another user's apple client, the user in no conversation


@pytest.fixture
def apple_user(emulator: EmulatorHandle) -> AppleUser:
    """An app whose user has an active apple client (and an active whatsapp and a pending apple one) and a conversation,
    and another user with an apple client and no conversation."""
    app_id, user_id, key_id, account_key_id = (
        secrets.token_hex(12),
        secrets.token_hex(12),
        f"app_{secrets.token_hex(12)}",
        f"act_{secrets.token_hex(12)}",
    )
    secret, account_secret = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    apple, whatsapp, pending, lonely_user, lonely_client = (secrets.token_hex(12) for _ in range(5))
    clients = [
        {"id": apple, "type": "apple", "status": "active", "integrationId": APPLE_INTEGRATION},
        {"id": whatsapp, "type": "whatsapp", "status": "active", "integrationId": secrets.token_hex(12)},
        {"id": pending, "type": "apple", "status": "pending", "integrationId": APPLE_INTEGRATION},
    ]
    lonely = {
        "id": lonely_user,
        "clients": [{"id": lonely_client, "type": "apple", "status": "active", "integrationId": APPLE_INTEGRATION}],
    }
    app = {
        "id": app_id,
        "keys": [{"id": key_id, "secret": secret}],
        "users": [{"id": user_id, "clients": clients}, lonely],
    }
    emulator.control.seed(
        {"sunshine": {"apps": [app], "account_keys": [{"id": account_key_id, "secret": account_secret}]}}
    )
    sunshine_app = SunshineApp(app_id, key_id, secret, account_key_id, account_secret, emulator)
    body = {"type": "personal", "participants": [{"userId": user_id}]}
    conversation = ok(sunshine_app.request("POST", "conversations", json=body), 201)["conversation"]
    return AppleUser(sunshine_app, user_id, apple, whatsapp, pending, conversation["id"], (lonely_user, lonely_client))


@pytest.fixture
def receivers(apple_user: AppleUser) -> Iterator[tuple[WebhookReceiver, WebhookReceiver]]:
    """A webhook on `passthrough:messaging` and one on every other trigger a message raises."""
    subscribed, other = WebhookReceiver(), WebhookReceiver()
    try:
        subscribed.sunshine_webhook(apple_user.app, ["passthrough:messaging"])
        other.sunshine_webhook(apple_user.app, ["conversation:message", "client:update", "conversation:create"])
        yield subscribed, other
    finally:
        subscribed.close()
        other.close()


def ok(reply: Any, status: int = 200) -> Any:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    return reply.json()


def send(emulator: EmulatorHandle, user: AppleUser, client_id: str, body: Any, user_id: str | None = None) -> Any:
    path = f"/__emulator/sunshine/apps/{user.app.id}/users/{user_id or user.user_id}/clients/{client_id}/passthrough"
    return emulator.post(path, json=body)


def test_an_apple_interactive_message_reaches_only_the_passthrough_webhooks(
    emulator: EmulatorHandle, apple_user: AppleUser, receivers: tuple[WebhookReceiver, WebhookReceiver]
) -> None:
    subscribed, other = receivers
    answered = ok(send(emulator, apple_user, apple_user.apple_client, {"interactiveDataRef": REF}))
    emulator.control.flush_deliveries()
    [event] = subscribed.events()
    assert set(event) == {"id", "type", "createdAt", "payload"}
    assert (event["type"], event["createdAt"]) == ("passthrough:messaging", T0)
    assert (
        event["payload"]
        == answered
        == {
            "conversation": {"id": apple_user.conversation_id, "type": "personal", "metadata": None},
            "user": {"id": apple_user.user_id, "externalId": None, "authenticated": False},
            "source": {"type": "apple", "integrationId": APPLE_INTEGRATION},
            "apple": {"interactiveDataRef": REF},
        }
    )
    assert other.events() == []
    # the reference goes back as downloadMessageRef's body takes it
    download = {"userId": event["payload"]["user"]["id"], "apple": event["payload"]["apple"]}
    assert (
        ok(apple_user.app.request("POST", f"conversations/{apple_user.conversation_id}/download", json=download)) == {}
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"interactiveDataRef": {k: v for k, v in REF.items() if k != "owner"}},
        {"interactiveDataRef": {**REF, "url": 5}},
        {"interactiveDataRef": {**REF, "key": ""}},
        {"interactiveDataRef": "ref"},
        ["interactiveDataRef"],
        "not an object",
    ],
)
def test_a_bad_body_is_refused_and_announces_nothing(
    emulator: EmulatorHandle, apple_user: AppleUser, receivers: tuple[WebhookReceiver, WebhookReceiver], body: Any
) -> None:
    reply = send(emulator, apple_user, apple_user.apple_client, body)
    assert (reply.status, reply.json()["errors"][0]["code"]) == (400, "bad_request")
    emulator.control.flush_deliveries()
    assert receivers[0].events() == [] and receivers[1].events() == []


def test_only_an_active_apple_client_of_a_user_with_a_conversation_sends(
    emulator: EmulatorHandle, apple_user: AppleUser, receivers: tuple[WebhookReceiver, WebhookReceiver]
) -> None:
    body = {"interactiveDataRef": REF}
    for client_id in (apple_user.whatsapp_client, apple_user.pending_client):
        reply = send(emulator, apple_user, client_id, body)
        assert (reply.status, reply.json()["errors"][0]["code"]) == (400, "bad_request")
    reply = send(emulator, apple_user, secrets.token_hex(12), body)
    assert (reply.status, reply.json()["errors"][0]["code"]) == (404, "client_not_found")
    lonely_user, lonely_client = apple_user.lonely
    reply = send(emulator, apple_user, lonely_client, body, user_id=lonely_user)
    assert (reply.status, reply.json()["errors"][0]["code"]) == (400, "bad_request")
    emulator.control.flush_deliveries()
    assert receivers[0].events() == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
# the reference with fields dropped or replaced by any JSON value, or any JSON value at all
refs = st.dictionaries(st.sampled_from(sorted(REF)), json_values, max_size=5).flatmap(
    lambda changed: st.sets(st.sampled_from(sorted(REF)), max_size=2).map(
        lambda dropped: {k: changed.get(k, v) for k, v in REF.items() if k not in dropped}
    )
)
bodies = st.one_of(refs.map(lambda ref: {"interactiveDataRef": ref}), json_values)


def acceptable(body: Any) -> bool:
    ref = body.get("interactiveDataRef") if isinstance(body, dict) else None
    return isinstance(ref, dict) and all(isinstance(ref.get(k), str) and ref[k] for k in REF)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_body_is_sent_or_refused_with_400_and_only_a_sent_one_is_announced(
    emulator: EmulatorHandle, apple_user: AppleUser, body: Any
) -> None:
    before = len(emulator.control.calls(method="EVENT", path="passthrough:messaging"))
    reply = send(emulator, apple_user, apple_user.apple_client, body)
    announced = len(emulator.control.calls(method="EVENT", path="passthrough:messaging")) - before
    if acceptable(body):
        assert (reply.status, announced) == (200, 1), reply.text
        assert reply.json()["apple"] == {"interactiveDataRef": {k: body["interactiveDataRef"][k] for k in REF}}
    else:
        assert (reply.status, reply.json()["errors"][0]["code"], announced) == (400, "bad_request", 0), reply.text


@pytest.mark.parametrize(
    "headers, status", [({}, 401), ({"X-Emulator-Token": "wrong"}, 401), ({"X-Emulator-Token": "sesame"}, 200)]
)
def test_the_passthrough_hook_needs_the_control_token(headers: dict, status: int) -> None:
    from emulator.app import create_app
    from emulator.config import EmulatorConfig, parse_seed

    app_id, user_id, client_id = (secrets.token_hex(12) for _ in range(3))
    key = {"id": f"app_{secrets.token_hex(8)}", "secret": secrets.token_urlsafe(18)}
    client = {"id": client_id, "type": "apple", "status": "active", "integrationId": APPLE_INTEGRATION}
    seed = parse_seed(
        {"sunshine": {"apps": [{"id": app_id, "keys": [key], "users": [{"id": user_id, "clients": [client]}]}]}}
    )
    http = create_app(EmulatorConfig(seed=seed, control_token="sesame")).test_client()
    basic = {"Authorization": "Basic " + base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()}
    created = http.post(
        f"/v2/apps/{app_id}/conversations",
        json={"type": "personal", "participants": [{"userId": user_id}]},
        headers=basic,
    )
    assert created.status_code == 201
    reply = http.post(
        f"/__emulator/sunshine/apps/{app_id}/users/{user_id}/clients/{client_id}/passthrough",
        json={"interactiveDataRef": REF},
        headers=headers,
    )
    assert reply.status_code == status
    if status == 200:
        assert reply.get_json()["apple"] == {"interactiveDataRef": REF}
