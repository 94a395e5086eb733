"""What a user does in a conversation besides writing: reading, typing, clicking a postback button, arriving
through a referral; and how a business message reaches the user's third-party channels. Each raises the
webhook event of the spec's "Webhook Triggers" table, with its payload schema.

[I] Only a user's activities are announced (the table: "when a user has read", "when a user starts or stops
typing"); a business's typing goes to the user's channels and its read marks `businessLastRead`, silently.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

from .call import Call
from .models import Client, Conversation, Message, User

READ, TYPING_START, TYPING_STOP = "conversation:read", "typing:start", "typing:stop"
ACTIVITY_EVENTS = {READ: "conversation:read", TYPING_START: "conversation:typing", TYPING_STOP: "conversation:typing"}


def record(call: Call, conversation: Conversation, user: User | None, kind: str) -> None:
    """An activity of the business (`user` None) or of a participant: a read clears the reader's unread
    count; a user's activity is announced with its author and source."""
    if kind == READ:
        if user is None:
            conversation.businessLastRead = call.timestamp
        else:
            participant = conversation.participant_of(user.id)
            if participant is not None:
                participant.unreadCount, participant.lastRead = 0, call.timestamp
    if user is None:
        return
    author = {"type": "user", "userId": user.id, "user": user.truncated()}
    call.emit(
        ACTIVITY_EVENTS[kind],
        {
            "conversation": conversation.truncated(),
            "activity": {"type": kind, "author": author, "source": dict(call.source)},
        },
    )


# --- postbacks ------------------------------------------------------------------------------------------


def _actions(content: dict[str, Any]) -> Iterator[dict]:
    """The actions of a message's content, in order: its own, then those of its items (carousel, list)."""
    for action in content.get("actions") or []:
        if isinstance(action, dict):
            yield action
    for item in content.get("items") or []:
        if isinstance(item, dict):
            yield from _actions(item)


def action_id(message: Message, index: int) -> str:
    """[I] the id the SDK form gives a message's `index`th action (24 hex, stable, derived, never stored)."""
    return hashlib.sha256(f"{message.id}:{index}".encode()).hexdigest()[:24]


def with_action_ids(message: Message, content: dict[str, Any]) -> dict[str, Any]:
    """The SDK form of a content: each action carries its `_id`, which a postback names."""
    counter = iter(range(1 << 30))

    def stamped(node: dict) -> dict:
        out = dict(node)
        if isinstance(node.get("actions"), list):
            out["actions"] = [
                {**a, "_id": action_id(message, next(counter))} if isinstance(a, dict) else a for a in node["actions"]
            ]
        if isinstance(node.get("items"), list):
            out["items"] = [stamped(item) if isinstance(item, dict) else item for item in node["items"]]
        return out

    return stamped(content)


def find_postback(conversation: Conversation, wanted: str) -> dict | None:
    """The postback action an SDK's `actionId` names, in any message of the conversation."""
    for message in conversation.messages:
        for index, action in enumerate(_actions(message.content)):
            if action_id(message, index) == wanted and action.get("type") == "postback":
                return action
    return None


def postback(call: Call, conversation: Conversation, user: User, action: dict) -> None:
    """`conversation:postback`: the button's payload and metadata, who clicked, from where."""
    shown = {"payload": action.get("payload"), "metadata": action.get("metadata")}
    call.emit(
        "conversation:postback",
        {
            "conversation": conversation.truncated(),
            "user": user.truncated(),
            "postback": shown,
            "source": dict(call.source),
        },
    )


def referral(call: Call, conversation: Conversation, user: User, code: str, details: dict | None) -> None:
    """`conversation:referral`: the user arrived through a referral code (a link, an ad)."""
    shown = {"code": code, **({"details": details} if details is not None else {})}
    call.emit(
        "conversation:referral",
        {
            "conversation": conversation.truncated(),
            "user": user.truncated(),
            "referral": shown,
            "source": dict(call.source),
        },
    )


# --- deliveries to third-party channels ------------------------------------------------------------------


def deliver(call: Call, conversation: Conversation, message: Message, users: list[User]) -> None:
    """A business message reaches each active channel client of the conversation's users: delivered to the
    channel, then to the user, unless the client is flagged to fail (`deliveryError`): then one failure.
    [I] SDK clients report no deliveries; the channel's message id is made up."""
    for user in users:
        sdk_client = user.sdk_client()
        for client in user.clients:
            if client is sdk_client or client.status != "active":
                continue
            base = {
                "user": user.truncated(),
                "conversation": conversation.truncated(),
                "message": {"id": message.id},
                "destination": _destination(client),
                "externalMessages": [{"id": secrets.token_hex(12)}],
            }
            if client.deliveryError is not None:
                call.emit(
                    "conversation:message:delivery:failure",
                    {**base, "isFinalEvent": True, "error": dict(client.deliveryError)},
                )
                continue
            call.emit("conversation:message:delivery:channel", {**base, "isFinalEvent": False})
            call.emit("conversation:message:delivery:user", {**base, "isFinalEvent": True})


def _destination(client: Client) -> dict:
    return {"type": client.type, **({"integrationId": client.integrationId} if client.integrationId else {})}
