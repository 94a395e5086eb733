"""Conversations and their participants (reference 2.1, 2.3, "What the emulator must get right" 7)."""

from __future__ import annotations

from . import control
from .attachments import release as release_attachments
from .bodies import ConversationCreateBody, ConversationUpdateBody, LeaveBody, ParticipantRef
from .call import Call
from .errors import bad_request, conversation_not_found, not_found, user_not_found
from .models import Conversation, Participant, User
from .users import ensure_sdk_client


def find(call: Call, conversation_id: str) -> Conversation:
    conversation = call.in_app().conversations.get(conversation_id)
    if conversation is None:
        raise conversation_not_found()
    return conversation


def _user(call: Call, ref: ParticipantRef | LeaveBody) -> User:
    app = call.in_app()
    user = app.users.get(ref.userId) if ref.userId is not None else app.user_by_external_id(ref.userExternalId or "")
    if user is None:
        raise user_not_found()
    return user


def _participant(call: Call, user: User, subscribe_sdk_client: bool) -> Participant:
    associations = [{"type": c.type, "clientId": c.id} for c in user.clients if c.status == "active"]
    if subscribe_sdk_client:
        client = ensure_sdk_client(call, user)
        associations = [{"type": "sdk", "clientId": client.id}] + [
            a for a in associations if a["clientId"] != client.id
        ]
    return Participant(userId=user.id, userExternalId=user.externalId, clientAssociations=associations)


def create(call: Call, body: ConversationCreateBody, reason: str = "none") -> Conversation:
    """`reason`: the `creationReason` of `conversation:create` [C] (`none` through the API, `startConversation` from an SDK)."""
    app = call.in_app()
    refs = body.participants or []
    if body.type == "personal" and len(refs) != 1:
        raise bad_request(
            "personal conversations must have exactly one participant", "personal_participants"
        )  # [I] title
    if len(refs) > app.limits.participants:
        raise bad_request("Too many participants", "too_many_participants")  # [C]
    if body.type == "sdkGroup" and any(ref.subscribeSDKClient is None for ref in refs):
        raise bad_request(
            ".participants should have required property 'subscribeSDKClient'", "subscribe_required"
        )  # [C] required for sdkGroup
    users = [_user(call, ref) for ref in refs]
    if len({u.id for u in users}) != len(users):
        raise bad_request("A user can only appear once in participants", "duplicate_participant")  # [I]
    is_default = body.type == "personal" and not any(
        app.conversations[c].type == "personal" for c in users[0].conversations if c in app.conversations
    )
    conversation = Conversation(
        type=body.type,
        isDefault=is_default,
        displayName=body.displayName,
        description=body.description,
        iconUrl=body.iconUrl,
        metadata=body.metadata,
        createdAt=call.timestamp,
        lastUpdatedAt=call.timestamp,
    )
    conversation.participants = [
        _participant(call, user, bool(ref.subscribeSDKClient)) for user, ref in zip(users, refs, strict=True)
    ]
    app.conversations[conversation.id] = conversation
    control.assign_default(app, conversation)
    for user in users:
        user.conversations.append(conversation.id)
    payload: dict = {"conversation": conversation.truncated(), "creationReason": reason, "source": dict(call.source)}
    if conversation.type == "personal":
        payload["user"] = users[0].public()
    call.emit("conversation:create", payload)
    return conversation


def update(call: Call, conversation_id: str, body: ConversationUpdateBody) -> Conversation:
    conversation = find(call, conversation_id)
    for name in body.model_fields_set:
        setattr(conversation, name, getattr(body, name))
    return conversation


def delete(call: Call, conversation_id: str) -> None:
    app = call.in_app()
    conversation = find(call, conversation_id)
    if conversation.isDefault:
        # [C] the spec's title
        raise bad_request(
            f"Conversation {conversation.id} cannot be deleted because it is the default.", "default_conversation"
        )
    for participant in conversation.participants:
        user = app.users.get(participant.userId)
        if user is not None and conversation.id in user.conversations:
            user.conversations.remove(conversation.id)
    del app.conversations[conversation.id]
    release_attachments(app, conversation.id)
    call.emit("conversation:remove", {"conversation": conversation.truncated()})


def of_user(call: Call, user_id: str | None, user_external_id: str | None) -> list[Conversation]:
    """`filter[userId]` or `filter[userExternalId]`, exactly one [C]; 404 `user_not_found` for a stranger."""
    if (user_id is None) == (user_external_id is None):
        raise bad_request(
            "Exactly one of filter[userId] or filter[userExternalId] is required", "conversation_filter"
        )  # [I] title
    app = call.in_app()
    user = app.users.get(user_id) if user_id is not None else app.user_by_external_id(user_external_id or "")
    if user is None:
        raise user_not_found()
    return [app.conversations[c] for c in user.conversations if c in app.conversations]


def join(call: Call, conversation_id: str, ref: ParticipantRef) -> Participant:
    conversation = find(call, conversation_id)
    if conversation.type != "sdkGroup":
        raise bad_request("Only sdkGroup conversations can be joined", "join_personal")  # [I] title
    if ref.subscribeSDKClient is None:
        # [C] required for sdkGroup conversations, and only those are joined; the validator's wording
        raise bad_request("should have required property 'subscribeSDKClient'", "subscribe_required")
    user = _user(call, ref)
    if conversation.participant_of(user.id) is not None:
        raise bad_request("User is already a participant of the conversation", "already_participant")  # [I]
    if len(conversation.participants) >= call.in_app().limits.participants:
        raise bad_request("Too many participants", "too_many_participants")  # [C]
    participant = _participant(call, user, bool(ref.subscribeSDKClient))
    conversation.participants.append(participant)
    user.conversations.append(conversation.id)
    call.emit("conversation:join", {"conversation": conversation.truncated(), "user": user.truncated()})
    return participant


def leave(call: Call, conversation_id: str, body: LeaveBody) -> None:
    conversation = find(call, conversation_id)
    if conversation.type != "sdkGroup":
        raise bad_request("Only sdkGroup conversations can be left", "leave_personal")  # [I] title
    if body.participantId is not None:
        participant = next((p for p in conversation.participants if p.id == body.participantId), None)
    else:
        participant = conversation.participant_of(_user(call, body).id)
    if participant is None:
        raise not_found("not_found", "User is not a member of the conversation")  # [C]
    conversation.participants.remove(participant)
    user = call.in_app().users.get(participant.userId)
    if user is not None:
        if conversation.id in user.conversations:
            user.conversations.remove(conversation.id)
        call.emit("conversation:leave", {"conversation": conversation.truncated(), "user": user.truncated()})
