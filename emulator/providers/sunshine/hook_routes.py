"""Emulator-only hooks under /__emulator/sunshine/, behind the control token: what a test does in place of a
third-party channel (complete or fail a channel link, make deliveries fail); the app's control-token check
covers every path under /__emulator. Registered on the Sunshine blueprint, so their events are journaled and delivered like the API's."""

from __future__ import annotations

from flask import Response

from ...web import current_namespace, json_response, read_json_body, runtime
from . import links
from .auth import ACCOUNT, Principal
from .bodies import parse_body
from .call import Call
from .errors import not_found
from .models import PROVIDER
from .routes import _publish, _url, blueprint

HOOKS = "/__emulator/sunshine"


@blueprint.post(f"{HOOKS}/apps/<app_id>/users/<user_ref>/clients/<client_id>")
def move_client(app_id: str, user_ref: str, client_id: str) -> Response:
    """`{"link": "confirmed" | "failed", "deliveryError": {"code", "message"} | null}` -> `{"client"}`."""
    body = parse_body(links.ClientMoveBody, read_json_body(empty=None))
    namespace = current_namespace()
    with runtime().store.lock:
        state = namespace.state(PROVIDER)
        app = state.apps.get(app_id)
        if app is None:
            raise not_found("app_not_found", "App not found")
        now = namespace.clock.now()
        call = Call(state, app, Principal(ACCOUNT, "emulator", app_id), now, _url())
        client = links.move(call, user_ref, client_id, body)
    _publish(namespace.name, call.events, now, app_id)
    return json_response({"client": client.public()})
