"""What the SDKs do besides messaging (reference 4's routes): activities, postbacks, referrals, file uploads,
auth codes, the v1 `upgrade`, the install's push token, and the integration's config. Where the SDK's body is
not public the accepted shape is marked [I]."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from pydantic import StrictStr, model_validator

from . import activities, attachments
from .auth import token_digest
from .bodies import Body, Text, short
from .errors import bad_request, not_found, user_not_found
from .merges import default_conversation
from .models import App, Conversation, Device, Integration, Message, User
from .sdk import (
    ClientBody,
    SdkCall,
    SdkConversationBody,
    SdkMessageBody,
    attach_device,
    calling_device,
    post_user_message,
    start_conversation,
)
from .sdk_forms import SDK, sdk_source, user_conversations
from .users import ensure_sdk_client

AUTH_CODE_TTL = 600.0  # [I] seconds an auth code stays valid (single use)
SDK_INTEGRATIONS = ("web", "ios", "android")


class SdkActivity(Body):
    type: Literal["conversation:read", "typing:start", "typing:stop"]


class SdkActivityBody(Body):
    """[I] `{"activity": {"type"}, "author"?}`; the author is always the caller."""

    activity: SdkActivity


class PostbackRef(Body):
    actionId: Text


class SdkPostbackBody(Body):
    """[I] `{"postback": {"actionId"}, "author"?}`: the `_id` of a postback action in the SDK's message form."""

    postback: PostbackRef


class Referral(Body):
    code: Annotated[StrictStr, short(2048)]
    details: dict[str, Any] | None = None


class SdkReferralBody(Body):
    """[I] `{"referral": {"code", "details"?}}`."""

    referral: Referral


class SubscribeBody(Body):
    """[C] the iOS SDK sends `{"author": {...}}` ([I] its fields are not read: the author is always the caller)."""

    author: dict[str, Any] | None = None


class AuthCodeBody(Body):
    authCode: Text
    client: ClientBody | None = None


class UpgradeBody(Body):
    clientId: Annotated[StrictStr, short(128)]


class PushBody(ClientBody):
    @model_validator(mode="after")
    def _something(self) -> PushBody:
        if not self.model_fields_set - {"id"}:
            raise ValueError("nothing to update")  # [I]
        return self


def _with_source(sdk: SdkCall) -> User:
    """The caller, with the call's source set to its install's platform."""
    user = sdk.user
    assert user is not None
    sdk.call.source = sdk_source(calling_device(user, sdk.header_client_id))
    return user


def activity(sdk: SdkCall, conversation_id: str, body: SdkActivityBody) -> None:
    conversation = sdk.own_conversation(conversation_id)
    activities.record(sdk.call, conversation, _with_source(sdk), body.activity.type)


def postback(sdk: SdkCall, conversation_id: str, body: SdkPostbackBody) -> None:
    conversation = sdk.own_conversation(conversation_id)
    action = activities.find_postback(conversation, body.postback.actionId)
    if action is None:
        raise bad_request("No postback action with that actionId in the conversation", "postback_unknown_action")  # [I]
    activities.postback(sdk.call, conversation, _with_source(sdk), action)


def referral(sdk: SdkCall, conversation_id: str, body: SdkReferralBody) -> None:
    conversation = sdk.own_conversation(conversation_id)
    activities.referral(sdk.call, conversation, _with_source(sdk), body.referral.code, body.referral.details)


def start_default_conversation(sdk: SdkCall, app_user_id: str) -> tuple[Conversation, bool]:
    """`appusers/{id}/conversation` (iOS): the caller's default conversation, started when it has none
    ([I] the same start as `POST appusers/{id}/conversations`: `conversation:create`, `startConversation`);
    whether it was started now."""
    user = sdk.own_user(app_user_id)
    found = default_conversation(user_conversations(sdk.app, user))
    if found is not None:
        return found, False
    return start_conversation(sdk, user, SdkConversationBody()), True


def subscribe(sdk: SdkCall, conversation_id: str) -> Conversation:
    """`conversations/{id}/subscribe` (iOS, when it opens a conversation): the caller's SDK client joins the
    participant's client associations (first, [I] as `subscribeSDKClient` does), created when it has none
    (`client:add`); [I] subscribing again changes nothing and raises nothing."""
    conversation = sdk.own_conversation(conversation_id)
    user = _with_source(sdk)
    client = ensure_sdk_client(sdk.call, user)
    participant = conversation.participant_of(user.id)
    assert participant is not None  # own_conversation checked it
    if not any(a.get("clientId") == client.id for a in participant.clientAssociations):
        participant.clientAssociations = [{"type": "sdk", "clientId": client.id}, *participant.clientAssociations]
    return conversation


def upload(
    sdk: SdkCall,
    host_url: str,
    conversation_id: str,
    data: bytes,
    file_name: str,
    media_type: str | None,
    fields: dict[str, Any],
) -> Message:
    """`files` (multipart `source` = the file, [I] `message` = optional JSON fields such as text): the file is
    stored as a `for=message` attachment and sent as the caller's image or file message."""
    conversation = sdk.own_conversation(conversation_id)
    attachment = attachments.upload(sdk.call, data, file_name, media_type, "public", "message", conversation.id)
    kind = "image" if attachment.mediaType.startswith("image/") else "file"
    url = attachments.media_url(host_url, attachment)
    content = {
        **{k: v for k, v in fields.items() if k in ("text", "altText")},
        "type": kind,
        "mediaUrl": url,
        "mediaType": attachment.mediaType,
    }
    if kind == "file":
        content["mediaSize"] = len(data)
    return post_user_message(sdk, conversation.id, SdkMessageBody(message=content, metadata=fields.get("metadata")))


def issue_auth_code(app: App, user: User, now: float) -> str:
    """A single-use code that opens an SDK session for `user` (v1.1 `GET appusers/{id}/authcode`)."""
    code = f"ac_{secrets.token_urlsafe(24)}"  # [I] form
    app.auth_codes[token_digest(code)] = {"userId": user.id, "expires": now + AUTH_CODE_TTL}
    return code


def redeem_auth_code(sdk: SdkCall, body: AuthCodeBody) -> tuple[User, str]:
    """`appusers/authcode`: the code's user, this install as its device (`client:add`, reason `authCode`,
    when new), and a session token for it. 401 for a code unknown, spent or expired [I]."""
    call, app = sdk.call, sdk.app
    guid = sdk.device_id(body.client)
    grant = app.auth_codes.get(token_digest(body.authCode))
    user = app.users.get(grant["userId"]) if grant is not None and grant["expires"] > call.now else None
    if user is None:
        raise bad_request("Invalid authCode", "bad_auth_code")  # [I]
    del app.auth_codes[token_digest(body.authCode)]
    device, added = attach_device(call, user, guid, body.client)
    if added:
        sdk_client = user.sdk_client()
        assert sdk_client is not None
        call.emit(
            "client:add",
            {
                "user": user.truncated(),
                "client": sdk_client.public(),
                "reason": "authCode",
                "source": sdk_source(device),
            },
        )
    return user, app.open_sdk_session(user)


def upgrade(sdk: SdkCall, body: UpgradeBody) -> tuple[User, str]:
    """v1 `appusers/upgrade {clientId}`: [I] the anonymous user whose install that is gets a new session token
    (what web v4 used to move a stored client id to session tokens)."""
    app = sdk.app
    user = next((u for u in app.users.values() if u.externalId is None and _device(u, body.clientId) is not None), None)
    if user is None:
        raise user_not_found()
    return user, app.open_sdk_session(user)


def _device(user: User, guid: str) -> Device | None:
    return next((d for c in user.clients if c.type == SDK for d in c.devices if d.guid == guid), None)


def update_install(sdk: SdkCall, app_user_id: str, client_id: str, body: PushBody) -> Device:
    """`PUT appusers/{appUserId}/clients/{clientId}`: the install's push token and details. [I] no event."""
    user = sdk.own_user(app_user_id)
    device = _device(user, client_id)
    if device is None:
        raise not_found("client_not_found", "Client not found")
    for name in ("integrationId", "pushNotificationToken", "appVersion", "info"):
        if name in body.model_fields_set:
            setattr(device, name, getattr(body, name))
    if body.platform is not None:
        device.type = body.platform
    device.lastSeen = sdk.call.timestamp
    return device


def sdk_integration(app: App, integration_id: str) -> Integration:
    found = app.integration(integration_id)
    if found is None or found.type not in SDK_INTEGRATIONS:
        raise not_found("integration_not_found", "Integration not found")
    return found


def config(app: App, integration: Integration, host_url: str) -> dict:
    """[I] the SDK config: the app, where the SDK API is (`baseUrl` per platform) and the integration."""
    base = host_url.rstrip("/") + "/sdk/"
    return {
        "config": {
            "app": {"_id": app.id, "name": app.displayName, "status": "active", "settings": {}},
            "baseUrl": {platform: base for platform in SDK_INTEGRATIONS},
            "integrations": [
                {
                    "_id": integration.id,
                    "type": integration.type,
                    **({"displayName": integration.displayName} if integration.displayName else {}),
                }
            ],
        }
    }
