"""Connector API webhooks: what an app installation's endpoints receive of its conversations.

Reference: liveperson-outbound.md section 1. A listener of every account's change stream
(`notifications.dispatch`): each change of a conversation that an installation opened (its AppJWT's `azp`)
becomes one notification, `{"kind":"notification","body":{"changes":[change]},"type"}`, for the endpoint the
installation registered for its event type, queued in the namespace's outbox and attempted in the
background (the request that made the change never waits for a receiver). The body is compact UTF-8 JSON,
signed as sent: `x-liveperson-signature: sha1=<base64 HMAC-SHA1(client_secret, body)>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from ...core.deliveries import DeliveryPolicy
from ...core.store import Store
from ...web import pump_deliveries, runtime
from . import notifications
from .conversations import CHAT_STATE_EVENT, Change
from .models import App, Conversation, LivePersonState

PROVIDER = "liveperson"
KIND = f"{PROVIDER}.webhook"
EVENT_NOTIFICATION = "ms.MessagingEventNotification"  # [C]
CONVERSATION_NOTIFICATION = "cqm.ExConversationChangeNotification"  # [C]
ACCOUNT_HEADER = "x-liveperson-account-id"  # [C]
CLIENT_HEADER = "x-liveperson-client-id"  # [C]
SIGNATURE_HEADER = "x-liveperson-signature"  # [C]
CONTENT_TYPE = "application/json; charset=utf-8"  # [I] not documented
USER_AGENT = "LivePerson-Webhooks-Emulator"  # [I] not documented
SUCCESS_STATUSES = frozenset({200, 201})  # [C] only 200 or 201 count as delivered
ATTEMPT_TIMEOUT = 5.0  # [C] connect 5 s, read 5 s (requests applies it to each)
RETRY_INTERVAL = 30.0  # [C] retry by number: up to 5 retries, 30 s apart
TTL_FIRST_GAP, TTL_MAX_GAP = 2.0, 300.0  # [C] retry by time to live: 2 s, 4 s, 8 s ... at most 5 min apart
PRIVATE_AUDIENCE = "AGENTS_AND_MANAGERS"  # [C] messages between agents and managers only
DEFAULT_TTR = {"ttrType": "PRIORITIZED", "value": 600}  # [I] the published examples' value, until a TTR is set


def signature(secret: str, body: bytes) -> str:
    """[C] `sha1=` + standard, padded Base64 of HMAC-SHA1 keyed with the UTF-8 secret over the body's bytes."""
    return "sha1=" + base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha1).digest()).decode("ascii")


def serialize(notification: dict) -> bytes:
    """[I] compact JSON, non-ASCII unescaped, UTF-8: the bytes sent and signed."""
    return json.dumps(notification, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def retry_schedule(max_retries: int, retention_time: int | None) -> tuple[float, ...]:
    """Seconds after each failed attempt: `max_retries` × 30 s; under the app's `retry.retention_time`,
    2 s doubling up to 5 min while within the retention, and none for a webhook with `max_retries` 0. [C]"""
    if retention_time is None:
        return (RETRY_INTERVAL,) * max_retries
    if max_retries == 0:
        return ()
    gaps: list[float] = []
    gap, waited = TTL_FIRST_GAP, 0.0
    while waited + gap <= retention_time:
        gaps.append(gap)
        waited += gap
        gap = min(gap * 2, TTL_MAX_GAP)
    return tuple(gaps)


def event_type_key(change: Change) -> str:
    """The `capabilities.webhooks` key a change is delivered under (reference 1.2)."""
    if change.event is not None:
        return f"{EVENT_NOTIFICATION}.{change.event['event']['type']}"
    return CONVERSATION_NOTIFICATION


def render(change: Change, now_ms: int) -> dict:
    """The notification of one change, as a connector's endpoint receives it."""
    if change.event is not None:
        return {
            "kind": "notification",
            "body": {"changes": [messaging_event(change.event)]},
            "type": EVENT_NOTIFICATION,
        }
    result = {
        "convId": change.conversation["convId"],
        "effectiveTTR": -1,
        "conversationDetails": conversation_details(change.conversation, now_ms),
    }
    return {
        "kind": "notification",
        "body": {"changes": [{"type": "UPSERT", "result": result}]},
        "type": CONVERSATION_NOTIFICATION,
    }


def messaging_event(event: dict) -> dict:
    """[C] 1.4: a ChatStateEvent has no `sequence` and no `serverTimestamp`."""
    shown = {
        "sequence": event["sequence"],
        "originatorId": event["originatorId"],
        "originatorMetadata": event["originatorMetadata"],
        "serverTimestamp": event["serverTimestamp"],
        "event": event["event"],
        "conversationId": event["conversationId"],
        "dialogId": event["dialogId"],
        "messageAudience": event.get("messageAudience", "ALL"),
    }
    if event["event"]["type"] == CHAT_STATE_EVENT:
        del shown["sequence"], shown["serverTimestamp"]
    return shown


def conversation_details(details: dict, now_ms: int) -> dict:
    """[C]/[CC] 1.4, in the key order of the published close notification: the complete state (participants,
    dialogs with `closedBy` once closed, `state` and `stage`, `startTs`, `metaDataLastUpdateTs` (the change's
    time [I] unless the conversation keeps one), `ttr`, and `delay` / `csat` / `manualETTR` when set)."""
    updated = details.get("metaDataLastUpdateTs", now_ms)
    closed = details["state"] == "CLOSE"
    participants = [{"id": p["id"], "role": p["role"]} for p in details["participants"]]
    dialogs = [_dialog(dialog, details, participants, updated) for dialog in details["dialogs"]]
    shown = {
        "skillId": details["skillId"],
        "participants": participants,
        "dialogs": dialogs,
        "brandId": details["brandId"],
        "state": details["state"],
        "stage": details.get("stage", details["state"]),
    }
    if closed:
        shown["closeReason"] = details["closeReason"]
    shown["startTs"] = details["startTs"]
    if closed:
        shown["endTs"] = details["endTs"]
    shown |= {"metaDataLastUpdateTs": updated, "ttr": details.get("ttr") or DEFAULT_TTR}
    for optional in ("delay", "csat", "manualETTR"):
        if details.get(optional) is not None:
            shown[optional] = details[optional]
    return shown


def _dialog(dialog: dict, details: dict, participants: list[dict], updated: int) -> dict:
    in_dialog = [{"id": p["id"], "role": p["role"]} for p in dialog.get("participantsDetails") or participants]
    shown = {
        "dialogId": dialog["dialogId"],
        "participantsDetails": in_dialog,
        "dialogType": dialog["dialogType"],
        "channelType": dialog["channelType"],
        "state": dialog["state"],
        "creationTs": dialog.get("creationTs", details["startTs"]),
    }
    if dialog["state"] == "CLOSE":
        shown["endTs"] = dialog.get("endTs", details["endTs"])
    shown["metaDataLastUpdateTs"] = updated
    if dialog["state"] == "CLOSE":
        shown["closedBy"] = dialog.get("closedBy", details["closeReason"])
    return shown


@dataclass(frozen=True)
class Target:
    """Where and how one change is delivered: read under the store lock, used outside it."""

    url: str
    client_id: str
    client_secret: str
    headers: tuple[tuple[str, str], ...]
    schedule: tuple[float, ...]


def target_of(state: LivePersonState, change: Change) -> Target | None:
    """The endpoint of the installation that opened the conversation, for this change's event type, or None:
    no such installation (any more), disabled, no endpoint for the type, or a private message. (Hold the lock.)"""
    account = state.accounts.get(change.account_id)
    conversation: Conversation | None = account.conversations.get(change.conversation["convId"]) if account else None
    if conversation is None or conversation.app_client_id is None:
        return None
    if change.event is not None and change.event.get("messageAudience") == PRIVATE_AUDIENCE:
        return None  # [I] the connector is the consumer's side: a private message never reaches it
    app: App | None = next((a for a in account.apps if a.client_id == conversation.app_client_id), None)  # type: ignore[union-attr]
    if app is None or not app.enabled or app.deleted:
        return None
    endpoint = app.capabilities.endpoint(event_type_key(change))
    if endpoint is None:
        return None
    headers = tuple((h["header_name"], h["header_value"]) for h in endpoint.get("headers", ()))
    schedule = retry_schedule(endpoint.get("max_retries", 0), app.capabilities.retention_time())
    return Target(endpoint["endpoint"], app.client_id, app.client_secret, headers, schedule)


def queue(store: Store, change: Change) -> bool:
    """Queue the change's notification for its installation's endpoint, if it has one; True if queued."""
    with store.lock:
        namespace = store.view(change.namespace)
        target = target_of(namespace.state(PROVIDER), change)
        now = namespace.clock.now()
    if target is None:
        return False
    notification = render(change, int(now * 1000))
    body = serialize(notification)
    headers = {
        **dict(target.headers),
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        ACCOUNT_HEADER: change.account_id,
        CLIENT_HEADER: target.client_id,
        SIGNATURE_HEADER: signature(target.client_secret, body),
    }
    policy = DeliveryPolicy(
        retry_schedule=target.schedule,
        timeout=ATTEMPT_TIMEOUT,
        headers=headers,
        background=True,
        success_statuses=SUCCESS_STATUSES,
    )
    namespace.outbox.queue(KIND, target.url, notification, now, policy, body=body)
    return True


class WebhookListener:
    """Listens to every account (`notifications.listen_to_every_account`): a change becomes a delivery."""

    def notify(self, change: Change) -> None:
        store = runtime().store
        if queue(store, change):
            pump_deliveries(store.view(change.namespace))


notifications.listen_to_every_account(WebhookListener())
