"""The answers of the legacy v1.1 API in its shapes: `_id` keys, `userId` = externalId, `properties` = metadata,
numeric `received`, and no nulls."""

from __future__ import annotations

from typing import Any

from ...core.clock import parse_instant
from .models import App, Client, Conversation, Message, User, without_nulls


def seconds(instant: str | None) -> float | None:
    """An ISO 8601 instant as v1's epoch seconds."""
    return parse_instant(instant) if instant else None


def _without_nulls(value: Any) -> Any:
    """Nested content (actions, items, coordinates) as the smooch models take it: no null anywhere."""
    if isinstance(value, dict):
        return {name: _without_nulls(item) for name, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value if item is not None]
    return value


def _client(client: Client) -> dict:
    platform = client.type
    if platform == "sdk":  # [I] a v1 SDK client is named by its platform: the first device's, else web
        platform = client.devices[0].type if client.devices else "web"
    return without_nulls(
        {
            "id": client.id,
            "platform": platform,
            "active": client.status == "active",
            "status": client.status,
            "integrationId": client.integrationId,
            "externalId": client.externalId,
            "lastSeen": client.lastSeen,
            "displayName": client.displayName,
            "info": client.info,
            "raw": client.raw,
        }
    )


def default_conversation(app: App, user: User) -> Conversation | None:
    """The user's default personal conversation (the v1.1 app user's one conversation)."""
    personal = [
        app.conversations[c]
        for c in user.conversations
        if c in app.conversations and app.conversations[c].type == "personal"
    ]
    return next((c for c in personal if c.isDefault), personal[0] if personal else None)


def app_user(app: App, user: User) -> dict:
    return without_nulls(
        {
            "_id": user.id,
            "userId": user.externalId,
            "givenName": user.profile.givenName,
            "surname": user.profile.surname,
            "email": user.profile.email,
            "avatarUrl": user.profile.avatarUrl,
            "signedUpAt": user.signedUpAt,
            "properties": user.metadata,
            "conversationStarted": default_conversation(app, user) is not None,  # [I] once its conversation exists
            "clients": [_client(c) for c in user.clients if c.status != "pending"],
            "pendingClients": [_client(c) for c in user.clients if c.status == "pending"],
        }
    )


_CONTENT_FIELDS = ("text", "mediaUrl", "mediaType", "altText", "actions", "items", "coordinates", "location")


def v1_message(app: App, message: Message) -> dict:
    author = message.author
    is_user = author.get("type") == "user"
    user = app.users.get(author.get("userId", "")) if is_user else None
    name = author.get("displayName")
    if name is None and user is not None:  # [I] a user's message carries the user's name when it has one
        name = " ".join(part for part in (user.profile.givenName, user.profile.surname) if part) or None
    source_type = str(message.source.get("type", "api"))
    return without_nulls(
        {
            "_id": message.id,
            "authorId": author.get("userId") if is_user else app.id,  # [I] the business speaks as the app
            "role": "appUser" if is_user else "appMaker",
            "type": message.content.get("type"),
            **{field: _without_nulls(message.content.get(field)) for field in _CONTENT_FIELDS},
            "name": name,
            "avatarUrl": author.get("avatarUrl"),
            "received": seconds(message.received),
            "source": {
                "type": "api" if source_type.startswith("api") else source_type
            },  # [I] v2 `api:conversations` is v1 `api`
            "metadata": message.metadata,
        }
    )


def v1_conversation(conversation: Conversation, user: User) -> dict:
    participant = conversation.participant_of(user.id)
    return without_nulls(
        {
            "_id": conversation.id,
            "unreadCount": participant.unreadCount if participant else 0,
            "appMakerLastRead": seconds(conversation.businessLastRead),
            "appUserLastRead": seconds(participant.lastRead) if participant else None,
        }
    )
