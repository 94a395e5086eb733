"""Emulator-only moves of a user's channel client, standing in for the channel: a pending channel link
completes (`client:update`, reason `confirmed`) or fails (`client:remove`, reason `linkFailed`, as the
spec's table says for a failed link); and the client's deliveries can be made to fail."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .bodies import _Body
from .call import Call
from .errors import bad_request, not_found
from .models import Client, User
from .users import find as find_user


class DeliveryError(_Body):
    code: str = Field(min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=1024)


class ClientMoveBody(_Body):
    """`link`: how a pending link ends; `deliveryError`: deliveries to the client fail with it (null: they succeed)."""

    link: Literal["confirmed", "failed"] | None = None
    deliveryError: DeliveryError | None = None


def move(call: Call, user_ref: str, client_id: str, body: ClientMoveBody) -> Client:
    user = find_user(call, user_ref)
    client = next((c for c in user.clients if c.id == client_id), None)
    if client is None:
        raise not_found("client_not_found", "Client not found")
    if body.link is not None and client.status != "pending":
        raise bad_request("The client has no pending channel link", "link_not_pending")
    if "deliveryError" in body.model_fields_set:
        client.deliveryError = body.deliveryError.model_dump() if body.deliveryError else None
    if body.link == "confirmed":
        _confirm(call, user, client)
    elif body.link == "failed":
        _fail(call, user, client)
    return client


def _conversation_of(call: Call, client: Client) -> dict | None:
    conversation = call.in_app().conversations.get(client.linkConversationId or "")
    return conversation.truncated() if conversation is not None else None


def _confirm(call: Call, user: User, client: Client) -> None:
    client.status, client.linkedAt, client.lastSeen = "active", call.timestamp, call.timestamp
    payload = {"user": user.truncated(), "client": client.public(), "reason": "confirmed"}
    conversation = _conversation_of(call, client)
    call.emit("client:update", {**payload, **({"conversation": conversation} if conversation else {})})


def _fail(call: Call, user: User, client: Client) -> None:
    user.clients.remove(client)
    payload = {"user": user.truncated(), "client": client.public(), "reason": "linkFailed", "error": {"code": "link_failed", "message": "The channel link failed"}}  # [I] error
    conversation = _conversation_of(call, client)
    call.emit("client:remove", {**payload, **({"conversation": conversation} if conversation else {})})
