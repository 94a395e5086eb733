"""Webhook delivery of the events a call raised (reference section 5).

Once a call has succeeded, each webhook of its app whose triggers name an event's type (or `*`) gets one
delivery `{"app": {"id"}, "webhook": {"id", "version"}, "events": [...]}` holding that call's events it
subscribed to, POSTed to its target with `X-API-Key: <webhook secret>`. Deliveries go through the
namespace's outbox (core/deliveries.py) in the background, so the API answer never waits for a receiver.
"""

from __future__ import annotations

import copy

from ...core.deliveries import Delivery, DeliveryPolicy
from ...core.store import Store
from . import control
from .models import PROVIDER, App, SunshineState, User, Webhook

KIND = f"{PROVIDER}.webhook"
ATTEMPT_TIMEOUT = 20.0  # [C] seconds of wall time per attempt; read when a delivery is queued (tests lower it)
RETRY_SCHEDULE = (
    60.0,
    120.0,
    240.0,
    480.0,
)  # [I] exponential backoff: attempts at 0, 1, 3, 7 and 15 min ([C] 5 in 15 min)
FINAL_STATUSES = frozenset({400, 401, 403, 404, 406})  # [C] non-recoverable: the delivery fails at once
API_KEY_HEADER = "X-API-Key"  # [C]


def subscribes(webhook: Webhook, event_type: str) -> bool:
    return "*" in webhook.triggers or event_type in webhook.triggers


def policy(webhook: Webhook) -> DeliveryPolicy:
    return DeliveryPolicy(
        retry_schedule=RETRY_SCHEDULE,
        timeout=ATTEMPT_TIMEOUT,
        final_statuses=FINAL_STATUSES,
        headers={API_KEY_HEADER: webhook.secret},
        background=True,
    )


def queue(store: Store, namespace_name: str, app_id: str | None, events: list[dict], now: float) -> list[Delivery]:
    """Queue one delivery per subscribed webhook of the app for `events` (not attempted yet: pump the
    namespace's outbox). Users are read now, under the store's lock, for `includeFullUser`."""
    if not events or app_id is None:
        return []
    with store.lock:
        namespace = store.view(namespace_name)
        state: SunshineState = namespace.state(PROVIDER)
        app = state.apps.get(app_id)
        if app is None:
            return []
        targets = []
        routes = control.routing(app)
        for integration, webhook in app.webhooks():
            matching = [
                e for e in events if subscribes(webhook, e["type"]) and control.delivers(routes, integration.id, e)
            ]
            if not matching:
                continue
            payload = {
                "app": {"id": app.id},
                "webhook": {"id": webhook.id, "version": webhook.version},
                "events": [render(app, webhook, event) for event in matching],
            }
            targets.append((webhook.target, payload, policy(webhook)))
        return namespace.outbox.queue_many(KIND, targets, now) if targets else []


def render(app: App, webhook: Webhook, event: dict) -> dict:
    """The event as this webhook receives it: its own copy, with full users and sources if it asked (else
    the event itself, shared by the deliveries and never changed)."""
    if not (webhook.includeFullUser or webhook.includeFullSource):
        return event
    shown = copy.deepcopy(event)
    payload = shown.get("payload") or {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else None
    author = message.get("author") if message and isinstance(message.get("author"), dict) else None
    if webhook.includeFullUser:
        for holder in (payload, author):
            if holder is not None:
                _full_user(app, holder)
    if webhook.includeFullSource:
        user = _user_of(app, author) if author else _user_of(app, payload)
        for holder in (payload, message):
            if holder is not None and isinstance(holder.get("source"), dict) and user is not None:
                _full_source(user, holder["source"])
    return shown


def _user_of(app: App, holder: dict) -> User | None:
    user = holder.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return app.users.get(user["id"])
    return None


def _full_user(app: App, holder: dict) -> None:
    """[I] a truncated `user` becomes the user's public form; a user gone by then (user:remove) stays truncated."""
    found = _user_of(app, holder)
    if found is not None:
        holder["user"] = found.public()


def _full_source(user: User, source: dict) -> None:
    """[I] `source.client` / `source.device` when the source names a client of the user (by `clientId`, or
    the user's only client of the source's type) and its most recently seen device; the API's own source
    (`api:conversations`) names none and stays as it is."""
    client = next((c for c in user.clients if c.id == source.get("clientId")), None)
    if client is None:
        of_type = [c for c in user.clients if c.type == source.get("type")]
        client = of_type[0] if len(of_type) == 1 else None
    if client is None:
        return
    source["client"] = client.public()
    device = max(client.devices, key=lambda d: d.lastSeen, default=None)
    if device is not None:
        source["device"] = device.public()
