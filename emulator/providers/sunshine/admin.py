"""Apps, their API keys, custom integrations and webhooks: what an account or an app configures."""

from __future__ import annotations

from typing import Annotated

from pydantic import StrictStr

from .auth import Principal, integration_for
from .bodies import (
    AppBody,
    AppCreateBody,
    Body,
    DisplayNameBody,
    IntegrationCreateBody,
    WebhookBody,
    WebhookCreateBody,
    short,
)
from .call import Call
from .errors import bad_request, not_found, resource_not_found
from .models import App, Integration, Key, Webhook, new_id, new_secret


def apps(call: Call) -> list[App]:
    """[I] an account key sees the apps of its namespace (the emulator's picture of one account)."""
    return list(call.state.apps.values())


def create_app(call: Call, body: AppCreateBody) -> App:
    app = App(
        displayName=body.displayName, settings=body.settings.given() if body.settings else {}, metadata=body.metadata
    )
    call.state.apps[app.id] = app
    return app


def update_app(call: Call, body: AppBody) -> App:
    app = call.in_app()
    for name in ("displayName", "settings"):  # [C] neither is nullable; metadata is
        if name in body.model_fields_set and getattr(body, name) is None:
            raise bad_request(f".{name} should be {'string' if name == 'displayName' else 'object'}", "invalid_body")
    if "displayName" in body.model_fields_set:
        app.displayName = body.displayName
    if body.settings is not None:
        app.settings = {**app.settings, **body.settings.given()}  # [I] settings merge, one by one
    if "metadata" in body.model_fields_set:
        app.metadata = body.metadata
    return app


def delete_app(call: Call) -> None:
    del call.state.apps[call.in_app().id]


def _new_key(prefix: str, body: DisplayNameBody) -> Key:
    return Key(id=f"{prefix}_{new_id()}", secret=new_secret(), displayName=body.displayName)


def create_key(call: Call, body: DisplayNameBody) -> Key:
    app = call.in_app()
    if len(app.keys) >= app.limits.keys:
        raise bad_request(
            f"An app can have at most {app.limits.keys} API keys", "too_many_keys"
        )  # [C] limit, [I] title
    key = _new_key("app", body)
    app.keys.append(key)
    return key


def _key(keys: list[Key], key_id: str) -> Key:
    found = next((k for k in keys if k.id == key_id), None)
    if found is None:
        raise resource_not_found()  # [C] get key
    return found


def app_key(call: Call, key_id: str) -> Key:
    return _key(call.in_app().keys, key_id)


def delete_key(call: Call, key_id: str) -> None:
    app = call.in_app()
    if not any(k.id == key_id for k in app.keys):
        raise not_found("app_not_found", "App not found")  # [C] the spec's example for this 404
    app.keys = [k for k in app.keys if k.id != key_id]


def create_integration(call: Call, body: IntegrationCreateBody) -> Integration:
    app = call.in_app()
    _room_for_webhooks(app, 1)
    webhooks = [Webhook(**hook.model_dump(exclude_none=True)) for hook in body.webhooks]
    integration = Integration(displayName=body.displayName, webhooks=webhooks)
    app.integrations.append(integration)
    return integration


def integration(call: Call, integration_id: str) -> Integration:
    found = call.in_app().integration(integration_id)
    if found is None:
        raise not_found("integration_not_found", "Integration not found")  # [C]
    return found


class IntegrationUpdateBody(Body):
    """[C] customUpdate: `displayName` only, 1-100 characters, null unsets it."""

    displayName: Annotated[StrictStr, short(100)] | None = None


def update_integration(call: Call, integration_id: str, body: IntegrationUpdateBody) -> Integration:
    found = integration(call, integration_id)
    if "displayName" in body.model_fields_set:
        found.displayName = body.displayName
    return found


def delete_integration(call: Call, integration_id: str) -> None:
    found = integration(call, integration_id)
    call.in_app().integrations.remove(found)


def create_integration_key(call: Call, integration_id: str, body: DisplayNameBody) -> Key:
    found = integration(call, integration_id)
    if len(found.keys) >= 10:
        raise bad_request("An integration can have at most 10 API keys", "too_many_keys")  # [C] limit, [I] title
    key = _new_key("int", body)
    found.keys.append(key)
    return key


def integration_key(call: Call, integration_id: str, key_id: str) -> Key:
    return _key(integration(call, integration_id).keys, key_id)


def delete_integration_key(call: Call, integration_id: str, key_id: str) -> None:
    found = integration(call, integration_id)
    _key(found.keys, key_id)
    found.keys = [k for k in found.keys if k.id != key_id]


def _room_for_webhooks(app: App, more: int) -> None:
    if len(list(app.webhooks())) + more > app.limits.webhooks:
        raise bad_request(
            f"An app can have at most {app.limits.webhooks} webhooks", "too_many_webhooks"
        )  # [C] limit, [I] title


def webhook_owner(call: Call, principal: Principal, integration_id: str) -> Integration:
    return integration_for(principal, call.in_app(), integration_id)


def create_webhook(call: Call, owner: Integration, body: WebhookCreateBody) -> Webhook:
    _room_for_webhooks(call.in_app(), 1)
    webhook = Webhook(**body.model_dump(exclude_none=True))
    owner.webhooks.append(webhook)
    return webhook


def webhook(owner: Integration, webhook_id: str) -> Webhook:
    found = next((w for w in owner.webhooks if w.id == webhook_id), None)
    if found is None:
        raise resource_not_found()  # [C]
    return found


_WEBHOOK_FIELD_TYPES = {
    "target": "string",
    "triggers": "array",
    "includeFullUser": "boolean",
    "includeFullSource": "boolean",
}


def update_webhook(owner: Integration, webhook_id: str, body: WebhookBody) -> Webhook:
    found = webhook(owner, webhook_id)
    for name in sorted(body.model_fields_set & set(_WEBHOOK_FIELD_TYPES)):  # [C] none of them is nullable
        if getattr(body, name) is None:
            raise bad_request(f".{name} should be {_WEBHOOK_FIELD_TYPES[name]}", "invalid_body")
    changes = {name: getattr(body, name) for name in body.model_fields_set if getattr(body, name) is not None}
    updated = found.model_copy(update=changes)
    owner.webhooks[owner.webhooks.index(found)] = updated
    return updated


def delete_webhook(owner: Integration, webhook_id: str) -> None:
    owner.webhooks.remove(webhook(owner, webhook_id))
