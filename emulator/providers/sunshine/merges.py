"""Merging two users into one (reference 3): an SDK login into an identified user, or a Zendesk user merge
applied by SyncUser. Raises `user:merge`."""

from __future__ import annotations

import json
from collections.abc import Iterable

from . import attachments
from .bodies import METADATA_LIMIT, Body, Text
from .call import Call
from .errors import user_not_found
from .models import Conversation, User
from .sdk_forms import SDK, user_conversations
from .users import ensure_sdk_client


def default_conversation(conversations: list[Conversation]) -> Conversation | None:
    return next((c for c in conversations if c.type == "personal" and c.isDefault), None)


def merge_users(call: Call, discarded: User, surviving: User, reason: str) -> None:
    """The discarded user's conversations, clients and devices move to the surviving user, which keeps its
    own profile ([I] the discarded one fills its gaps); the discarded user and its session token go.
    [I] When both have a default conversation, the discarded one's messages join the survivor's and that
    conversation goes (`mergedConversations`); other conversations move as they are."""
    app = call.in_app()
    had_sdk_client = surviving.sdk_client()
    surviving_client = ensure_sdk_client(call, surviving, announce=False)  # the login announces it
    discarded_client = discarded.sdk_client()
    surviving_default = default_conversation(user_conversations(app, surviving))
    discarded_default = default_conversation(user_conversations(app, discarded))
    merged_conversations = None
    for conversation in user_conversations(app, discarded):
        for message in conversation.messages:
            if message.author.get("userId") == discarded.id:
                message.author["userId"] = surviving.id
        if conversation is discarded_default and surviving_default is not None:
            surviving_default.messages = sorted(
                surviving_default.messages + conversation.messages, key=lambda m: m.received
            )
            surviving_default.lastUpdatedAt = max(surviving_default.lastUpdatedAt, conversation.lastUpdatedAt)
            attachments.release(app, conversation.id)  # [I] its uploads go with it
            del app.conversations[conversation.id]
            merged_conversations = {"surviving": surviving_default.truncated(), "discarded": conversation.truncated()}
            continue
        participant = conversation.participant_of(discarded.id)
        if participant is None:
            continue
        if conversation.participant_of(surviving.id) is not None:
            conversation.participants.remove(participant)
        else:
            participant.userId, participant.userExternalId = surviving.id, surviving.externalId
            for association in participant.clientAssociations:
                if discarded_client is not None and association.get("clientId") == discarded_client.id:
                    association["clientId"] = surviving_client.id
        if conversation.id not in surviving.conversations:
            surviving.conversations.append(conversation.id)
    known = {d.guid for d in surviving_client.devices}
    for client in discarded.clients:
        if client.type == SDK:
            for device in client.devices:
                if device.guid not in known:
                    device.clientId = surviving_client.id
                    surviving_client.devices.append(device)
        else:
            surviving.clients.append(client)
    gaps = {
        name: value
        for name, value in discarded.profile.model_dump().items()
        if value is not None and getattr(surviving.profile, name) is None
    }
    if gaps:
        surviving.profile = surviving.profile.model_copy(update=gaps)
    combined = {**discarded.metadata, **surviving.metadata}
    payload: dict = {
        "mergedUsers": {"surviving": surviving.truncated(), "discarded": discarded.truncated()},
        "reason": reason,
    }
    if merged_conversations is not None:
        payload["mergedConversations"] = merged_conversations
    if len(json.dumps(combined).encode()) <= METADATA_LIMIT:
        surviving.metadata = combined
    elif discarded.metadata:
        payload["discardedMetadata"] = dict(discarded.metadata)
    if had_sdk_client is not None and discarded_client is not None:
        payload["mergedClients"] = {"surviving": surviving_client.public(), "discarded": discarded_client.public()}
    app.revoke_sdk_session(discarded.id)  # [C] the anonymous user's session token is revoked
    app.remove_user(discarded)
    call.emit("user:merge", payload)


class SyncUserBody(Body):
    survivingZendeskId: Text | None = None


def sync(call: Call, zendesk_id: str, body: SyncUserBody) -> User:
    """`POST users/{zendeskId}/sync`: 404 `user_not_found` for no user with that zendeskId. With
    `survivingZendeskId`, the Zendesk merge is applied: the user merges into the one holding that id
    (`user:merge`, [I] reason `api`), or takes the id when nobody holds it. [I] No core Zendesk user is
    emulated, so names, externalId and email are left as they are."""
    app = call.in_app()
    user = _by_zendesk_id(app.users.values(), zendesk_id)
    if user is None:
        raise user_not_found()
    target = body.survivingZendeskId
    if target is None or target == zendesk_id:
        return user
    survivor = _by_zendesk_id(app.users.values(), target)
    if survivor is None:
        user.zendeskId = target
        return user
    merge_users(call, user, survivor, "api")
    return survivor


def _by_zendesk_id(users: Iterable[User], zendesk_id: str) -> User | None:
    return next((u for u in users if u.zendeskId == zendesk_id), None)
