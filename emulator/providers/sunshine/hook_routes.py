"""Emulator-only hooks under /__emulator/sunshine/, behind the control token: what a test does in place of a
third-party channel (a channel link's steps, a user blocking the business, deliveries that fail, an apple
client's passthrough data); the app's control-token check covers every path under /__emulator. Registered
through the kit's `operation`, so their events are journaled and delivered like the API's."""

from __future__ import annotations

from ...core.store import Namespace
from . import links, passthrough
from .auth import ACCOUNT, Principal
from .call import Call
from .errors import not_found
from .http import json_body, operation, request_url
from .models import SunshineState

HOOKS = "/__emulator/sunshine"


def admit_hook(state: SunshineState, namespace: Namespace, now: float, path: dict[str, str]) -> tuple[Call, Call]:
    """The path's app, acted on as its account (the control token was checked before any route)."""
    app_id = path.pop("app_id")
    app = state.apps.get(app_id)
    if app is None:
        raise not_found("app_not_found", "App not found")
    call = Call(state, app, Principal(ACCOUNT, "emulator", app_id), now, request_url)
    return call, call


@operation("POST", "/apps/<app_id>/users/<user_ref>/clients/<client_id>", (HOOKS,), admit_hook, label="hook ")
def move_client(call: Call, user_ref: str, client_id: str) -> dict:
    """`{"link": "matched" | "confirmed" | "failed", "subscription": "blocked" | "unblocked",
    "deliveryError": {"code", "message"} | null}` -> `{"client"}`."""
    return {"client": links.move(call, user_ref, client_id, json_body(links.ClientMoveBody)).public()}


@operation(
    "POST", "/apps/<app_id>/users/<user_ref>/clients/<client_id>/passthrough", (HOOKS,), admit_hook, label="hook "
)
def send_passthrough(call: Call, user_ref: str, client_id: str) -> dict:
    """`{"interactiveDataRef": {"url", "bid", "key", "signature", "owner"}}` from an active apple client -> the
    `passthrough:messaging` payload raised."""
    return passthrough.send(call, user_ref, client_id, json_body(passthrough.PassthroughBody))
