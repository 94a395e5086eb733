"""Sunshine Conversations state: apps, their API keys, integrations and webhooks, users with their clients
and devices, conversations with their participants and messages, the app's switchboard.

One model for seed and state; every record keeps the field names of the v2 API, so that its public form is
a plain dump. Ids are 24 lowercase hex characters, as the provider's (MongoDB ObjectIds).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ...core.validation import check_filed_by_id, keyed_by_id

PROVIDER = "sunshine"
HEX_ID = re.compile(r"[0-9a-f]{24}")
KEY_ID = re.compile(r"(app|act|svc|int)_[0-9A-Za-z]{1,64}")
KEY_SCOPES = {"app": "app", "act": "account", "svc": "account", "int": "integration"}  # [C] key id prefix -> scope


def new_id() -> str:
    return secrets.token_hex(12)


def new_secret() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, like the spec's example secret


def without_nulls(fields: dict) -> dict:
    """Optional fields left out when null: the SDK and v1 forms never send null (the `smooch` models refuse it)."""
    return {name: value for name, value in fields.items() if value is not None}


def key_scope(key_id: str) -> str:
    return KEY_SCOPES[key_id.split("_", 1)[0]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _hex_id(value: str) -> str:
    if not HEX_ID.fullmatch(value):
        raise ValueError("an id is 24 lowercase hex characters")
    return value


class Key(_Model):
    id: str
    secret: str = Field(min_length=1, max_length=256)
    displayName: str | None = None

    @field_validator("id")
    @classmethod
    def _key_id(cls, value: str) -> str:
        if not KEY_ID.fullmatch(value):
            raise ValueError("a key id is app_, act_, svc_ or int_ followed by letters and digits")
        return value

    def public(self) -> dict:
        return without_nulls(self.model_dump())  # a seeded key may have no displayName; the spec's is a string


class Webhook(_Model):
    id: str = Field(default_factory=new_id)
    version: Literal["v2"] = "v2"
    target: str = Field(min_length=1, max_length=2048)
    triggers: list[str] = Field(min_length=1)
    secret: str = Field(default_factory=lambda: secrets.token_hex(16))
    includeFullUser: bool = False
    includeFullSource: bool = False

    def public(self) -> dict:
        return self.model_dump()


class Integration(_Model):
    """A custom integration, the owner of webhooks and of `int_` keys; or an SDK integration (web, ios,
    android) that an SDK's config names. [I] the API creates `custom` ones only."""

    id: str = Field(default_factory=new_id)
    type: Literal["custom", "web", "ios", "android"] = "custom"  # [I] the SDK integrations are seeded, never created
    status: Literal["active", "inactive", "error"] = "active"
    displayName: str | None = None
    webhooks: list[Webhook] = []
    keys: list[Key] = []

    def public(self) -> dict:
        return {**self.model_dump(exclude={"keys", "webhooks"}), "webhooks": [w.public() for w in self.webhooks]}


class SwitchboardIntegrationRef(_Model):
    """A switchboard integration as a conversation names it (`activeSwitchboardIntegration`, `pending...`)."""

    id: str
    name: str
    integrationId: str
    integrationType: str


class SwitchboardIntegration(_Model):
    id: str = Field(default_factory=new_id)
    name: str
    integrationId: str
    integrationType: str
    deliverStandbyEvents: bool = True
    nextSwitchboardIntegrationId: str | None = None
    messageHistoryCount: int | None = None

    def public(self) -> dict:
        return self.model_dump()

    def ref(self) -> SwitchboardIntegrationRef:
        return SwitchboardIntegrationRef(
            id=self.id, name=self.name, integrationId=self.integrationId, integrationType=self.integrationType
        )


class Switchboard(_Model):
    """The app's switchboard (at most one) and its switchboard integrations."""

    id: str = Field(default_factory=new_id)
    enabled: bool = False
    defaultSwitchboardIntegrationId: str | None = None
    integrations: list[SwitchboardIntegration] = []

    def public(self) -> dict:
        return without_nulls(self.model_dump(exclude={"integrations"}))

    def member(self, switchboard_integration_id: str | None) -> SwitchboardIntegration | None:
        return next((i for i in self.integrations if i.id == switchboard_integration_id), None)


class Limits(_Model):
    """The provider's limits, lowerable per app so a test can reach them quickly."""

    messages_per_conversation: int = Field(default=30_000, ge=1, le=30_000)  # [C] 423 past it
    keys: int = Field(default=10, ge=0, le=10)  # [C] app keys per app
    webhooks: int = Field(default=10, ge=0, le=10)  # [C] webhooks per app
    participants: int = Field(default=10, ge=1, le=10)  # [C] sdkGroup participants
    attachment_bytes: int = Field(default=50 * 1024 * 1024, ge=1, le=50 * 1024 * 1024)  # [C] 50 MB per upload


class Profile(_Model):
    givenName: str | None = None
    surname: str | None = None
    email: str | None = None
    avatarUrl: str | None = None
    locale: str | None = None


class Identity(_Model):
    type: str
    value: str
    verification: str | None = None


class Device(_Model):
    id: str = Field(default_factory=new_id)
    type: Literal["android", "ios", "web"] = "web"
    guid: str
    clientId: str
    status: Literal["active", "inactive"] = "active"
    integrationId: str | None = None
    lastSeen: str
    pushNotificationToken: str | None = None
    info: dict | None = None
    appVersion: str | None = None

    def public(self) -> dict:
        return self.model_dump()


class Client(_Model):
    id: str = Field(default_factory=new_id)
    type: str = "sdk"
    status: Literal["active", "blocked", "inactive", "pending"] = "active"
    integrationId: str | None = None
    externalId: str | None = None
    lastSeen: str | None = None
    linkedAt: str | None = None
    displayName: str | None = None
    avatarUrl: str | None = None
    info: dict | None = None
    raw: dict | None = None
    devices: list[Device] = []
    deliveryError: dict[str, str] | None = None  # emulator-only: deliveries to this client fail with {code, message}
    linkConversationId: str | None = None  # internal: the conversation a pending channel link targets

    def public(self) -> dict:
        return self.model_dump(exclude={"devices", "deliveryError", "linkConversationId"})


_USER_INTERNAL = {"clients", "conversations"}
_CONVERSATION_INTERNAL = {"participants", "messages"}
_CONTROL = ("activeSwitchboardIntegration", "pendingSwitchboardIntegration")  # [C] omitted when there is none


class User(_Model):
    id: str = Field(default_factory=new_id)
    externalId: str | None = None
    zendeskId: str | None = None
    brandId: str | None = None
    authenticated: bool = False
    signedUpAt: str | None = None
    toBeRetained: bool = False
    hasPaymentInfo: bool = False
    profile: Profile = Profile()
    metadata: dict[str, Any] = {}
    identities: list[Identity] = []
    clients: list[Client] = []  # not part of the user's public form
    conversations: list[str] = []  # ids of the conversations it takes part in, oldest first; internal

    def public(self) -> dict:
        return self.model_dump(exclude=_USER_INTERNAL)

    def truncated(self) -> dict:
        return {"id": self.id, "externalId": self.externalId, "authenticated": self.authenticated}

    def sdk_client(self) -> Client | None:
        return next((c for c in self.clients if c.type == "sdk"), None)


class Participant(_Model):
    id: str = Field(default_factory=new_id)
    userId: str
    userExternalId: str | None = None
    unreadCount: int = 0
    lastRead: str | None = None
    clientAssociations: list[dict[str, str]] = []

    def public(self) -> dict:
        return self.model_dump()


class Message(_Model):
    id: str = Field(default_factory=new_id)
    received: str
    author: dict[str, Any]
    content: dict[str, Any]
    source: dict[str, Any]
    metadata: dict[str, Any] | None = None
    deleted: bool = False

    def public(self) -> dict:
        return self.model_dump()


class Conversation(_Model):
    id: str = Field(default_factory=new_id)
    type: Literal["personal", "sdkGroup"]
    isDefault: bool = False
    displayName: str | None = None
    description: str | None = None
    iconUrl: str | None = None
    metadata: dict[str, Any] | None = None
    businessLastRead: str | None = None
    lastUpdatedAt: str
    createdAt: str
    activeSwitchboardIntegration: SwitchboardIntegrationRef | None = None
    pendingSwitchboardIntegration: SwitchboardIntegrationRef | None = None
    participants: list[Participant] = []
    messages: list[Message] = []

    def public(self) -> dict:
        return self.model_dump(
            exclude=_CONVERSATION_INTERNAL | {name for name in _CONTROL if getattr(self, name) is None}
        )

    def truncated(self) -> dict:
        shown = {"id": self.id, "type": self.type, "metadata": self.metadata}
        for name in _CONTROL:
            ref = getattr(self, name)
            if ref is not None:
                shown[name] = ref.model_dump()
        return shown

    def participant_of(self, user_id: str) -> Participant | None:
        return next((p for p in self.participants if p.userId == user_id), None)


class Attachment(_Model):
    """An uploaded file, served by the emulator at its `mediaUrl` path."""

    id: str
    fileName: str
    mediaType: str
    data: str  # base64
    conversationId: str | None = None  # `for=message`: deleted with its conversation [C]


class OAuthClient(_Model):
    """An emulated marketplace (partner) integration: its OAuth client, and the app its admin grants. [I]"""

    id: str = Field(min_length=1, max_length=128)
    secret: str = Field(min_length=1, max_length=256)
    name: str = "Marketplace integration"
    redirectUris: list[str] = Field(min_length=1)
    appId: str  # [I] the app the emulated Zendesk admin picks on the Allow/Deny page


class App(_Model):
    id: str = Field(default_factory=new_id)
    displayName: str | None = None
    subdomain: str | None = None
    settings: dict[str, Any] = {}
    metadata: dict[str, Any] | None = None
    keys: list[Key] = []
    integrations: list[Integration] = []
    limits: Limits = Limits()
    switchboards: list[Switchboard] = Field(default=[], max_length=1)  # [C] one per app
    users: dict[str, User] = {}
    conversations: dict[str, Conversation] = {}
    sdk_sessions: dict[str, str] = {}  # SDK API: anonymous user id -> sha256 (hex) of its session token
    attachments: dict[str, Attachment] = {}
    oauth_tokens: dict[str, str] = {}  # sha256 (hex) of an OAuth access token -> the integration it stands for
    oauth_clients: dict[str, str] = {}  # integration id -> the marketplace OAuth client it was authorized for
    auth_codes: dict[str, dict[str, Any]] = {}  # sha256 (hex) of an SDK auth code -> {userId, expires} (single use)
    _by_external_id: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _hex(cls, value: str) -> str:
        return _hex_id(value)

    @field_validator("users", "conversations", mode="before")
    @classmethod
    def _listed_or_keyed(cls, items: Any) -> Any:
        return keyed_by_id(items, "id")

    @model_validator(mode="after")
    def _consistent(self) -> App:
        check_filed_by_id(self.users, lambda user: user.id, "user")
        check_filed_by_id(self.conversations, lambda conversation: conversation.id, "conversation")
        external = [u.externalId for u in self.users.values() if u.externalId is not None]
        if len(external) != len(set(external)):
            raise ValueError("two users of an app share an externalId")
        return self

    def model_post_init(self, context: Any) -> None:
        self._by_external_id = {u.externalId: u.id for u in self.users.values() if u.externalId is not None}

    def public(self) -> dict:
        return {"id": self.id, "displayName": self.displayName, "settings": self.settings, "metadata": self.metadata}

    def user(self, id_or_external_id: str) -> User | None:
        """A user by id, else by externalId (the provider tries both for `{userIdOrExternalId}`)."""
        found = self.users.get(id_or_external_id)
        if found is not None:
            return found
        user_id = self._by_external_id.get(id_or_external_id)
        return self.users.get(user_id) if user_id else None

    def user_by_external_id(self, external_id: str) -> User | None:
        user_id = self._by_external_id.get(external_id)
        return self.users.get(user_id) if user_id else None

    def add_user(self, user: User) -> None:
        self.users[user.id] = user
        if user.externalId is not None:
            self._by_external_id[user.externalId] = user.id

    def remove_user(self, user: User) -> None:
        del self.users[user.id]
        if user.externalId is not None:
            self._by_external_id.pop(user.externalId, None)

    def open_sdk_session(self, user: User) -> str:
        """A new session token for an anonymous SDK user (its earlier one, if any, stops working)."""
        token = secrets.token_urlsafe(32)
        self.sdk_sessions[user.id] = hashlib.sha256(token.encode()).hexdigest()
        return token

    def sdk_session_user(self, user_id: str, token: str) -> User | None:
        """The user a session token (`Basic appUserId:sessionToken`) speaks for, if it is still valid."""
        stored = self.sdk_sessions.get(user_id)
        if stored is None or not hmac.compare_digest(
            stored, hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        ):
            return None
        return self.users.get(user_id)

    def revoke_sdk_session(self, user_id: str) -> None:
        self.sdk_sessions.pop(user_id, None)

    def integration(self, integration_id: str) -> Integration | None:
        return next((i for i in self.integrations if i.id == integration_id), None)

    def webhooks(self) -> Iterable[tuple[Integration, Webhook]]:
        return [(integration, webhook) for integration in self.integrations for webhook in integration.webhooks]

    def all_keys(self) -> Iterable[Key]:
        return [*self.keys, *(key for integration in self.integrations for key in integration.keys)]


class SunshineSeed(_Model):
    apps: list[App] = []
    account_keys: list[Key] = []
    oauth_clients: list[OAuthClient] = []

    @model_validator(mode="after")
    def _unique(self) -> SunshineSeed:
        app_ids = [app.id for app in self.apps]
        key_ids = [key.id for key in self.account_keys] + [key.id for app in self.apps for key in app.all_keys()]
        duplicates = {i for i in app_ids if app_ids.count(i) > 1} | {k for k in key_ids if key_ids.count(k) > 1}
        if duplicates:
            raise ValueError(f"app ids and key ids must be unique: {sorted(duplicates)}")
        for key in self.account_keys:
            if key_scope(key.id) != "account":
                raise ValueError(f"account_keys holds act_ or svc_ keys, not {key.id!r}")
        for app in self.apps:
            for key in app.keys:
                if key_scope(key.id) != "app":
                    raise ValueError(
                        f"apps[].keys holds app_ keys, not {key.id!r} (integration keys go under integrations)"
                    )
            for integration in app.integrations:
                if any(key_scope(key.id) != "integration" for key in integration.keys):
                    raise ValueError("integrations[].keys holds int_ keys")
        return self

    def tenant_ids(self) -> list[str]:
        return [app.id for app in self.apps]


def key_lookup(key_id: str) -> str:
    """Requests that name no app (`GET /v2/apps`) find their namespace by their key id."""
    return f"key:{key_id}"


def attachment_lookup(attachment_id: str) -> str:
    """An attachment's media URL names no app: it finds its namespace by the attachment id."""
    return f"attachment:{attachment_id}"


def oauth_token_lookup(token_digest: str) -> str:
    """An OAuth access token names no key and no app: it finds its namespace by its sha256."""
    return f"oauth-token:{token_digest}"


def oauth_client_lookup(client_id: str) -> str:
    """`/oauth/*` names no app: it finds its namespace by the OAuth client id."""
    return f"oauth:{client_id}"


class SunshineState(_Model):
    apps: dict[str, App] = {}
    account_keys: list[Key] = []
    oauth_clients: list[OAuthClient] = []
    oauth_codes: dict[str, dict] = {}  # sha256 (hex) of an authorization code -> {clientId, appId, expires}

    @model_validator(mode="after")
    def _filed_under_their_ids(self) -> SunshineState:
        check_filed_by_id(self.apps, lambda app: app.id, "app")
        SunshineSeed(
            apps=list(self.apps.values()), account_keys=self.account_keys, oauth_clients=self.oauth_clients
        )  # ids unique, key kinds right
        return self

    def tenant_ids(self) -> Iterable[str]:
        return list(self.apps)

    def lookup_keys(self) -> Iterable[str]:
        keys = [*self.account_keys, *(key for app in self.apps.values() for key in app.all_keys())]
        attachments = [attachment_lookup(a) for app in self.apps.values() for a in app.attachments]
        tokens = [oauth_token_lookup(token_digest) for app in self.apps.values() for token_digest in app.oauth_tokens]
        return (
            [key_lookup(key.id) for key in keys]
            + attachments
            + tokens
            + [oauth_client_lookup(c.id) for c in self.oauth_clients]
        )

    def apply_seed(self, part: SunshineSeed) -> None:
        for app in part.apps:
            self.apps[app.id] = app.model_copy(deep=True)
        known = {key.id for key in self.account_keys}
        self.account_keys += [key.model_copy() for key in part.account_keys if key.id not in known]
        clients = {client.id for client in self.oauth_clients}
        self.oauth_clients += [client.model_copy() for client in part.oauth_clients if client.id not in clients]

    def update_settings(self, tenant_id: str, changes: dict) -> dict:
        """An app's limits at run time: `{"app": id, "messages_per_conversation": 5}`."""
        app = self.apps.get(tenant_id)
        if app is None:
            raise KeyError(tenant_id)
        app.limits = Limits.model_validate({**app.limits.model_dump(), **changes})
        return app.limits.model_dump()

    def oauth_grant(self, token_digest: str) -> tuple[App, str] | None:
        """The app and integration an OAuth access token (by its sha256) stands for."""
        for app in self.apps.values():
            integration_id = app.oauth_tokens.get(token_digest)
            if integration_id is not None:
                return app, integration_id
        return None

    def find_key(self, key_id: str) -> tuple[Key, App | None, Integration | None] | None:
        """A key of any kind with the app (and integration) it belongs to; account keys belong to none."""
        for key in self.account_keys:
            if key.id == key_id:
                return key, None, None
        for app in self.apps.values():
            for key in app.keys:
                if key.id == key_id:
                    return key, app, None
            for integration in app.integrations:
                for key in integration.keys:
                    if key.id == key_id:
                        return key, app, integration
        return None

    def live_credentials(self, now: float) -> list[dict]:
        """API keys never expire: the dashboard lists them without an expiry."""
        return [
            {"kind": f"{key_scope(key.id)} key", "subject": key.id, "expires_at": None} for key in self.account_keys
        ] + [
            {"kind": f"{key_scope(key.id)} key", "subject": f"{app.id} / {key.id}", "expires_at": None}
            for app in self.apps.values()
            for key in app.all_keys()
        ]

    def export(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def restore(cls, data: dict) -> SunshineState:
        return cls.model_validate(data)
