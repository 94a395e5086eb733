"""Mindbehind's HTTP surface, and the emulator-defined web chat hooks under /__emulator/mindbehind/."""

from __future__ import annotations

from flask import Response, request

from ...core.clock import format_instant
from ...web import current_namespace, json_response, pump_deliveries, runtime
from . import webchat
from .errors import MindbehindError
from .http import HOOKS, json_body, object_body, operation, state_and_now


@operation("POST", "/external/v1/incoming/mbWebChat/token")
def client_token() -> Response:
    body = object_body()
    with runtime().store.lock:
        state, now = state_and_now()
        token = webchat.issue_client_token(state, request.headers.get("apiToken"), body, now)
    return json_response({"success": True, "token": token})


@operation("POST", "/external/v1/incoming/mindbehind")
def generic_incoming() -> Response:
    body = json_body()
    with runtime().store.lock:
        state, now = state_and_now()
        webchat.receive_generic(state, request.headers.get("apiToken"), request.args.get("channelID"), body, now)
    return json_response({"success": True})  # [?] the incoming answer is not public


@operation("GET", "/live-core/getClient")
def get_client() -> Response:
    client_id, company_id = request.args.get("clientID"), request.args.get("companyID")
    if not client_id or not company_id:
        raise MindbehindError(400, "clientID and companyID are required", "missing_parameter")
    with runtime().store.lock:
        state, _ = state_and_now()
        company, client = webchat.live_core_client(state, request.headers.get("apiToken"), client_id, company_id)
        return json_response(client.public(company.id))


@operation("POST", "/live-core/setKeyValueProperties")
def set_key_value_properties() -> Response:
    body = object_body()
    with runtime().store.lock:
        state, _ = state_and_now()
        company, client = webchat.set_key_values(state, request.headers.get("apiToken"), body)
        return json_response(client.public(company.id))


# --- emulator-defined hooks ---------------------------------------------------------------------------


@operation("POST", f"{HOOKS}/webchat/sessions")
def open_web_chat_session() -> Response:
    """The widget opens a session: `{"channelID", "auth": "token", "MB_TOKEN", "MB_CLIENT"}`,
    `{"channelID", "auth": "anonymous"}` or `{"channelID", "auth": "otp", "phone", "code"}`."""
    body = object_body()
    with runtime().store.lock:
        state, now = state_and_now()
        session, client, company_id = webchat.open_session(state, body, now)
        answer = {"success": True, "session": session.model_dump(mode="json"), "client": client.public(company_id)}
    return json_response(answer, 201)


@operation("POST", f"{HOOKS}/webchat/otp")
def send_one_time_code() -> Response:
    """The widget asks for an SMS code: `{"channelID", "phone"}`; tests read it with GET .../otp."""
    body = object_body()
    with runtime().store.lock:
        state, now = state_and_now()
        webchat.request_code(state, body, now)
    return json_response({"success": True})


@operation("GET", f"{HOOKS}/otp")
def read_one_time_code() -> Response:
    """What the SMS said: `?channelID=&phone=` -> `{"code", "expires_at", "attempts_left"}`."""
    with runtime().store.lock:
        state, _ = state_and_now()
        code = webchat.pending_code(state, request.args.get("channelID", ""), request.args.get("phone", ""))
        return json_response(
            {"code": code.code, "expires_at": format_instant(code.expires_at), "attempts_left": code.attempts_left}
        )


def _deliver(kind: str) -> Response:
    body = object_body()
    namespace = current_namespace()
    with runtime().store.lock:
        url, payload = webchat.outgoing(webchat.state_of(namespace), body, kind, namespace.clock.now())
        delivery = namespace.outbox.queue(f"{webchat.PROVIDER}.{kind}", url, payload, namespace.clock.now())
    pump_deliveries(namespace)  # the first attempt, at once (outside the lock: the receiver may call back)
    return json_response({"success": True, "delivery": delivery.to_dict()}, 202)


@operation("POST", f"{HOOKS}/bot-reply")
def bot_reply() -> Response:
    """The bot answers on a generic channel: `{"channelID", "clientID", "text"}` -> the send webhook."""
    return _deliver("send")


@operation("POST", f"{HOOKS}/human-action")
def human_action() -> Response:
    """A "Human action" hands over: `{"channelID", "clientID", "reason"}` -> the handover webhook."""
    return _deliver("handover")


@operation("POST", f"{HOOKS}/channels/<channel_id>/rotate-token")
def rotate_token(channel_id: str) -> Response:
    """A new management token for the channel; the old one is refused from now on."""
    namespace = current_namespace()
    with runtime().store.lock:
        token = webchat.rotate_management_token(webchat.state_of(namespace), channel_id)
        runtime().store.reindex(namespace.name)
    return json_response({"success": True, "management_token": token})
