"""Mindbehind's rules: client tokens, web chat sessions (token, anonymous, SMS code), live-core, generic channel.

No Flask here: routes parse, call these, serialise.
"""

from __future__ import annotations

import secrets
from typing import Any

from ...core.clock import format_instant
from ...core.store import Namespace
from .errors import MindbehindError
from .models import (
    ANONYMOUS_CLIENT_PREFIX,
    Channel,
    Client,
    ClientToken,
    Company,
    MindbehindState,
    OneTimeCode,
    WebChatSession,
)

PROVIDER = "mindbehind"
HOUR = 3600.0


def state_of(namespace: Namespace) -> MindbehindState:
    return namespace.state(PROVIDER)


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise MindbehindError(400, f"{key} is required (a non-empty string)", f"missing_{key}")
    return value


def authorise(state: MindbehindState, api_token: str | None) -> tuple[Company, Channel]:
    """The company and channel an `apiToken` header belongs to; 401 without one or for an unknown one. [?]"""
    if not api_token:
        raise MindbehindError(401, "Unauthorized", "missing_api_token")
    company, channel = state.find_by_management_token(api_token)
    if company is None or channel is None:
        raise MindbehindError(401, "Unauthorized", "unknown_api_token")
    return company, channel


def web_chat_channel(
    state: MindbehindState, channel_id: str, token_channel: Channel | None = None
) -> tuple[Company, Channel]:
    """A web chat channel by id: 404 unknown, 403 when the apiToken is another channel's. [?]"""
    company, channel = state.find_channel(channel_id)
    if company is None or channel is None:
        raise MindbehindError(404, "Channel not found", "unknown_channel")
    if token_channel is not None and token_channel is not channel:
        raise MindbehindError(403, "Forbidden", "token_of_another_channel")
    if channel.type != "mbWebChat":
        raise MindbehindError(400, "channelID is not a web chat channel", "not_web_chat")  # [?]
    return company, channel


def issue_client_token(state: MindbehindState, api_token: str | None, body: dict, now: float) -> str:
    """`POST /external/v1/incoming/mbWebChat/token`: a client token for a signed-in client."""
    _, token_channel = authorise(state, api_token)
    channel_id, client_id = _text(body, "channelID"), _text(body, "clientID")
    age = body.get("tokenAge", None)
    if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 1 <= age <= 100_000):
        raise MindbehindError(400, "tokenAge is a positive whole number of hours", "bad_token_age")  # [I] hours
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        raise MindbehindError(400, "properties is an object", "bad_properties")
    company, channel = web_chat_channel(state, channel_id, token_channel)
    token = secrets.token_urlsafe(32)  # [?] format not public: an opaque string, looked up server-side
    hours = age if age is not None else channel.token_age
    company.tokens[token] = ClientToken(
        token=token,
        clientID=client_id,
        channelID=channel.id,
        properties=properties,
        issued_at=now,
        expires_at=now + hours * HOUR,
    )
    company.client(client_id, channel.type)  # [I] the client exists from its first token on
    company.added_record(now)
    return token


def open_session(state: MindbehindState, body: dict, now: float) -> tuple[WebChatSession, Client, str]:
    """The emulator's stand-in for the widget's own (unpublished) authentication. [I]"""
    company, channel = web_chat_channel(state, _text(body, "channelID"))
    auth = body.get("auth")
    if auth == "token":
        client_id = _client_of_token(company, channel, _text(body, "MB_TOKEN"), _text(body, "MB_CLIENT"), now)
    elif auth == "anonymous":
        client_id = f"{ANONYMOUS_CLIENT_PREFIX}{secrets.token_hex(8)}"
    elif auth == "otp":
        client_id = _client_of_code(company, channel, _text(body, "phone"), _text(body, "code"), now)
    else:
        raise MindbehindError(400, "auth is token, anonymous or otp", "bad_auth")
    client = company.client(client_id, channel.type)
    if auth == "otp":
        client.phone = client_id
    session = WebChatSession(
        session_id=secrets.token_hex(12), channelID=channel.id, clientID=client_id, auth=auth, opened_at=now
    )
    company.sessions[session.session_id] = session
    company.added_record(now)
    return session, client, company.id


def _client_of_token(company: Company, channel: Channel, token: str, client_id: str, now: float) -> str:
    issued = company.tokens.get(token)
    if issued is None or issued.channelID != channel.id:
        raise MindbehindError(401, "Unknown token", "unknown_token")
    if now >= issued.expires_at:
        raise MindbehindError(401, "Token expired", "expired")  # [I] never silently renewed
    if client_id != issued.clientID:
        raise MindbehindError(401, "Client mismatch", "client_mismatch")  # [I] MB_CLIENT must be the token's clientID
    company.client(client_id, channel.type).absorb(issued.properties)
    return client_id


def request_code(state: MindbehindState, body: dict, now: float) -> None:
    """Send an SMS code (the emulator keeps it for the control API instead of sending it). [I]"""
    company, channel = web_chat_channel(state, _text(body, "channelID"))
    phone = _text(body, "phone")
    code = f"{secrets.randbelow(1_000_000):06d}"
    company.codes[f"{channel.id}/{phone}"] = OneTimeCode(
        phone=phone,
        channelID=channel.id,
        code=code,
        expires_at=now + channel.otp_ttl,
        attempts_left=channel.otp_attempts,
    )
    company.added_record(now)


def _client_of_code(company: Company, channel: Channel, phone: str, code: str, now: float) -> str:
    key = f"{channel.id}/{phone}"
    pending = company.codes.get(key)
    if pending is None:
        raise MindbehindError(401, "No code was requested for this phone", "no_code")
    if now >= pending.expires_at:
        raise MindbehindError(401, "Code expired", "expired")
    if pending.attempts_left <= 0:
        raise MindbehindError(429, "Too many attempts", "too_many_attempts")
    if not secrets.compare_digest(code, pending.code):
        pending.attempts_left -= 1  # the provider counts wrong codes: the one refusal that changes state
        raise MindbehindError(401, "Wrong code", "wrong_code")
    del company.codes[key]
    return phone


def live_core_client(
    state: MindbehindState, api_token: str | None, client_id: str, company_id: str | None
) -> tuple[Company, Client]:
    """[?] live-core auth is not public: the management token of any channel of the client's company."""
    company, _ = authorise(state, api_token)
    if company_id is not None and company_id != company.id:
        if company_id not in state.companies:
            raise MindbehindError(404, "Client not found", "unknown_company")  # [I] as an unknown client
        raise MindbehindError(401, "Unauthorized", "token_of_another_company")
    client = company.clients.get(client_id)
    if client is None:
        raise MindbehindError(404, "Client not found", "unknown_client")
    return company, client


def set_key_values(state: MindbehindState, api_token: str | None, body: dict) -> tuple[Company, Client]:
    """`POST /live-core/setKeyValueProperties` `{clientID, KeyValueProperties: [{key, value}]}` (capital K, [C])."""
    client_id = _text(body, "clientID")
    pairs = body.get("KeyValueProperties")
    if not isinstance(pairs, list) or not all(isinstance(p, dict) and isinstance(p.get("key"), str) for p in pairs):
        raise MindbehindError(400, "KeyValueProperties is a list of {key, value}", "bad_key_values")
    company, client = live_core_client(state, api_token, client_id, None)
    client.upsert({pair["key"]: pair.get("value") for pair in pairs})
    return company, client


def receive_generic(
    state: MindbehindState, api_token: str | None, channel_id: str | None, body: Any, now: float
) -> None:
    """Generic channel incoming: any JSON object from the brand, stored. [?] schema not public."""
    _, token_channel = authorise(state, api_token)
    if not channel_id:
        raise MindbehindError(400, "channelID is required", "missing_channelID")
    company, channel = state.find_channel(channel_id)
    if company is None or channel is None or channel.type != "mindbehind":
        raise MindbehindError(404, "Channel not found", "unknown_channel")
    if token_channel is not channel:
        raise MindbehindError(403, "Forbidden", "token_of_another_channel")
    if not isinstance(body, dict):
        raise MindbehindError(400, "the message is a JSON object", "body_not_object")
    company.messages.append({"channelID": channel_id, "received_at": format_instant(now), "body": body})
    company.added_record(now)


def outgoing(state: MindbehindState, body: dict, kind: str, now: float) -> tuple[str, dict]:
    """A bot reply or a "Human action" on a generic channel: (webhook URL, emulator-defined payload). [I]"""
    channel_id, client_id = _text(body, "channelID"), _text(body, "clientID")
    company, channel = state.find_channel(channel_id)
    if company is None or channel is None or channel.type != "mindbehind":
        raise MindbehindError(404, "Channel not found", "unknown_channel")
    url = channel.send_webhook if kind == "send" else channel.handover_webhook
    if not url:
        raise MindbehindError(409, f"the channel has no {kind} webhook", f"no_{kind}_webhook")
    payload: dict[str, Any] = {
        "type": "message" if kind == "send" else "handover",
        "channelID": channel_id,
        "clientID": client_id,
        "timestamp": format_instant(now),
    }
    field, default = ("text", "") if kind == "send" else ("reason", "Human action")
    value = body.get(field, default)
    if not isinstance(value, str):
        raise MindbehindError(400, f"{field} is a string", f"bad_{field}")
    if kind == "send":
        payload["message"] = {"type": "text", "text": value}
    else:
        payload["reason"] = value
    return url, payload


def rotate_management_token(state: MindbehindState, channel_id: str) -> str:
    company, channel = state.find_channel(channel_id)
    if company is None or channel is None:
        raise MindbehindError(404, "Channel not found", "unknown_channel")
    channel.management_token = secrets.token_urlsafe(24)
    return channel.management_token


def pending_code(state: MindbehindState, channel_id: str, phone: str) -> OneTimeCode:
    company, channel = state.find_channel(channel_id)
    found = company.codes.get(f"{channel_id}/{phone}") if company else None
    if found is None:
        raise MindbehindError(404, "No code was requested for this phone", "no_code")
    return found
