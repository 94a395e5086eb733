"""Sunshine Conversations webhook delivery (reference section 5): every event a v2 call raises is POSTed to
each webhook of the app that subscribes to it, with the webhook's secret in `X-API-Key`; failures are retried
on the emulated clock; the control API lists, flushes, holds and releases deliveries.

Deliveries go out in the background; a test calls `flush_deliveries()` (or moves the clock, which waits for
the attempts it made due) before it reads what the `emulator_webhook_receiver` got. No test sleeps.
"""

from __future__ import annotations

import json
import secrets

import pytest
import requests

from emulator.core.clock import format_instant, parse_instant
from emulator.providers.sunshine import webhooks
from emulator.providers.sunshine.models import App, Client, Device, User, Webhook
from emulator.pytest_plugin import WebhookReceiver

T0 = "2026-03-01T00:00:00.000Z"
WHATSAPP = {
    "type": "whatsapp",
    "integrationId": "582dedf230e788746891281a",
    "primary": True,
    "phoneNumber": "+1 212-555-2368",
}
API_SOURCE = {"type": "api:conversations"}

pytestmark = pytest.mark.emulator_time(T0)


# --- helpers ---------------------------------------------------------------------------------------------


def created(reply, wrapper):
    assert reply.status == 201, reply.text
    return reply.json()[wrapper]


def new_user(app, **fields):
    body = {"externalId": f"ext-{secrets.token_hex(5)}", **fields}
    return created(app.request("POST", "users", json=body), "user")


def new_conversation(app, kind, *users, subscribe=False):
    participants = [{"userId": u["id"], "subscribeSDKClient": subscribe} for u in users]
    return created(
        app.request("POST", "conversations", json={"type": kind, "participants": participants}), "conversation"
    )


def text(value="hi", **author):
    return {"author": author or {"type": "business"}, "content": {"type": "text", "text": value}}


def truncated(user):
    return {"id": user["id"], "externalId": user["externalId"], "authenticated": False}


def flushed(emulator, receiver):
    """Every due delivery attempted and every attempt ended: what the receiver got, oldest first."""
    emulator.control.flush_deliveries()
    return receiver.deliveries


def flushed_events(emulator, receiver):
    """The events of every delivery the receiver got, oldest first, once every due one was attempted."""
    emulator.control.flush_deliveries()
    return receiver.events()


def only_event(emulator, receiver):
    [received] = flushed(emulator, receiver)
    [event] = received.body["events"]
    return event


@pytest.fixture
def hook(sunshine_app, emulator_webhook_receiver):
    """A webhook of every trigger targeting the receiver, created through the API."""
    return emulator_webhook_receiver.sunshine_webhook(sunshine_app)


# --- how a webhook is set up, and what one delivery looks like -------------------------------------------


def test_a_custom_integration_with_a_webhook_receives_the_events_of_a_call(
    emulator, sunshine_app, emulator_webhook_receiver
):
    # the plain way, without the receiver's helper: POST /v2/apps/{app}/integrations with one webhook
    body = {
        "type": "custom",
        "displayName": "my bot",
        "webhooks": [{"target": emulator_webhook_receiver.url, "triggers": ["conversation:message"]}],
    }
    webhook = created(sunshine_app.request("POST", "integrations", json=body), "integration")["webhooks"][0]
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)
    message = created(
        sunshine_app.request("POST", f"conversations/{conversation['id']}/messages", json=text("hello")), "messages"
    )[0]

    [received] = flushed(emulator, emulator_webhook_receiver)
    assert received.method == "POST" and received.path == "/webhook"
    assert received.headers["X-API-Key"] == webhook["secret"]
    assert received.headers["Content-Type"] == "application/json"
    [event] = received.body["events"]
    assert received.body == {
        "app": {"id": sunshine_app.id},
        "webhook": {"id": webhook["id"], "version": "v2"},
        "events": [event],
    }
    assert set(event) == {"id", "type", "createdAt", "payload"} and len(event["id"]) == 24
    assert (event["type"], event["createdAt"]) == ("conversation:message", T0)
    assert event["payload"] == {
        "conversation": {"id": conversation["id"], "type": "personal", "metadata": None},
        "message": message,
    }


def test_the_delivered_event_is_the_journaled_event(emulator, sunshine_app, emulator_webhook_receiver, hook):
    user = new_user(sunshine_app)
    new_conversation(sunshine_app, "personal", user)
    [journaled] = emulator.control.calls(method="EVENT", path="conversation:create")
    assert only_event(emulator, emulator_webhook_receiver) == json.loads(journaled["request_body"])


# --- payload per event type ------------------------------------------------------------------------------


def test_conversation_create(emulator, sunshine_app, emulator_webhook_receiver, hook):
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)
    event = only_event(emulator, emulator_webhook_receiver)
    assert event["type"] == "conversation:create"
    assert event["payload"] == {
        "conversation": {"id": conversation["id"], "type": "personal", "metadata": None},
        "creationReason": "none",
        "source": API_SOURCE,
        "user": user,
    }


def test_conversation_message_from_a_user_carries_the_truncated_user(
    emulator, sunshine_app, emulator_webhook_receiver, hook
):
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)
    emulator.control.flush_deliveries()
    emulator_webhook_receiver.clear()
    reply = sunshine_app.request(
        "POST",
        f"conversations/{conversation['id']}/messages",
        json=text("from the user", type="user", userId=user["id"]),
    )
    message = created(reply, "messages")[0]
    event = only_event(emulator, emulator_webhook_receiver)
    assert event["type"] == "conversation:message"
    author = event["payload"]["message"]["author"]
    assert author == {**message["author"], "user": truncated(user)}
    assert author["type"] == "user" and author["userId"] == user["id"]
    assert event["payload"]["message"]["content"] == {"type": "text", "text": "from the user"}


def test_conversation_message_fires_for_business_messages_too(emulator, sunshine_app, emulator_webhook_receiver, hook):
    conversation = new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    emulator.control.flush_deliveries()
    emulator_webhook_receiver.clear()
    sunshine_app.request("POST", f"conversations/{conversation['id']}/messages", json=text("from the bot"))
    event = only_event(emulator, emulator_webhook_receiver)
    assert event["type"] == "conversation:message"
    assert event["payload"]["message"]["author"]["type"] == "business"
    assert "user" not in event["payload"]["message"]["author"]


def test_join_leave_and_remove(emulator, sunshine_app, emulator_webhook_receiver, hook):
    user = new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup")
    emulator.control.flush_deliveries()
    emulator_webhook_receiver.clear()
    created(
        sunshine_app.request(
            "POST", f"conversations/{group['id']}/join", json={"userId": user["id"], "subscribeSDKClient": False}
        ),
        "participant",
    )
    assert sunshine_app.request("POST", f"conversations/{group['id']}/leave", json={"userId": user["id"]}).status == 200
    assert sunshine_app.request("DELETE", f"conversations/{group['id']}").status == 200

    received = flushed(emulator, emulator_webhook_receiver)
    kinds = [[e["type"] for e in r.body["events"]] for r in received]
    assert kinds == [["conversation:join"], ["conversation:leave"], ["conversation:remove"]], (
        "one delivery per call, in order"
    )
    join, leave, remove = (r.body["events"][0]["payload"] for r in received)
    conversation = {"id": group["id"], "type": "sdkGroup", "metadata": None}
    assert join == {"conversation": conversation, "user": truncated(user)}
    assert leave == {"conversation": conversation, "user": truncated(user)}
    assert remove == {"conversation": conversation}


def test_user_remove_and_no_update_for_a_patch(emulator, sunshine_app, emulator_webhook_receiver, hook):
    user = new_user(sunshine_app)
    assert sunshine_app.request("PATCH", f"users/{user['id']}", json={"profile": {"givenName": "Ada"}}).status == 200
    assert sunshine_app.request("DELETE", f"users/{user['id']}").status == 200
    [remove] = (
        r.body["events"][0] for r in flushed(emulator, emulator_webhook_receiver)
    )  # [C] user:update: identification only
    assert (remove["type"], remove["payload"]) == ("user:remove", {"user": truncated(user)})


def test_client_add_and_remove(emulator, sunshine_app, emulator_webhook_receiver, hook):
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)
    emulator.control.flush_deliveries()
    emulator_webhook_receiver.clear()
    link = {
        "matchCriteria": WHATSAPP,
        "confirmation": {"type": "immediate"},
        "target": {"conversationId": conversation["id"]},
    }
    client = created(sunshine_app.request("POST", f"users/{user['id']}/clients", json=link), "client")
    assert sunshine_app.request("DELETE", f"users/{user['id']}/clients/{client['id']}").status == 200
    add, remove = (r.body["events"][0] for r in flushed(emulator, emulator_webhook_receiver))
    assert add["type"] == "client:add"
    assert add["payload"] == {
        "user": truncated(user),
        "client": client,
        "reason": "channelLinking",
        "conversation": {"id": conversation["id"], "type": "personal", "metadata": None},
        "source": API_SOURCE,
    }
    assert (remove["type"], remove["payload"]) == (
        "client:remove",
        {"user": truncated(user), "client": client, "reason": "api", "source": API_SOURCE},
    )


def test_a_call_without_events_delivers_nothing(emulator, sunshine_app, emulator_webhook_receiver, hook):
    new_user(sunshine_app)  # POST /users raises no event
    sunshine_app.request("GET", "users/nobody")
    assert flushed(emulator, emulator_webhook_receiver) == [] and emulator.control.deliveries() == []


def test_a_refused_call_delivers_nothing(emulator, sunshine_app, emulator_webhook_receiver, hook):
    reply = sunshine_app.request("POST", f"conversations/{'0' * 24}/messages", json=text())
    assert reply.status == 404
    assert flushed(emulator, emulator_webhook_receiver) == []


# --- triggers and options -------------------------------------------------------------------------------


def test_only_subscribed_event_types_are_delivered(emulator, sunshine_app, emulator_webhook_receiver):
    emulator_webhook_receiver.sunshine_webhook(sunshine_app, triggers=["conversation:message", "user:remove"])
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)  # conversation:create: not subscribed
    sunshine_app.request(
        "PATCH", f"users/{user['id']}", json={"profile": {"givenName": "Ada"}}
    )  # user:update: not subscribed
    sunshine_app.request("POST", f"conversations/{conversation['id']}/messages", json=text())
    sunshine_app.request("DELETE", f"users/{user['id']}")
    assert [e["type"] for e in flushed_events(emulator, emulator_webhook_receiver)] == [
        "conversation:message",
        "user:remove",
    ]


def test_each_webhook_gets_its_own_delivery_with_its_own_secret(emulator, sunshine_app, emulator_webhook_receiver):
    everything = emulator_webhook_receiver.sunshine_webhook(sunshine_app)
    messages_only = emulator_webhook_receiver.sunshine_webhook(sunshine_app, triggers=["conversation:message"])
    conversation = new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    sunshine_app.request("POST", f"conversations/{conversation['id']}/messages", json=text())
    received = flushed(emulator, emulator_webhook_receiver)
    seen = sorted(
        (r.body["webhook"]["id"], r.headers["X-API-Key"], tuple(e["type"] for e in r.body["events"])) for r in received
    )
    assert seen == sorted(
        [
            (everything["id"], everything["secret"], ("conversation:create",)),
            (everything["id"], everything["secret"], ("conversation:message",)),
            (messages_only["id"], messages_only["secret"], ("conversation:message",)),
        ]
    )


def test_a_webhook_of_another_app_gets_nothing(emulator, sunshine_app, emulator_webhook_receiver, emulator_backend):
    other_app = secrets.token_hex(12)
    emulator_backend.control.seed({"sunshine": {"apps": [{"id": other_app}]}})
    body = {"type": "custom", "webhooks": [{"target": emulator_webhook_receiver.url, "triggers": ["*"]}]}
    created(
        sunshine_app.handle.request(
            "POST", f"/v2/apps/{other_app}/integrations", json=body, headers=sunshine_app.basic_headers(account=True)
        ),
        "integration",
    )
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    assert flushed(emulator, emulator_webhook_receiver) == []


def test_a_patched_trigger_list_applies_to_later_calls(emulator, sunshine_app, emulator_webhook_receiver):
    body = {"type": "custom", "webhooks": [{"target": emulator_webhook_receiver.url, "triggers": ["user:update"]}]}
    integration = created(sunshine_app.request("POST", "integrations", json=body), "integration")
    webhook = integration["webhooks"][0]
    user = new_user(sunshine_app)
    new_conversation(sunshine_app, "personal", user)
    path = f"integrations/{integration['id']}/webhooks/{webhook['id']}"
    assert sunshine_app.request("PATCH", path, json={"triggers": ["conversation:create"]}).status == 200
    new_conversation(sunshine_app, "personal", user)
    assert [e["type"] for e in flushed_events(emulator, emulator_webhook_receiver)] == ["conversation:create"]


def test_include_full_user_replaces_truncated_users(emulator, sunshine_app, emulator_webhook_receiver):
    emulator_webhook_receiver.sunshine_webhook(
        sunshine_app, triggers=["conversation:message", "conversation:join"], includeFullUser=True
    )
    user = new_user(sunshine_app, profile={"givenName": "Ada", "email": "ada@example.com"}, metadata={"tier": "gold"})
    group = new_conversation(sunshine_app, "sdkGroup")
    sunshine_app.request(
        "POST", f"conversations/{group['id']}/join", json={"userId": user["id"], "subscribeSDKClient": False}
    )
    sunshine_app.request("POST", f"conversations/{group['id']}/messages", json=text(type="user", userId=user["id"]))
    join, message = flushed_events(emulator, emulator_webhook_receiver)
    full = sunshine_app.request("GET", f"users/{user['id']}").json()["user"]
    assert full["profile"]["givenName"] == "Ada" and full["metadata"] == {"tier": "gold"}
    assert join["payload"]["user"] == full
    assert message["payload"]["message"]["author"]["user"] == full
    [journaled] = emulator.control.calls(method="EVENT", path="conversation:join")
    assert '"givenName"' not in journaled["request_body"], "the journal keeps the event as raised: truncated"


def test_include_full_user_leaves_a_removed_user_truncated(emulator, sunshine_app, emulator_webhook_receiver):
    emulator_webhook_receiver.sunshine_webhook(sunshine_app, triggers=["user:remove"], includeFullUser=True)
    user = new_user(sunshine_app)
    sunshine_app.request("DELETE", f"users/{user['id']}")
    assert only_event(emulator, emulator_webhook_receiver)["payload"]["user"] == truncated(user)


def test_include_full_source_leaves_the_api_source_as_it_is(emulator, sunshine_app, emulator_webhook_receiver):
    emulator_webhook_receiver.sunshine_webhook(sunshine_app, triggers=["conversation:message"], includeFullSource=True)
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)
    sunshine_app.request(
        "POST", f"conversations/{conversation['id']}/messages", json=text(type="user", userId=user["id"])
    )
    assert only_event(emulator, emulator_webhook_receiver)["payload"]["message"]["source"] == API_SOURCE


def test_include_full_source_adds_the_client_a_source_names():
    """Unit: a source naming a client of the user (an SDK message, say) gets `client` and its latest `device`."""
    older = Device(guid="g-0", clientId="c-1", lastSeen="2026-01-01T00:00:00.000Z")
    device = Device(guid="g-1", clientId="c-1", lastSeen=T0)
    client = Client(id="c" * 24, type="web", devices=[older, device])
    user = User(externalId="u-1", clients=[client])
    model = App()
    model.add_user(user)
    event = {
        "id": "e",
        "type": "conversation:message",
        "createdAt": T0,
        "payload": {
            "message": {
                "author": {"type": "user", "userId": user.id, "user": user.truncated()},
                "source": {"type": "web", "integrationId": "i"},
            }
        },
    }
    shown = webhooks.render(model, Webhook(target="http://x", triggers=["*"], includeFullSource=True), event)
    assert shown["payload"]["message"]["source"] == {
        "type": "web",
        "integrationId": "i",
        "client": client.public(),
        "device": device.public(),
    }
    assert "client" not in event["payload"]["message"]["source"], "the raised event is not changed"


# --- retries on the emulated clock ---------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    emulator, sunshine_app, emulator_webhook_receiver, hook
):
    t0 = parse_instant(T0)
    emulator_webhook_receiver.respond(500, times=2)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    [delivery] = emulator.control.flush_deliveries()
    assert delivery["kind"] == "sunshine.webhook" and delivery["url"] == emulator_webhook_receiver.url
    assert delivery["headers"] == {"X-API-Key": hook["secret"]}
    assert delivery["state"] == "pending" and delivery["next_attempt_at"] == t0 + 60

    emulator.control.advance("59s")
    assert len(emulator_webhook_receiver.deliveries) == 1, "not before its time"
    emulator.control.advance("1s")  # a clock move attempts what it made due before it answers
    assert len(emulator_webhook_receiver.deliveries) == 2
    emulator.control.advance("2m")
    [delivery] = emulator.control.deliveries()
    assert delivery["state"] == "delivered" and delivery["next_attempt_at"] is None
    assert [(a["at"] - t0, a["status"]) for a in delivery["attempts"]] == [(0, 500), (60, 500), (180, 200)]
    bodies = [r.body for r in emulator_webhook_receiver.deliveries]
    assert bodies[0] == bodies[1] == bodies[2], "a retry is the same delivery (same event ids)"


def test_a_delivery_fails_after_five_attempts_within_fifteen_minutes(
    emulator, sunshine_app, emulator_webhook_receiver, hook
):
    t0 = parse_instant(T0)
    emulator_webhook_receiver.respond(503, times=100)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    for _ in range(4):
        emulator.control.flush_deliveries()
        [delivery] = emulator.control.deliveries()
        assert delivery["state"] == "pending"
        emulator.control.set_time(format_instant(delivery["next_attempt_at"]))
    [delivery] = emulator.control.deliveries()
    assert delivery["state"] == "failed" and delivery["next_attempt_at"] is None
    offsets = [a["at"] - t0 for a in delivery["attempts"]]
    assert offsets == [0, 60, 180, 420, 900] and offsets[-1] <= 15 * 60
    emulator.control.advance("1d")
    assert len(emulator_webhook_receiver.deliveries) == 5, "a failed delivery is not attempted again"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 406])
def test_non_recoverable_answers_are_not_retried(emulator, sunshine_app, emulator_webhook_receiver, hook, status):
    emulator_webhook_receiver.respond(status)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    [delivery] = emulator.control.flush_deliveries()
    assert delivery["state"] == "failed" and [a["status"] for a in delivery["attempts"]] == [status]
    emulator.control.advance("1h")
    assert len(emulator_webhook_receiver.deliveries) == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_other_failures_are_retried(emulator, sunshine_app, emulator_webhook_receiver, hook, status):
    emulator_webhook_receiver.respond(status)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    emulator.control.flush_deliveries()
    emulator.control.advance("1m")
    [delivery] = emulator.control.deliveries()
    assert delivery["state"] == "delivered" and [a["status"] for a in delivery["attempts"]] == [status, 200]


def test_an_unreachable_target_is_a_failed_attempt(emulator, sunshine_app, emulator_webhook_receiver):
    gone = WebhookReceiver()
    gone.close()
    gone.sunshine_webhook(sunshine_app)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    [delivery] = emulator.control.flush_deliveries()
    assert delivery["state"] == "pending" and delivery["attempts"][0]["status"] == 0
    assert delivery["attempts"][0]["error"] == "ConnectionError"


def test_a_hanging_receiver_does_not_hold_up_the_api_and_times_out(
    emulator, sunshine_app, emulator_webhook_receiver, hook, monkeypatch
):
    monkeypatch.setattr(webhooks, "ATTEMPT_TIMEOUT", 1.0)  # the provider's 20 s, shortened for the test
    emulator_webhook_receiver.hang()
    conversation = new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    assert conversation["type"] == "personal"
    [delivery] = emulator.control.deliveries()
    assert delivery["attempts"] == [], "the API answered while the attempt was still under way"

    [delivery] = emulator.control.flush_deliveries()  # waits for the attempt: it times out
    [attempt] = delivery["attempts"]
    assert (attempt["status"], attempt["error"]) == (0, "ReadTimeout")
    assert delivery["state"] == "pending" and delivery["next_attempt_at"] == parse_instant(T0) + 60
    emulator.control.advance("1m")
    assert emulator.control.deliveries()[0]["state"] == "delivered"


def test_delivery_over_http_does_not_hold_up_the_api(emulator_server, emulator_webhook_receiver, monkeypatch):
    """The same over a real server: the answer comes while the receiver still hangs."""
    monkeypatch.setattr(webhooks, "ATTEMPT_TIMEOUT", 1.0)
    app_id, key_id, secret = secrets.token_hex(12), f"app_{secrets.token_hex(6)}", secrets.token_urlsafe(12)
    emulator_server.control.seed({"sunshine": {"apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}]}]}})
    auth = (key_id, secret)
    body = {"type": "custom", "webhooks": [{"target": emulator_webhook_receiver.url, "triggers": ["*"]}]}
    assert (
        requests.post(
            f"{emulator_server.base_url}/v2/apps/{app_id}/integrations", json=body, auth=auth, timeout=5
        ).status_code
        == 201
    )
    emulator_webhook_receiver.hang()
    user = requests.post(
        f"{emulator_server.base_url}/v2/apps/{app_id}/users", json={"externalId": "u"}, auth=auth, timeout=5
    ).json()["user"]
    reply = requests.post(
        f"{emulator_server.base_url}/v2/apps/{app_id}/conversations",
        json={"type": "personal", "participants": [{"userId": user["id"]}]},
        auth=auth,
        timeout=5,
    )
    assert reply.status_code == 201
    assert emulator_server.control.deliveries()[0]["attempts"] == []
    [delivery] = emulator_server.control.flush_deliveries()
    assert [a["error"] for a in delivery["attempts"]] == ["ReadTimeout"]


# --- hold and release, journal ---------------------------------------------------------------------------


def test_held_deliveries_wait_for_the_release(emulator, sunshine_app, emulator_webhook_receiver, hook):
    t0 = parse_instant(T0)
    emulator.control.hold_deliveries()
    assert emulator.control._call("GET", "/deliveries")["held"] is True
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    emulator.control.flush_deliveries()
    emulator.control.advance("5m")
    [delivery] = emulator.control.deliveries()
    assert emulator_webhook_receiver.deliveries == [] and delivery["state"] == "pending" and delivery["attempts"] == []

    [delivery] = emulator.control.release_deliveries()  # what is due goes before the answer
    assert delivery["state"] == "delivered" and [a["at"] for a in delivery["attempts"]] == [t0 + 300]
    assert len(emulator_webhook_receiver.deliveries) == 1
    assert emulator.control._call("GET", "/deliveries")["held"] is False


def test_a_hold_keeps_retries_back_too(emulator, sunshine_app, emulator_webhook_receiver, hook):
    emulator_webhook_receiver.respond(500)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    emulator.control.flush_deliveries()
    emulator.control.hold_deliveries()
    emulator.control.advance("10m")
    assert len(emulator_webhook_receiver.deliveries) == 1
    emulator.control.release_deliveries()
    first, retry = emulator_webhook_receiver.deliveries
    assert first.body == retry.body
    assert emulator.control.deliveries()[0]["state"] == "delivered"


def test_a_hold_stops_deliveries_waiting_behind_a_hanging_one(
    emulator, sunshine_app, emulator_webhook_receiver, hook, monkeypatch
):
    """Deliveries to one target go one after the other: those queued behind a hung attempt are not
    attempted once a hold begins, and go on release."""
    monkeypatch.setattr(webhooks, "ATTEMPT_TIMEOUT", 1.0)
    emulator_webhook_receiver.hang()
    user = new_user(sunshine_app)
    new_conversation(sunshine_app, "personal", user)  # its delivery hangs
    sunshine_app.request("DELETE", f"users/{user['id']}")  # queued behind it
    emulator_webhook_receiver.wait_for(1)  # the first attempt is under way
    emulator.control.hold_deliveries()
    first, second = emulator.control.flush_deliveries()  # the hung attempt times out; the next one is held
    assert [a["error"] for a in first["attempts"]] == ["ReadTimeout"]
    assert second["state"] == "pending" and second["attempts"] == []
    assert len(emulator_webhook_receiver.deliveries) == 1
    first, second = emulator.control.release_deliveries()
    assert (first["state"], second["state"]) == ("pending", "delivered"), "the first waits for its retry time"
    assert [e["type"] for e in emulator_webhook_receiver.events()] == ["conversation:create", "user:remove"]


def test_a_hold_is_per_namespace(emulator, sunshine_app, emulator_webhook_receiver, hook):
    other = emulator.control.in_namespace(f"other-{secrets.token_hex(4)}")
    try:
        other.hold_deliveries()
        new_conversation(sunshine_app, "personal", new_user(sunshine_app))
        assert len(flushed(emulator, emulator_webhook_receiver)) == 1
    finally:
        other.reset()


def test_every_attempt_is_journaled_as_outgoing(emulator, sunshine_app, emulator_webhook_receiver, hook):
    emulator_webhook_receiver.respond(500)
    new_conversation(sunshine_app, "personal", new_user(sunshine_app))
    emulator.control.flush_deliveries()
    emulator.control.advance("1m")
    outgoing = [e for e in emulator.control.journal(provider="sunshine") if e["direction"] == "outgoing"]
    assert [(e["method"], e["path"], e["status"]) for e in outgoing] == [
        ("POST", emulator_webhook_receiver.url, 500),
        ("POST", emulator_webhook_receiver.url, 200),
    ]
    assert all(e["request_headers"] == {"X-API-Key": hook["secret"]} for e in outgoing)
    assert [e["time"] for e in outgoing] == [T0, "2026-03-01T00:01:00.000Z"]
    assert json.loads(outgoing[0]["request_body"]) == emulator_webhook_receiver.deliveries[0].body


# --- the receiver fixture itself -------------------------------------------------------------------------


def test_the_receiver_records_and_answers_as_told(emulator_webhook_receiver):
    emulator_webhook_receiver.respond(418, times=2)
    answers = [
        requests.post(
            emulator_webhook_receiver.url + "/x?y=1", json={"n": n}, headers={"X-Test": "t"}, timeout=5
        ).status_code
        for n in range(3)
    ]
    assert answers == [418, 418, 200]
    first = emulator_webhook_receiver.deliveries[0]
    assert (first.method, first.path, first.body, first.headers["X-Test"]) == ("POST", "/webhook/x?y=1", {"n": 0}, "t")
    emulator_webhook_receiver.respond(500)
    emulator_webhook_receiver.clear()
    assert emulator_webhook_receiver.deliveries == []
    assert requests.post(emulator_webhook_receiver.url, data=b"not json", timeout=5).status_code == 200, (
        "clear forgets pending answers"
    )
    assert (
        emulator_webhook_receiver.deliveries[0].body is None
        and emulator_webhook_receiver.deliveries[0].raw == b"not json"
    )
