"""The private SDK API of the Web, iOS and Android SDKs (reference 3 and 4): anonymous users with session
tokens, SDK login with an end user's JWT (upgrade, merge, switch), logout, and the user's own conversations
and messages.

The SDK keeps v1 names: `appUser._id` is the user's id and `appUser.userId` its externalId. A device is the
SDK's install (a browser, a phone), named by the SDK's client id (`client.id`, or the `x-smooch-clientid`
header): it is kept as a Device of the user's one `sdk` client, with `guid` = that client id. Where the
provider's behaviour is not public the choice is marked [I] (reference, Open questions).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import StrictStr, field_validator

from ...core.clock import parse_instant
from .auth import END_USER, Principal, authenticate
from .bodies import (
    EMAIL,
    METADATA_LIMIT,
    Body,
    ConversationCreateBody,
    MessagePostBody,
    check_metadata,
    formatted,
    parse_body,
    short,
)
from .call import Call
from .conversations import create as create_conversation
from .errors import (
    SunshineError,
    bad_request,
    conversation_not_found,
    invalid_auth,
    not_found,
    user_not_found,
)
from .merges import merge_users
from .messages import post as post_message
from .models import App, Conversation, Device, Message, SunshineState, User, without_nulls
from .sdk_forms import SDK, sdk_source, user_conversations
from .users import ensure_sdk_client

PLATFORMS = ("web", "ios", "android")  # [C] the Device types of the spec
MESSAGE_PAGE = 100  # [I] messages per GET, as the v2 API's page


def invalid_scope() -> SunshineError:
    # [C] an SDK call with an app- or account-scoped JWT (StackOverflow 46570680)
    return SunshineError(403, "forbidden", "Invalid scope", "sdk_server_scope")


# --- bodies ---------------------------------------------------------------------------------------------


class ClientBody(Body):
    """The SDK's description of itself (ClientDto): its id names the device."""

    id: Annotated[StrictStr, short(128)] | None = None
    platform: Literal["web", "ios", "android"] | None = None
    integrationId: Annotated[StrictStr, short(64)] | None = None
    pushNotificationToken: Annotated[StrictStr, short(4096)] | None = None
    appVersion: Annotated[StrictStr, short(128)] | None = None
    info: dict[str, Any] | None = None


class _ProfileFields(Body):
    givenName: Annotated[StrictStr, short(128)] | None = None
    surname: Annotated[StrictStr, short(128)] | None = None
    email: Annotated[StrictStr, formatted(128, EMAIL)] | None = None  # [C] the spec's format: email, as the v2 profile
    locale: Annotated[StrictStr, short(64)] | None = None
    properties: dict[str, Any] | None = None

    _properties = field_validator("properties")(lambda value: check_metadata(value, "User"))


class AppUserCreateBody(_ProfileFields):
    client: ClientBody | None = None
    userId: StrictStr | None = None  # [C] the SDKs send "" for an anonymous user
    intent: StrictStr | None = None  # [C] "conversation:start"


class AppUserUpdateBody(_ProfileFields):
    pass


class LoginBody(Body):
    userId: Annotated[StrictStr, short(1024)]
    appUserId: Annotated[StrictStr, short(64)] | None = None
    sessionToken: Annotated[StrictStr, short(256)] | None = None
    client: ClientBody | None = None


class LogoutBody(Body):
    client: ClientBody | None = None


class SdkConversationBody(Body):
    type: Literal["personal"] = "personal"  # [I] an SDK user starts its own conversations only
    displayName: Annotated[StrictStr, short(100)] | None = None
    description: Annotated[StrictStr, short(100)] | None = None
    iconUrl: Annotated[StrictStr, short(2048)] | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "Conversation"))


class SdkMessageBody(Body):
    """`{"message": {type, text, ...}, "author"?}`; [I] a flat v1 message `{type, text, ...}` is taken too.
    The author is always the calling user, whatever the body says."""

    message: dict[str, Any]
    metadata: dict[str, Any] | None = None


# --- who is calling ----------------------------------------------------------------------------------


@dataclass
class SdkCall:
    """One SDK call: the shared Call, the end user it speaks for (None before one exists), and the SDK's
    client id from `x-smooch-clientid`."""

    call: Call
    user: User | None
    header_client_id: str | None
    anonymous: bool = False  # reached with a session token

    @property
    def app(self) -> App:
        return self.call.in_app()

    def own_user(self, app_user_id: str) -> User:
        """`appusers/{appUserId}` of the caller: 403 for another user, 404 for none. [I]"""
        if self.user is not None and self.user.id == app_user_id:
            return self.user
        if app_user_id in self.app.users:
            raise SunshineError(403, "forbidden", "Forbidden", "another_app_user")
        raise user_not_found()

    def own_conversation(self, conversation_id: str) -> Conversation:
        """A conversation the caller takes part in: 403 for another's, 404 for none. [I]"""
        conversation = self.app.conversations.get(conversation_id)
        if conversation is None:
            raise conversation_not_found()
        if self.user is None or conversation.participant_of(self.user.id) is None:
            raise SunshineError(403, "forbidden", "Forbidden", "another_users_conversation")
        return conversation

    def device_id(self, client: ClientBody | None) -> str:
        """The SDK's client id: the body's, else the header's; [I] one of them is required."""
        found = client.id if client is not None and client.id is not None else self.header_client_id
        if not found:
            raise bad_request(".client should have required property 'id'", "sdk_client_id")
        return found


def find_app(state: SunshineState, app_id: str) -> App:
    app = state.apps.get(app_id)
    if app is None:
        raise not_found("app_not_found", "App not found")
    return app


def caller(
    state: SunshineState, app: App, header: str | None, now: float, lifecycle: Any
) -> tuple[Principal, User | None, bool]:
    """The end user behind an SDK call's Authorization: `Basic appUserId:sessionToken` (anonymous) or a
    Bearer user JWT (identified). Server credentials are refused (403 "Invalid scope" for a server JWT)."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() == "basic" and credentials.strip():
        try:
            user_id, separator, token = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise invalid_auth("Invalid Basic authorization", "malformed_basic") from None
        user = app.sdk_session_user(user_id, token) if separator else None
        if user is None:
            raise invalid_auth("Invalid appUserId or sessionToken", "bad_session_token")  # [I] title
        return Principal(END_USER, "", app.id), user, True
    principal = authenticate(state, header, now, lifecycle, end_users=True)
    if principal.scope != END_USER:
        raise invalid_scope()
    if principal.app_id != app.id:
        raise SunshineError(403, "forbidden", "Forbidden", "key_of_another_app")
    return principal, app.user_by_external_id(principal.external_id or ""), False


def login_principal(state: SunshineState, app: App, header: str | None, now: float, lifecycle: Any) -> Principal:
    """Login takes a Bearer user JWT only."""
    scheme = (header or "").strip().partition(" ")[0].lower()
    if header and header.strip() and scheme != "bearer":
        raise invalid_auth("Login requires a user JWT (Authorization: Bearer)", "login_without_jwt")  # [I]
    principal = authenticate(state, header, now, lifecycle, end_users=True)
    if principal.scope != END_USER:
        raise invalid_scope()
    if principal.app_id != app.id:
        raise SunshineError(403, "forbidden", "Forbidden", "key_of_another_app")
    return principal


# --- devices ---------------------------------------------------------------------------------------


def calling_device(user: User | None, guid: str | None) -> Device | None:
    if user is None:
        return None
    devices = [d for c in user.clients if c.type == SDK for d in c.devices]
    named = next((d for d in devices if d.guid == guid), None) if guid else None
    return named or max(devices, key=lambda d: d.lastSeen, default=None)


def attach_device(call: Call, user: User, guid: str, client: ClientBody | None) -> tuple[Device, bool]:
    """The user's device for this SDK install, made active and seen now; True when it is new. The caller
    announces a new `sdk` client (`client:add`), with the device as its source."""
    sdk_client = ensure_sdk_client(call, user, announce=False)
    device = next((d for d in sdk_client.devices if d.guid == guid), None)
    added = device is None
    if device is None:
        device = Device(guid=guid, clientId=sdk_client.id, lastSeen=call.timestamp)
        sdk_client.devices.append(device)
    device.status = "active"
    device.lastSeen = sdk_client.lastSeen = call.timestamp
    if client is not None:
        for name in ("integrationId", "pushNotificationToken", "appVersion", "info"):
            if getattr(client, name) is not None:
                setattr(device, name, getattr(client, name))
        if client.platform is not None:
            device.type = client.platform
    return device, added


def _apply_profile(user: User, body: _ProfileFields) -> None:
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("givenName", "surname", "email", "locale")
        if name in body.model_fields_set
    }
    if changes:
        user.profile = user.profile.model_copy(update=changes)
    if body.properties is not None:
        user.metadata = {**user.metadata, **body.properties}


# --- operations -------------------------------------------------------------------------------------


def create_anonymous(sdk: SdkCall, body: AppUserCreateBody) -> tuple[User, str]:
    """`POST appusers`: a new anonymous user with its `sdk` client and this install's device, and its
    session token. [I] `intent: "conversation:start"` also starts its default conversation."""
    call, app = sdk.call, sdk.app
    guid = sdk.device_id(body.client)
    if body.userId:
        raise bad_request("An identified user logs in with a JWT (POST /login)", "sdk_create_with_user_id")  # [I]
    if body.properties is not None and len(json.dumps(body.properties).encode()) > METADATA_LIMIT:
        raise bad_request(f"User metadata is limited to {METADATA_LIMIT} bytes in size.", "metadata_too_large")
    user = User(signedUpAt=call.timestamp)
    _apply_profile(user, body)
    app.add_user(user)
    device, _ = attach_device(call, user, guid, body.client)
    sdk_client = user.sdk_client()
    assert sdk_client is not None
    call.emit(
        "client:add", {"user": user.truncated(), "client": sdk_client.public(), "source": sdk_source(device)}
    )  # [C] an SDK client is created
    if body.intent == "conversation:start":
        start_conversation(sdk, user, SdkConversationBody())
    return user, app.open_sdk_session(user)


def update_app_user(sdk: SdkCall, app_user_id: str, body: AppUserUpdateBody) -> User:
    user = sdk.own_user(app_user_id)
    merged = {**user.metadata, **(body.properties or {})}
    if len(json.dumps(merged).encode()) > METADATA_LIMIT:
        raise bad_request(f"User metadata is limited to {METADATA_LIMIT} bytes in size.", "metadata_too_large")
    locale = user.profile.locale
    _apply_profile(user, body)
    if user.profile.locale != locale:  # [C] user:update for a change of identification only; [I] a new locale is one
        device = calling_device(user, sdk.header_client_id)
        sdk.call.emit("user:update", {"user": user.public(), "reason": "localeDetection", "source": sdk_source(device)})
    return user


def start_conversation(sdk: SdkCall, user: User, body: SdkConversationBody) -> Conversation:
    """A personal conversation of the user (the first is its default), through the v2 rules."""
    call = sdk.call
    created = parse_body(
        ConversationCreateBody,
        {
            **body.model_dump(exclude_none=True),
            "type": "personal",
            "participants": [{"userId": user.id, "subscribeSDKClient": True}],
        },
    )
    call.source = sdk_source(calling_device(user, sdk.header_client_id))
    return create_conversation(call, created, "startConversation")  # [C] a startConversation call of an SDK


def _has_history(app: App, user: User) -> bool:
    """[I] history = a conversation of the user that holds a message."""
    return any(conversation.messages for conversation in user_conversations(app, user))


def login(sdk: SdkCall, principal: Principal, body: LoginBody) -> User:
    """SDK login (reference 3, [I] server rules): upgrade the anonymous user in place when nobody holds the
    externalId; merge it into the holder when it has history; else simply switch to the identified user
    (created when missing). The install's device joins the user (`client:add`, reason `sdkLogin`, when new)."""
    call, app = sdk.call, sdk.app
    external_id = principal.external_id or ""
    if body.userId != external_id:
        raise invalid_auth("Invalid JWT body. userId does not match the JWT's user", "login_user_mismatch")  # [I]
    guid = sdk.device_id(body.client)
    anonymous: User | None = None
    if (body.appUserId is None) != (body.sessionToken is None):
        raise bad_request("appUserId and sessionToken go together", "login_half_session")  # [I]
    if body.appUserId is not None:
        anonymous = app.sdk_session_user(body.appUserId, body.sessionToken or "")
        if anonymous is None or anonymous.externalId is not None:
            raise invalid_auth("Invalid appUserId or sessionToken", "bad_session_token")  # [I]
    holder = app.user_by_external_id(external_id)
    if holder is None and anonymous is not None:
        user = anonymous
        user.externalId, user.authenticated = external_id, True
        app.add_user(user)  # files it under its externalId
        app.revoke_sdk_session(user.id)  # [I] an identified user is reached with a JWT only
        for conversation in user_conversations(app, user):
            participant = conversation.participant_of(user.id)
            if participant is not None:
                participant.userExternalId = external_id
        device, added = attach_device(call, user, guid, body.client)
        call.emit("user:update", {"user": user.public(), "reason": "authentication", "source": sdk_source(device)})
    elif holder is None:
        user = User(externalId=external_id, authenticated=True, signedUpAt=call.timestamp)
        app.add_user(user)
        device, added = attach_device(call, user, guid, body.client)
    elif anonymous is not None and _has_history(app, anonymous):
        user = holder
        had_devices = {d.guid for c in user.clients if c.type == SDK for d in c.devices}
        merge_users(call, anonymous, user, "sdkLogin")
        device, _ = attach_device(call, user, guid, body.client)
        added = guid not in had_devices
    else:
        user = holder
        device, added = attach_device(call, user, guid, body.client)
    if added:
        sdk_client = user.sdk_client()
        assert sdk_client is not None
        call.emit(
            "client:add",
            {
                "user": user.truncated(),
                "client": sdk_client.public(),
                "reason": "sdkLogin",
                "source": sdk_source(device),
            },
        )
    return user


def logout(sdk: SdkCall, app_user_id: str, body: LogoutBody) -> None:
    """[I] the install's device becomes `inactive`; the user and its history stay; an anonymous user's
    session token is revoked (its SDK forgets it and starts a new anonymous user next time)."""
    user = sdk.own_user(app_user_id)
    guid = sdk.device_id(body.client)
    device = next((d for c in user.clients if c.type == SDK for d in c.devices if d.guid == guid), None)
    if device is None:
        raise not_found("client_not_found", "Client not found")
    device.status = "inactive"
    if user.externalId is None:
        sdk.app.revoke_sdk_session(user.id)


def post_user_message(sdk: SdkCall, conversation_id: str, body: SdkMessageBody) -> Message:
    """A message of the calling user, through the v2 rules (limit, unread counts, `conversation:message`);
    its source is the SDK's platform."""
    conversation = sdk.own_conversation(conversation_id)
    user = sdk.user
    assert user is not None
    content = {
        key: value
        for key, value in body.message.items()
        if key not in ("role", "authorId", "name", "avatarUrl", "_id", "received", "source", "metadata")
    }
    metadata = body.metadata if body.metadata is not None else body.message.get("metadata")
    post_body = parse_body(
        MessagePostBody,
        without_nulls({"author": {"type": "user", "userId": user.id}, "content": content, "metadata": metadata}),
    )
    sdk.call.source = sdk_source(calling_device(user, sdk.header_client_id))
    return post_message(sdk.call, conversation.id, post_body)


def parse_message_body(data: Any) -> SdkMessageBody:
    """`{"message": {...}}`, or [I] a flat v1 message."""
    if isinstance(data, dict) and "message" not in data and "type" in data:
        data = {"message": data}
    return parse_body(SdkMessageBody, data)


def messages_before(conversation: Conversation, before: str | None) -> tuple[list[Message], bool]:
    """The newest 100 messages received before `before` (epoch seconds), oldest first; and whether older ones exist."""
    found = conversation.messages
    if before is not None:
        try:
            limit = float(before)
        except ValueError:
            limit = math.nan
        if not math.isfinite(limit):
            raise bad_request("before should be a number of seconds since the epoch", "sdk_before")  # [I]
        found = [m for m in found if parse_instant(m.received) < limit]
    return found[-MESSAGE_PAGE:], len(found) > MESSAGE_PAGE
