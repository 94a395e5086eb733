"""Emulator-only moves of a user's channel client, standing in for the channel: a pending channel link
finds its user (`client:update`, reason `matched`), completes (`client:update`, reason `confirmed`) or fails
(`client:remove`, reason `linkFailed`, as the spec's table says for a failed link); an active client's user
unsubscribes and resubscribes (`client:update`, reasons `blocked` and `unblocked`, the client's status
`blocked` in between); and the client's deliveries can be made to fail."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .bodies import Body
from .call import Call
from .errors import bad_request, not_found
from .models import Client, User
from .users import find as find_user


class DeliveryError(Body):
    code: str = Field(min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=1024)


class ClientMoveBody(Body):
    """`link`: a pending link's next step (`matched`) or its end; `subscription`: the user blocks or unblocks the
    business on an active client; `deliveryError`: deliveries to the client fail with it (null: they succeed)."""

    link: Literal["matched", "confirmed", "failed"] | None = None
    subscription: Literal["blocked", "unblocked"] | None = None
    deliveryError: DeliveryError | None = None


def find_client(call: Call, user_ref: str, client_id: str) -> tuple[User, Client]:
    """The user and one of its clients, or 404 `user_not_found` / `client_not_found`."""
    user = find_user(call, user_ref)
    client = next((c for c in user.clients if c.id == client_id), None)
    if client is None:
        raise not_found("client_not_found", "Client not found")
    return user, client


def move(call: Call, user_ref: str, client_id: str, body: ClientMoveBody) -> Client:
    user, client = find_client(call, user_ref, client_id)
    if body.link is not None and client.status != "pending":
        raise bad_request("The client has no pending channel link", "link_not_pending")
    if body.link is not None and body.subscription is not None:
        raise bad_request("A move is either a link step or a subscription change", "link_and_subscription")
    wanted = {"blocked": "active", "unblocked": "blocked"}.get(body.subscription or "")
    if wanted is not None and client.status != wanted:
        raise bad_request(f"Only an {wanted} client can be {body.subscription}", "subscription_not_applicable")
    if "deliveryError" in body.model_fields_set:
        client.deliveryError = body.deliveryError.model_dump() if body.deliveryError else None
    if body.link == "matched":
        _update(call, user, client, "matched")  # [I] still pending until the link is confirmed
    elif body.link == "confirmed":
        client.status, client.linkedAt, client.lastSeen = "active", call.timestamp, call.timestamp
        _update(call, user, client, "confirmed")
    elif body.link == "failed":
        _fail(call, user, client)
    elif body.subscription is not None:
        client.status = (
            "blocked" if body.subscription == "blocked" else "active"
        )  # [C] the client status enum's `blocked`
        _update(call, user, client, body.subscription)
    return client


def _conversation_of(call: Call, client: Client) -> dict | None:
    conversation = call.in_app().conversations.get(client.linkConversationId or "")
    return conversation.truncated() if conversation is not None else None


def _update(call: Call, user: User, client: Client, reason: str) -> None:
    payload = {"user": user.truncated(), "client": client.public(), "reason": reason}
    conversation = _conversation_of(call, client)
    call.emit("client:update", {**payload, **({"conversation": conversation} if conversation else {})})


def _fail(call: Call, user: User, client: Client) -> None:
    user.clients.remove(client)
    payload = {
        "user": user.truncated(),
        "client": client.public(),
        "reason": "linkFailed",
        "error": {"code": "link_failed", "message": "The channel link failed"},
    }  # [I] error
    conversation = _conversation_of(call, client)
    call.emit("client:remove", {**payload, **({"conversation": conversation} if conversation else {})})
