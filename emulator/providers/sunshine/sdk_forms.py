"""What the SDK sees: users, installs, conversations and messages in the SDK API's v1 names and epoch times
(reference 4, Android DTOs). Absent optional fields are left out, never null or ""."""

from __future__ import annotations

from ...core.clock import parse_instant
from .activities import with_action_ids
from .models import App, Client, Conversation, Device, Message, User, without_nulls

SDK = "sdk"


def epoch(timestamp: str | None) -> float | None:
    """[I] the SDK API keeps v1's times: epoch seconds (GET messages pages with `?before=<epoch>`)."""
    return None if timestamp is None else parse_instant(timestamp)


def client_form(client: Client, device: Device | None = None) -> dict:
    """ClientDto: one per SDK install (a device of the `sdk` client), one per other channel client."""
    if device is not None:
        return without_nulls(
            {
                "id": device.guid,
                "status": device.status,
                "active": device.status == "active",
                "lastSeen": device.lastSeen,
                "platform": device.type,
                "integrationId": device.integrationId,
                "pushNotificationToken": device.pushNotificationToken,
                "appVersion": device.appVersion,
                "info": device.info,
            }
        )
    return without_nulls(
        {
            "id": client.id,
            "status": client.status,
            "active": client.status == "active",
            "lastSeen": client.lastSeen,
            "platform": client.type,
            "integrationId": client.integrationId,
            "displayName": client.displayName,
            "info": client.info,
        }
    )


def app_user_form(user: User) -> dict:
    """AppUserDto: `_id` is the user's id, `userId` its externalId (absent for an anonymous user)."""
    clients: list[dict] = []
    pending: list[dict] = []
    for client in user.clients:
        if client.type == SDK:
            clients += [client_form(client, device) for device in client.devices]
        else:
            (pending if client.status == "pending" else clients).append(client_form(client))
    profile = user.profile
    return {
        **without_nulls(
            {
                "_id": user.id,
                "userId": user.externalId,
                "givenName": profile.givenName,
                "surname": profile.surname,
                "email": profile.email,
                "avatarUrl": profile.avatarUrl,
                "locale": profile.locale,
                "signedUpAt": user.signedUpAt,
            }
        ),
        "authenticated": user.authenticated,
        "properties": dict(user.metadata),
        "conversationStarted": bool(user.conversations),
        "clients": clients,
        "pendingClients": pending,
    }


def conversation_form(app: App, conversation: Conversation) -> dict:
    last_message = conversation.messages[-1] if conversation.messages else None
    return {
        **without_nulls(
            {
                "_id": conversation.id,
                "type": conversation.type,
                "displayName": conversation.displayName,
                "description": conversation.description,
                "iconUrl": conversation.iconUrl,
                "metadata": conversation.metadata,
                "businessLastRead": epoch(conversation.businessLastRead),
            }
        ),
        "isDefault": conversation.isDefault,
        "lastUpdatedAt": epoch(conversation.lastUpdatedAt),
        "participants": [
            without_nulls(
                {
                    "_id": p.id,
                    "appUserId": p.userId,
                    "userId": p.userExternalId,
                    "unreadCount": p.unreadCount,
                    "lastRead": epoch(p.lastRead),
                }
            )
            for p in conversation.participants
        ],
        "messageCount": len(conversation.messages),
        **({"lastMessage": message_form(last_message)} if last_message else {}),
    }


def message_form(message: Message) -> dict:
    """A v1 message: content fields at the top (each action with the `_id` a postback names), `role`
    appUser or business, `authorId` the user's id."""
    author = message.author
    role = "appUser" if author.get("type") == "user" else "business"
    return {
        **with_action_ids(message, message.content),
        **without_nulls(
            {
                "_id": message.id,
                "role": role,
                "authorId": author.get("userId"),
                "name": author.get("displayName"),
                "avatarUrl": author.get("avatarUrl"),
                "metadata": message.metadata,
            }
        ),
        "received": epoch(message.received),
        "source": dict(message.source),
    }


def user_conversations(app: App, user: User) -> list[Conversation]:
    return [app.conversations[c] for c in user.conversations if c in app.conversations]


def app_user_response(app: App, user: User, session_token: str | None = None) -> dict:
    """AppUserResponseDto; `sessionToken` only when an anonymous user is created."""
    answer = {
        "appUser": app_user_form(user),
        "conversations": [conversation_form(app, c) for c in user_conversations(app, user)],
        "conversationsPagination": {"hasMore": False},
        "settings": {},  # [I] the app's SDK settings are not emulated
    }
    return {**answer, "sessionToken": session_token} if session_token is not None else answer


def sdk_source(device: Device | None) -> dict:
    """The source of what an SDK does: its platform (v2 Source `type`: web, ios, android)."""
    return {"type": device.type if device is not None else "web"}
