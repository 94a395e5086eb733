"""Users, their clients and devices (reference 2.1 and 2.3)."""

from __future__ import annotations

from .attachments import release as release_attachments
from .bodies import ClientCreateBody, UserCreateBody, UserUpdateBody
from .call import Call
from .errors import SunshineError, bad_request, not_found, user_not_found
from .models import Client, Device, Profile, User


def find(call: Call, user_ref: str) -> User:
    user = call.in_app().user(user_ref)
    if user is None:
        raise user_not_found()
    return user


def create(call: Call, body: UserCreateBody) -> User:
    app = call.in_app()
    if body.externalId is not None and app.user_by_external_id(body.externalId) is not None:
        raise SunshineError(409, "conflict", "User already exists")  # [C]
    user = User(
        externalId=body.externalId,
        brandId=body.brandId,
        signedUpAt=body.signedUpAt or call.timestamp,
        toBeRetained=bool(body.toBeRetained),
        profile=Profile.model_validate(body.profile.model_dump()) if body.profile else Profile(),
        metadata=body.metadata or {},
    )
    app.add_user(user)
    return user


def update(call: Call, user_ref: str, body: UserUpdateBody) -> User:
    """[I] profile fields merge (null clears one); metadata, when given, replaces the old."""
    user = find(call, user_ref)
    given = body.model_fields_set
    if "signedUpAt" in given and body.signedUpAt is not None:
        user.signedUpAt = body.signedUpAt
    if "toBeRetained" in given and body.toBeRetained is not None:
        user.toBeRetained = body.toBeRetained
    if body.profile is not None:
        user.profile = user.profile.model_copy(update=body.profile.model_dump(include=body.profile.model_fields_set))
    if "metadata" in given:
        user.metadata = body.metadata or {}
    return user  # [C] no user:update: it announces a change of identification only


def delete(call: Call, user_ref: str) -> None:
    """The user, its clients and its conversation history go: personal conversations are deleted, group
    conversations lose the participant."""
    app = call.in_app()
    user = find(call, user_ref)
    for conversation_id in user.conversations:
        conversation = app.conversations.get(conversation_id)
        if conversation is None:
            continue
        if conversation.type == "personal":
            del app.conversations[conversation_id]
            release_attachments(app, conversation_id)
        else:
            conversation.participants = [p for p in conversation.participants if p.userId != user.id]
    app.remove_user(user)
    call.emit("user:remove", {"user": user.truncated()})


def delete_personal_information(call: Call, user_ref: str) -> User:
    """[C] givenName, surname, email, avatarUrl and metadata are cleared, and each client's displayName,
    avatarUrl, info and raw; [I] identities too. The user, its locale and its conversations stay."""
    user = find(call, user_ref)
    user.profile = Profile(locale=user.profile.locale)
    user.metadata = {}
    user.identities = []
    for client in user.clients:
        client.displayName = client.avatarUrl = client.info = client.raw = None
    return user


def with_email_identity(call: Call, email: str) -> list[User]:
    """`filter[identities.email]`: matches identities, never `profile.email` [C]."""
    return [
        u for u in call.in_app().users.values() if any(i.type == "email" and i.value == email for i in u.identities)
    ]


def ensure_sdk_client(call: Call, user: User, announce: bool = True) -> Client:
    """The user's one `sdk` client, created when it has none (`subscribeSDKClient`); its creation raises
    `client:add` [C] unless the caller announces it itself. [I] without a `reason`: none of the spec's three
    (channelLinking, sdkLogin, authCode) fits."""
    client = user.sdk_client()
    if client is None:
        client = Client(type="sdk", status="active", linkedAt=call.timestamp, lastSeen=call.timestamp)
        user.clients.append(client)
        if announce:
            call.emit("client:add", {"user": user.truncated(), "client": client.public(), "source": dict(call.source)})
    return client


def link_client(call: Call, user_ref: str, body: ClientCreateBody) -> Client:
    """A channel link request: a `pending` client of the channel's type. [I] the link never completes on its own."""
    user = find(call, user_ref)
    conversation = call.in_app().conversations.get(body.target.conversationId)
    if conversation is None or conversation.participant_of(user.id) is None:
        raise not_found("conversation_not_found", "Conversation not found")
    client = Client(
        type=body.matchCriteria.type,
        status="pending",
        integrationId=body.matchCriteria.integrationId,
        externalId=body.matchCriteria.channel_address(),  # [I] the phone number or address the link reaches
        linkedAt=call.timestamp,
        linkConversationId=conversation.id,
    )
    user.clients.append(client)
    call.emit(
        "client:add",
        {
            "user": user.truncated(),
            "client": client.public(),
            "reason": "channelLinking",
            "conversation": conversation.truncated(),
            "source": dict(call.source),
        },
    )
    return client


def remove_client(call: Call, user_ref: str, client_id: str) -> None:
    user = find(call, user_ref)
    client = next((c for c in user.clients if c.id == client_id), None)
    if client is None:
        raise not_found("client_not_found", "Client not found")  # [C]
    if client.type == "sdk":
        raise bad_request("Cannot remove a client of type 'sdk'", "sdk_client")  # [C]
    user.clients.remove(client)
    call.emit(
        "client:remove",
        {"user": user.truncated(), "client": client.public(), "reason": "api", "source": dict(call.source)},
    )


def devices(call: Call, user_ref: str) -> list[Device]:
    """Every device of the user's clients, the most recently seen first. [C] sorted by lastSeen"""
    found = [device for client in find(call, user_ref).clients for device in client.devices]
    return sorted(found, key=lambda device: device.lastSeen, reverse=True)


def device(call: Call, user_ref: str, device_id: str) -> Device:
    found = next((d for d in devices(call, user_ref) if d.id == device_id), None)
    if found is None:
        raise not_found("device_not_found", "Device not found")  # [C]
    return found
