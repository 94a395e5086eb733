"""LivePerson state: accounts, their connectors, users, apps and consumers. One model for seed and state."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from operator import attrgetter
from typing import Annotated, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ...core.clock import parse_duration
from ...core.validation import check_filed_by_id

UNAUTH_MESSAGING = "Messaging.Un_Auth_Messaging"
ASYNC_MESSAGING = "Common.Async_Messaging"  # [C] step-up requirement
IDENTITY_ONLY = "Shark.Consumer_Journey_Identity_Only_Support"  # [C] step-up requirement
STEP_UP_FEATURES = (ASYNC_MESSAGING, UNAUTH_MESSAGING, IDENTITY_ONLY)
BOT_USER_TYPE = "Common.User_Type_Bot"  # [I] the feature "User Type — Bot" that API-key logins need; name chosen
MAX_BRAND_CODES = 1_000  # [I] unexchanged codes a brand keeps; issuing past it drops the oldest
MAX_SESSIONS = 1_000  # [I] login sessions an account keeps; a login past it drops the least recently used
MAX_FILE_BYTES = 3 * 1024 * 1024  # [C] file sharing: at most 3 MB per file
MAX_FILES = 10  # [I] shared files an account keeps (in its exported state); a new upload URL past it drops the oldest
MAX_TEMP_URLS = 20  # [I] live temp URLs of one file; a new one past it drops the oldest
# [I] anonymous consumers with nothing of their own (no conversation, no profile) an account keeps; they are
# looked at every PRUNE_EVERY new consumers: forgotten once every token they could hold has expired, and past
# this many the ones first seen earliest (a forgotten one that refreshes is simply remembered again)
MAX_IDLE_ANONYMOUS = 10_000
PRUNE_EVERY = 1_000
# [I] the other consumers with no conversation (signup, external, authenticated, anonymous with a profile), looked
# at at the same time: a signup consumer is forgotten once its LP JWT has ended (`signup_jwt_ttl` after it was
# first seen), an external one `consumer_jws_ttl` after it was first seen (its profile must then be set again);
# past this many of them the ones first seen earliest go too (an authenticated one comes back at its next login)
MAX_IDLE_CONSUMERS = 10_000
# [I] closed conversations an account keeps (history, exports), looked at every PRUNE_EVERY new conversations:
# past this many, the ones that ended earliest are forgotten (open ones always stay)
MAX_CLOSED_CONVERSATIONS = 10_000


def _numeric_id(value: object) -> str:
    """LivePerson ids are numeric strings; JSON clients read connector ids as numbers, so at most 18 digits."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and re.fullmatch(r"[0-9]{1,18}", text):
        return text
    raise ValueError('expected a numeric id of 1 to 18 digits, such as "12345678"')


Duration = Annotated[float, BeforeValidator(parse_duration)]
NumericId = Annotated[str, BeforeValidator(_numeric_id)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AccountSettings(_Model):
    ext_jwt_ttl: Duration = 600.0  # [C] 10 minutes
    ext_jwt_refresh_window: Duration = 730 * 3600.0  # [C] 730 hours
    session_ttl: Duration = 8 * 3600.0  # [C] sessionTTl example 28800000 ms
    consumer_jwt_ttl: Duration = 3600.0  # [?] LP JWT lifetime from authenticate?v=3.0: 1 h chosen
    signup_jwt_ttl: Duration = 410_240_040.0  # [C] exp - iat of the published signup JWT (~13 years)
    idp_error_status: int = Field(default=401, ge=400, le=599)  # [?] 401 chosen; the real IDP has answered 500
    login_min_interval: Duration = 0.0  # [I] a user's logins closer than this answer 429; 0: no limit
    app_jwt_ttl: Duration = 3600.0  # [C] Sentinel AppJWT: exp - iat of the published example
    consumer_jws_ttl: Duration = 24 * 3600.0  # [I] ConsumerJWS lifetime not public: 24 h chosen


class Connector(_Model):
    """A messaging connector. An authenticated one takes one key source for the brand's JWTs: `brand` (a brand
    of the namespace's `brands`: its key, issuer and in-process code flow), `jwt_public_key` (base64
    SubjectPublicKeyInfo), `jwks` (an inline `{"keys": [...]}`) or `jwks_url`; the code flow also needs
    `token_endpoint`, `client_id` and `client_secret` (a `brand` connector may name its client instead)."""

    id: NumericId
    type: Literal["unauthenticated", "authenticated"]
    name: str | None = None
    issuer: str | None = None  # a `brand` connector: defaults to the brand's issuer
    brand: str | None = None
    jwt_public_key: str | None = None
    jwks: dict | None = None
    jwks_url: str | None = None
    token_endpoint: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @model_validator(mode="after")
    def _authenticated_needs_issuer_and_key(self) -> Connector:
        if self.type == "unauthenticated":
            return self
        sources = [name for name in KEY_SOURCES if getattr(self, name) is not None]
        if not sources:
            raise ValueError("an authenticated connector needs brand, jwt_public_key, jwks or jwks_url")
        if len(sources) > 1:
            raise ValueError(f"an authenticated connector takes one key source, not {' and '.join(sources)}")  # [I]
        if not self.issuer and not self.brand:
            raise ValueError("an authenticated connector needs an issuer")
        if self.jwks is not None:
            _check_jwks(self.jwks)
        if self.brand is not None and self.token_endpoint is not None:
            raise ValueError("a brand connector exchanges codes with its brand: no token_endpoint")
        code_flow = [self.token_endpoint, self.client_id, self.client_secret]
        if self.brand is None and any(code_flow) and not all(code_flow):
            raise ValueError("the code flow needs token_endpoint, client_id and client_secret")
        return self


KEY_SOURCES = ("brand", "jwt_public_key", "jwks", "jwks_url")


def _check_jwks(jwks: dict) -> None:
    """An inline JWKS: `{"keys": [...]}` of RSA keys PyJWT can read."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError('jwks must be {"keys": [...]} with at least one key')
    for key in keys:
        try:
            parsed = jwt.PyJWK.from_dict(key)
        except (jwt.PyJWTError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"jwks holds a key PyJWT cannot read: {exc}") from None
        if parsed.key_type != "RSA":
            raise ValueError("jwks keys are RSA keys (RS256)")
        if "kid" in key and not isinstance(key["kid"], str):
            raise ValueError("a jwks key's kid is a string")


class BrandClient(_Model):
    """A client of a brand's authorization server (LivePerson's connector is one)."""

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    redirect_uris: list[str] | None = None  # None: any redirect_uri [I]


class BrandUser(_Model):
    """A brand user who can log in at the brand's authorize endpoint; `claims` go into their id_token."""

    sub: str = Field(min_length=1)
    password: str | None = None  # None: no password asked [I]
    claims: dict = {}

    @field_validator("claims")
    @classmethod
    def _no_protocol_claims(cls, claims: dict) -> dict:
        reserved = sorted(set(claims) & {"iss", "sub", "aud", "iat", "exp", "nbf"})
        if reserved:
            raise ValueError(f"claims are profile claims; {reserved[0]} is set by the brand")
        return claims


class BrandCode(_Model):
    """An authorization code the brand issued: single use, short-lived on the namespace's clock."""

    code: str
    client_id: str
    redirect_uri: str
    sub: str
    expires_at: float


class Brand(_Model):
    """The emulator as a brand's OpenID Connect server: it signs id_tokens with its own RSA key."""

    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    issuer: str | None = None  # omitted: https://brand.example/{id}
    private_key_pem: str | None = None  # omitted: an RSA 2048 key generated at seed time
    kid: str | None = None  # omitted: derived from the public key
    clients: list[BrandClient] = []
    users: list[BrandUser] = []
    id_token_ttl: Duration = 3600.0  # [I] 1 h
    codes: dict[str, BrandCode] = Field(default={}, max_length=MAX_BRAND_CODES)

    @model_validator(mode="after")
    def _complete(self) -> Brand:
        _reject_duplicates("client_id", [c.client_id for c in self.clients])
        _reject_duplicates("user sub", [u.sub for u in self.users])
        check_filed_by_id(self.codes, lambda code: code.code, "code")
        self.issuer = self.issuer or f"https://brand.example/{self.id}"  # [I]
        if self.private_key_pem is None:
            self.private_key_pem = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                .private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                .decode()
            )
        key = brand_signing_key(self.private_key_pem)
        self.kid = self.kid or "brand-" + hashlib.sha256(public_key_der(key)).hexdigest()[:16]  # [I]
        return self

    def client(self, client_id: object) -> BrandClient | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def user(self, sub: object) -> BrandUser | None:
        return next((u for u in self.users if u.sub == sub), None)


@functools.lru_cache(maxsize=256)
def brand_signing_key(pem: str) -> rsa.RSAPrivateKey:
    """A brand's RSA private key, parsed once per process (ValueError when it is not one)."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"private_key_pem is not a PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key_pem must be an RSA key (RS256)")
    return key


def public_key_der(key: rsa.RSAPrivateKey) -> bytes:
    """The SubjectPublicKeyInfo of a key (base64 of it is a connector's `jwt_public_key`)."""
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class User(_Model):
    username: str = Field(min_length=1)
    password: str | None = None
    app_key: str | None = None
    secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None
    # [I] how the Login Service treats the user; each refusal is the documented 401 "Bad Authentication"
    state: Literal["active", "locked", "password_expired"] = "active"
    user_id: NumericId | None = None  # config.userId; omitted: derived from account and username
    is_admin: bool = False
    privileges: list[int] = []
    skills: list[NumericId] = []  # [I] the skills whose conversations ring this agent (routing)

    @model_validator(mode="after")
    def _password_or_api_keys(self) -> User:
        keys = (self.app_key, self.secret, self.access_token, self.access_token_secret)
        if self.password is None and not all(keys):
            raise ValueError("a user needs a password or all of app_key, secret, access_token, access_token_secret")
        return self


class AgentSession(_Model):
    """A Login Service session: the cookie's id, its bearer and csrf, and a sliding idle lifetime."""

    session_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    username: str = Field(min_length=1)
    bearer: str = Field(pattern=r"^[0-9a-f]{64}$")
    csrf: str = Field(pattern=r"^[0-9a-f]{64}$")
    wsuk: str = Field(pattern=r"^[0-9]{1,20}$")
    ttl: Duration  # the account's session_ttl at login
    created_at: float
    last_active: float  # the login or the latest refresh

    def expires_at(self) -> float:
        """[I] sliding: idle for `ttl` since the login or the latest refresh."""
        return self.last_active + self.ttl

    def live(self, now: float) -> bool:
        return now < self.expires_at()


WEBHOOK_EVENT_TYPES = (
    "ms.MessagingEventNotification.ContentEvent",
    "ms.MessagingEventNotification.RichContentEvent",
    "ms.MessagingEventNotification.AcceptStatusEvent",
    "ms.MessagingEventNotification.ChatStateEvent",
    "cqm.ExConversationChangeNotification",
)  # [C] the keys of `capabilities.webhooks` (reference outbound 1.2)
WEBHOOK_RETRY_KEY = "retry"  # [C] `{"retention_time": seconds}`, app-wide, beside the event types


class WebhookHeader(_Model):
    header_name: str = Field(min_length=1, max_length=256)
    header_value: str = Field(max_length=4096)


class WebhookEndpoint(_Model):
    """One event type's endpoint ([C] outbound 1.1). [I] `http://` is accepted besides `https://`, so that a
    test's local receiver can be one."""

    endpoint: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    max_retries: int = Field(default=0, ge=0, le=5)
    headers: list[WebhookHeader] = Field(default=[], max_length=20)


class WebhookRetry(_Model):
    retention_time: int = Field(ge=2, le=259_200)  # [C] seconds


def _check_webhooks(webhooks: dict) -> dict:
    """`capabilities.webhooks`: the five event types (one endpoint each) and `retry`, in their JSON form."""
    checked = {}
    for key, value in webhooks.items():
        if key == WEBHOOK_RETRY_KEY:
            checked[key] = WebhookRetry.model_validate(value).model_dump(mode="json")
        elif key in WEBHOOK_EVENT_TYPES:
            checked[key] = WebhookEndpoint.model_validate(value).model_dump(mode="json", exclude_defaults=True)
        else:
            raise ValueError(f"unknown webhook event type {key!r}: one of {', '.join(WEBHOOK_EVENT_TYPES)} or retry")
    return checked


class Capabilities(BaseModel):
    """An installation's `capabilities`: `webhooks` checked; [I] others (`engagement`, `broadcast`) kept as sent."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    webhooks: Annotated[
        dict, BeforeValidator(lambda value: _check_webhooks(value) if isinstance(value, dict) else value)
    ] = {}

    def endpoint(self, event_type: str) -> dict | None:
        """The event type's endpoint in its JSON form (`endpoint`, and `max_retries`, `headers` when set)."""
        return None if event_type == WEBHOOK_RETRY_KEY else self.webhooks.get(event_type)

    def retention_time(self) -> int | None:
        retry = self.webhooks.get(WEBHOOK_RETRY_KEY)
        return None if retry is None else retry["retention_time"]


class App(_Model):
    """An app installation ([C] outbound 2: the manifest's fields, and the credentials the server adds)."""

    client_id: str = Field(min_length=1, max_length=256)
    client_secret: str = Field(min_length=1, max_length=256)
    id: str | None = None  # omitted: the client_id ([CC] DEMO puts the client_id in the `{id}` slot)
    client_name: str | None = Field(default=None, max_length=128)
    display_name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=256)
    enabled: bool = True  # [I] false: no webhook is delivered; Sentinel still issues AppJWTs
    grant_types: list[str] = ["client_credentials"]
    response_types: list[str] | None = None
    redirect_uris: list[str] | None = None
    scope: str = "msg.consumer"
    logo_uri: str | None = None
    entry_uri: str | None = None
    quick_launch_enabled: bool | None = None
    capabilities: Capabilities = Capabilities()
    client_id_issued_at: int | None = None  # epoch seconds
    client_secret_expires_at: int = 0
    deleted: bool = False

    def installation_id(self) -> str:
        return self.id or self.client_id


ConsumerKind = Literal["anonymous", "signup", "external", "authenticated"]


class Consumer(_Model):
    """A consumer the IDP has seen. `external`: a Connector API consumer (ConsumerJWS); `authenticated`: a
    brand-authenticated consumer, with the brand's claims in `ext` (`lp.ext`) and `profile`."""

    consumer_id: str
    kind: ConsumerKind
    first_seen: float
    ext: dict | None = None  # authenticated: `{"sub", "iss"[, "lp_sdes"]}` as in the LP JWT's `lp.ext`
    profile: dict = {}  # standard claims (given_name, ...) and `lp_sdes`, from the brand JWT or SetUserProfile


AgentRole = Literal["ASSIGNED_AGENT", "MANAGER", "READER"]
RingState = Literal["WAITING", "ACCEPTED", "REJECTED", "EXPIRED", "CANCELLED"]
EventRole = Literal["CONSUMER", "ASSIGNED_AGENT", "MANAGER"]
Audience = Literal["ALL", "AGENTS_AND_MANAGERS"]
TtrType = Literal["CUSTOM", "NORMAL", "PRIORITIZED", "URGENT"]
CloseReason = Literal["CONSUMER", "AGENT", "SYSTEM"]


class AgentParticipant(_Model):
    """An agent taking part in a conversation (by PID); SUGGESTED: proposed by a transfer, not yet accepted."""

    id: str
    role: AgentRole
    state: Literal["ACTIVE", "SUGGESTED"] = "ACTIVE"


class Ttr(_Model):
    """A conversation's time to respond ([C] `ttrType` and `value` in seconds)."""

    ttrType: TtrType = "PRIORITIZED"  # [I] the webhook example's default
    value: int = Field(default=600, ge=0)


class Ring(_Model):
    """A routing-task ring offered to one agent."""

    ring_id: str
    agent_id: str  # PID
    task: int = 0  # the conversation's routing task it belongs to
    state: RingState = "WAITING"
    created_at: float
    expires_at: float


class MessagingEvent(_Model):
    """One published event of a conversation, at its sequence (0, 1, 2, ... without gaps)."""

    sequence: int = Field(ge=0)
    originator_id: str
    role: EventRole
    event: dict  # as published: ContentEvent, RichContentEvent or AcceptStatusEvent
    server_timestamp: int  # milliseconds on the emulator's clock
    audience: Audience = "ALL"  # [C] `messageAudience`: a private message skips the consumer


class Conversation(_Model):
    """A messaging conversation of one consumer (its owner changes once, at step-up)."""

    id: str
    consumer_id: str
    state: Literal["OPEN", "CLOSE"] = "OPEN"
    started_at: float
    ended_at: float | None = None
    close_reason: CloseReason | None = None
    skill_id: str = "-1"
    context: dict = {}
    campaign: dict = {}
    participants: list[AgentParticipant] = []  # the agents in it (the consumer is `consumer_id`)
    events: list[MessagingEvent] = []
    stepped_up_from: str | None = None  # the unauthenticated consumer it belonged to before step-up
    stepped_up_at: float | None = None
    updated_at: float | None = None  # metaDataLastUpdateTs; None: `started_at`
    ttr: Ttr = Ttr()
    manual_ettr: int | None = None  # epoch ms
    csat: dict | None = None
    delay: dict | None = None
    transferred: bool = False  # back in a queue after an agent held it (OCCUPIED agents are rung too)
    routing_task: int = 0  # counts the times it went back to a queue
    rings: list[Ring] = []  # of the current routing task (and the previous one's, once pushed)
    app_client_id: str | None = None  # the installation whose AppJWT opened it (Connector API), for its webhooks

    @model_validator(mode="before")
    @classmethod
    def _agents_of_earlier_exports(cls, data: object) -> object:
        """An export from before routing lists `agent_ids`: each an active ASSIGNED_AGENT."""
        if isinstance(data, dict) and "agent_ids" in data:
            agents = data["agent_ids"]
            data = {key: value for key, value in data.items() if key != "agent_ids"}
            if isinstance(agents, list):
                data.setdefault("participants", [{"id": agent, "role": "ASSIGNED_AGENT"} for agent in agents])
        return data

    def assigned_agent(self) -> str | None:
        return next((p.id for p in self.participants if p.role == "ASSIGNED_AGENT" and p.state == "ACTIVE"), None)

    def participant(self, agent_id: str) -> AgentParticipant | None:
        return next((p for p in self.participants if p.id == agent_id), None)

    def active_agents(self) -> list[str]:
        """The agents taking part now, whatever their role, in the order they joined."""
        return [p.id for p in self.participants if p.state == "ACTIVE"]


class StoredFile(_Model):
    """A shared file (reference outbound 6): its upload temp URL, then its bytes (base64) once uploaded."""

    relative_path: str
    file_type: str
    size: int = Field(ge=0, le=MAX_FILE_BYTES)  # announced at GenerateURLForUploadFile
    upload_sig: str  # temp_url_sig of the upload URL (PUT)
    upload_expires: int  # its temp_url_expires (epoch seconds)
    data: str | None = None  # base64 of the uploaded bytes
    download_urls: dict[str, int] = Field(
        default={}, max_length=MAX_TEMP_URLS
    )  # temp_url_sig -> temp_url_expires (GET)


class Account(_Model):
    id: NumericId
    features: list[str] | None = None  # None: every feature on
    sso_only: bool = False  # [I] users log in through SSO only: a password login is refused
    settings: AccountSettings = AccountSettings()
    connectors: list[Connector] = []
    users: list[User] = []
    apps: list[App] = []
    apps_revision: int = 0  # [I] the installations collection's `ac-revision`, raised by every change
    files: dict[str, StoredFile] = Field(default={}, max_length=MAX_FILES)  # shared files by relativePath
    consumers: dict[str, Consumer] = {}
    conversations: dict[str, Conversation] = {}  # by id
    sessions: dict[str, AgentSession] = Field(default={}, max_length=MAX_SESSIONS)  # Login Service sessions by id
    last_logins: dict[str, float] = {}  # username -> time of the user's latest login, for login_min_interval

    @field_validator("connectors")
    @classmethod
    def _unique_connector_ids(cls, connectors: list[Connector]) -> list[Connector]:
        _reject_duplicates("connector id", [c.id for c in connectors])
        return connectors

    @field_validator("users")
    @classmethod
    def _unique_usernames(cls, users: list[User]) -> list[User]:
        _reject_duplicates("username", [u.username for u in users])
        return users

    @field_validator("apps")
    @classmethod
    def _unique_apps(cls, apps: list[App]) -> list[App]:
        _reject_duplicates("app client_id", [a.client_id for a in apps])
        _reject_duplicates("app id", [a.installation_id() for a in apps])
        return apps

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def app(self, installation_id: object) -> App | None:
        """The installation with this id (or client_id, as DEMO calls it)."""
        return next((a for a in self.apps if installation_id in (a.installation_id(), a.client_id)), None)

    def has_feature(self, feature: str) -> bool:
        return self.features is None or feature in self.features

    def connector(self, connector_id: str) -> Connector | None:
        return next((c for c in self.connectors if c.id == connector_id), None)

    def remember_consumer(self, consumer_id: str, kind: ConsumerKind, now: float) -> Consumer:
        consumer = self.consumers.get(consumer_id)
        if consumer is None:
            # built from the IDP's own typed values: nothing for pydantic to check, on every token issued
            consumer = self.consumers[consumer_id] = Consumer.model_construct(
                consumer_id=consumer_id, kind=kind, first_seen=float(now)
            )
            self.added_consumer(now)
        return consumer

    def added_consumer(self, now: float) -> None:
        """Call after filing a new consumer: every PRUNE_EVERY of them, forget the idle ones."""
        if len(self.consumers) % PRUNE_EVERY == 0:
            idle = self._without_conversation()  # one pass over the consumers for both rules
            self.forget_idle_anonymous(now, idle)
            self.forget_idle_others(now, idle)

    def _without_conversation(self) -> list[Consumer]:
        """The consumers no conversation belongs to, first seen earliest first."""
        with_conversations = {conversation.consumer_id for conversation in self.conversations.values()}
        idle = [consumer for consumer in self.consumers.values() if consumer.consumer_id not in with_conversations]
        return sorted(idle, key=attrgetter("first_seen"))

    def forget_idle_anonymous(self, now: float, idle: list[Consumer] | None = None) -> None:
        """Forget the anonymous consumers that have no conversation and no profile once their refresh window,
        their last external JWT and the LP JWT it could buy have all ended; past MAX_IDLE_ANONYMOUS of them,
        the ones first seen earliest too. `idle`: `_without_conversation()`, if already made."""
        settings = self.settings
        lifetime = settings.ext_jwt_refresh_window + settings.ext_jwt_ttl + settings.consumer_jwt_ttl
        idle = [
            consumer
            for consumer in (self._without_conversation() if idle is None else idle)
            if _anonymous_without_profile(consumer)
        ]
        ended = sum(1 for consumer in idle if consumer.first_seen + lifetime <= now)
        for consumer in idle[: max(ended, len(idle) - MAX_IDLE_ANONYMOUS)]:
            del self.consumers[consumer.consumer_id]

    def forget_idle_others(self, now: float, idle: list[Consumer] | None = None) -> None:
        """Forget the other consumers that have no conversation (the rules at MAX_IDLE_CONSUMERS): signup ones
        once their LP JWT has ended, external ones once a ConsumerJWS of their first profile has; past
        MAX_IDLE_CONSUMERS of them, the ones first seen earliest too. `idle`: `_without_conversation()`, if made."""
        lifetimes = {"signup": self.settings.signup_jwt_ttl, "external": self.settings.consumer_jws_ttl}
        idle = [
            consumer
            for consumer in (self._without_conversation() if idle is None else idle)
            if not _anonymous_without_profile(consumer)
        ]
        ended = {c.consumer_id for c in idle if c.kind in lifetimes and c.first_seen + lifetimes[c.kind] <= now}
        kept = [consumer.consumer_id for consumer in idle if consumer.consumer_id not in ended]
        for consumer_id in [*ended, *kept[: max(0, len(kept) - MAX_IDLE_CONSUMERS)]]:
            del self.consumers[consumer_id]

    def added_conversation(self) -> None:
        """Call after filing a new conversation: every PRUNE_EVERY of them, forget the oldest closed ones."""
        if len(self.conversations) % PRUNE_EVERY == 0:
            self.forget_old_conversations()

    def forget_old_conversations(self) -> None:
        """Past MAX_CLOSED_CONVERSATIONS closed conversations, forget the ones that ended earliest."""
        closed = sorted(
            (c for c in self.conversations.values() if c.state == "CLOSE"), key=lambda c: c.ended_at or c.started_at
        )
        for conversation in closed[: max(0, len(closed) - MAX_CLOSED_CONVERSATIONS)]:
            del self.conversations[conversation.id]

    def step_up_enabled(self) -> bool:
        return all(self.has_feature(feature) for feature in STEP_UP_FEATURES)


def _anonymous_without_profile(consumer: Consumer) -> bool:
    return consumer.kind == "anonymous" and not consumer.profile


class LivePersonSeed(_Model):
    """The `liveperson` part of a seed file."""

    accounts: list[Account] = []
    brands: list[Brand] = []

    @field_validator("accounts")
    @classmethod
    def _unique_account_ids(cls, accounts: list[Account]) -> list[Account]:
        _reject_duplicates("account id", [a.id for a in accounts])
        return accounts

    @field_validator("brands")
    @classmethod
    def _unique_brand_ids(cls, brands: list[Brand]) -> list[Brand]:
        _reject_duplicates("brand id", [b.id for b in brands])
        return brands

    def tenant_ids(self) -> list[str]:
        """Accounts, and the lookup keys of brands, so that a brand id taken by another namespace is refused."""
        return [account.id for account in self.accounts] + [brand_lookup_key(brand.id) for brand in self.brands]


def brand_lookup_key(brand_id: str) -> str:
    """The key that routes `/brand/{brandId}/...` to the namespace of the brand."""
    return f"brand:{brand_id}"


class LivePersonState(_Model):
    """LivePerson's state in one namespace."""

    accounts: dict[str, Account] = {}
    brands: dict[str, Brand] = {}

    @model_validator(mode="after")
    def _filed_under_their_own_ids(self) -> LivePersonState:
        """An account filed under another id would answer for that id with its own keys and consumers."""
        check_filed_by_id(self.accounts, lambda account: account.id, "account")
        check_filed_by_id(self.brands, lambda brand: brand.id, "brand")
        for account in self.accounts.values():
            check_filed_by_id(account.consumers, lambda consumer: consumer.consumer_id, "consumer")
            check_filed_by_id(account.sessions, lambda session: session.session_id, "session")
            check_filed_by_id(account.conversations, lambda conversation: conversation.id, "conversation")
            check_filed_by_id(account.files, lambda stored: stored.relative_path, "file")
        return self

    def tenant_ids(self) -> Iterable[str]:
        return self.accounts.keys()

    def lookup_keys(self) -> Iterable[str]:
        return [brand_lookup_key(brand_id) for brand_id in self.brands]

    def live_credentials(self, now: float) -> list[dict]:
        """Login sessions still live on the emulator's clock (their JWTs: the namespace's token registry)."""
        return [
            {
                "kind": "agent session",
                "subject": f"{account.id} / {session.username}",
                "expires_at": session.expires_at(),
            }
            for account in self.accounts.values()
            for session in account.sessions.values()
            if session.live(now)
        ]

    def update_settings(self, account_id: str, changes: dict) -> dict:
        """Change an account's settings at run time (e.g. `{"ext_jwt_ttl": "30s"}`); answers them all."""
        account = self.accounts.get(account_id)
        if account is None:
            raise KeyError(account_id)
        account.settings = AccountSettings.model_validate({**account.settings.model_dump(), **changes})
        return account.settings.model_dump()

    def apply_seed(self, part: LivePersonSeed) -> None:
        """Add the seed's accounts and brands; one seeded again is replaced."""
        for account in part.accounts:
            self.accounts[account.id] = account.model_copy(deep=True)
        for brand in part.brands:
            self.brands[brand.id] = brand.model_copy(deep=True)

    def export(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def restore(cls, data: dict) -> LivePersonState:
        return cls.model_validate(data)


def _reject_duplicates(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
