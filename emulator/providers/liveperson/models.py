"""LivePerson state: accounts, their connectors, users, apps and consumers. One model for seed and state."""

from __future__ import annotations

import re
from typing import Annotated, Iterable, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ...core.clock import parse_duration
from ...core.validation import check_filed_by_id

UNAUTH_MESSAGING = "Messaging.Un_Auth_Messaging"
ASYNC_MESSAGING = "Common.Async_Messaging"  # [C] step-up requirement
IDENTITY_ONLY = "Shark.Consumer_Journey_Identity_Only_Support"  # [C] step-up requirement
STEP_UP_FEATURES = (ASYNC_MESSAGING, UNAUTH_MESSAGING, IDENTITY_ONLY)
BOT_USER_TYPE = "Common.User_Type_Bot"  # [I] the feature "User Type — Bot" that API-key logins need; name chosen
MAX_SESSIONS = 1_000  # [I] login sessions an account keeps; a login past it drops the least recently used


def _numeric_id(value: object) -> str:
    """LivePerson ids are numeric strings; JSON clients read connector ids as numbers, so at most 18 digits."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and re.fullmatch(r"[0-9]{1,18}", text):
        return text
    raise ValueError("expected a numeric id of 1 to 18 digits, such as \"12345678\"")


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
    id: NumericId
    type: Literal["unauthenticated", "authenticated"]
    name: str | None = None
    issuer: str | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None

    @model_validator(mode="after")
    def _authenticated_needs_issuer_and_key(self) -> "Connector":
        if self.type == "authenticated" and not self.issuer:
            raise ValueError("an authenticated connector needs an issuer")
        if self.type == "authenticated" and not (self.jwt_public_key or self.jwks_url):
            raise ValueError("an authenticated connector needs jwt_public_key or jwks_url")
        return self


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

    @model_validator(mode="after")
    def _password_or_api_keys(self) -> "User":
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


class App(_Model):
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)


ConsumerKind = Literal["anonymous", "signup", "external", "authenticated"]


class Consumer(_Model):
    """A consumer the IDP has seen. `external`: a Connector API consumer (ConsumerJWS); `authenticated`: a
    brand-authenticated consumer, with the brand's claims in `ext` (`lp.ext`) and `profile`."""

    consumer_id: str
    kind: ConsumerKind
    first_seen: float
    ext: dict | None = None  # authenticated: `{"sub", "iss"[, "lp_sdes"]}` as in the LP JWT's `lp.ext`
    profile: dict = {}  # standard claims (given_name, ...) and `lp_sdes`, from the brand JWT or SetUserProfile


class MessagingEvent(_Model):
    """One published event of a conversation, at its sequence (0, 1, 2, ... without gaps)."""

    sequence: int = Field(ge=0)
    originator_id: str
    role: Literal["CONSUMER", "ASSIGNED_AGENT"]
    event: dict  # as published: ContentEvent, RichContentEvent or AcceptStatusEvent
    server_timestamp: int  # milliseconds on the emulator's clock


class Conversation(_Model):
    """A messaging conversation of one consumer (its owner changes once, at step-up)."""

    id: str
    consumer_id: str
    state: Literal["OPEN", "CLOSE"] = "OPEN"
    started_at: float
    ended_at: float | None = None
    close_reason: Literal["CONSUMER", "AGENT", "SYSTEM"] | None = None
    skill_id: str = "-1"
    context: dict = {}
    campaign: dict = {}
    agent_ids: list[str] = []  # agents (user ids) that published into it, in order
    events: list[MessagingEvent] = []
    stepped_up_from: str | None = None  # the unauthenticated consumer it belonged to before step-up
    stepped_up_at: float | None = None


class Account(_Model):
    id: NumericId
    features: list[str] | None = None  # None: every feature on
    sso_only: bool = False  # [I] users log in through SSO only: a password login is refused
    settings: AccountSettings = AccountSettings()
    connectors: list[Connector] = []
    users: list[User] = []
    apps: list[App] = []
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

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def has_feature(self, feature: str) -> bool:
        return self.features is None or feature in self.features

    def connector(self, connector_id: str) -> Connector | None:
        return next((c for c in self.connectors if c.id == connector_id), None)

    def remember_consumer(self, consumer_id: str, kind: ConsumerKind, now: float) -> Consumer:
        if consumer_id not in self.consumers:
            self.consumers[consumer_id] = Consumer(consumer_id=consumer_id, kind=kind, first_seen=now)
        return self.consumers[consumer_id]

    def step_up_enabled(self) -> bool:
        return all(self.has_feature(feature) for feature in STEP_UP_FEATURES)


class LivePersonSeed(_Model):
    """The `liveperson` part of a seed file."""

    accounts: list[Account] = []

    @field_validator("accounts")
    @classmethod
    def _unique_account_ids(cls, accounts: list[Account]) -> list[Account]:
        _reject_duplicates("account id", [a.id for a in accounts])
        return accounts

    def tenant_ids(self) -> list[str]:
        return [account.id for account in self.accounts]


class LivePersonState(_Model):
    """LivePerson's state in one namespace."""

    accounts: dict[str, Account] = {}

    @model_validator(mode="after")
    def _filed_under_their_own_ids(self) -> "LivePersonState":
        """An account filed under another id would answer for that id with its own keys and consumers."""
        check_filed_by_id(self.accounts, lambda account: account.id, "account")
        for account in self.accounts.values():
            check_filed_by_id(account.consumers, lambda consumer: consumer.consumer_id, "consumer")
            check_filed_by_id(account.sessions, lambda session: session.session_id, "session")
            check_filed_by_id(account.conversations, lambda conversation: conversation.id, "conversation")
        return self

    def tenant_ids(self) -> Iterable[str]:
        return self.accounts.keys()

    def lookup_keys(self) -> Iterable[str]:
        return ()

    def live_credentials(self, now: float) -> list[dict]:
        """Login sessions still live on the emulator's clock (their JWTs: the namespace's token registry)."""
        return [
            {"kind": "agent session", "subject": f"{account.id} / {session.username}", "expires_at": session.expires_at()}
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
        """Add the seed's accounts; an account seeded again is replaced."""
        for account in part.accounts:
            self.accounts[account.id] = account.model_copy(deep=True)

    def export(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def restore(cls, data: dict) -> "LivePersonState":
        return cls.model_validate(data)


def _reject_duplicates(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
