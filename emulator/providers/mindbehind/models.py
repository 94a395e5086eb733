"""Mindbehind state: companies, their channels and clients, client tokens, web chat sessions, SMS codes.

One model for seed and state. Mindbehind publishes little; every choice here is marked [I] or [?].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...core.validation import check_filed_by_id, keyed_by_id

CHANNEL_TYPES = ("mbWebChat", "mindbehind")  # [I] the path segments of the web chat and generic endpoints
PROFILE_FIELDS = ("name", "surname", "email", "phone")  # [I] token `properties` that fill the client object
# [I] what a company keeps of per-request records, looked at every PRUNE_EVERY new ones (Company.forget_stale):
# client tokens and SMS codes are forgotten a day after they expire (until then they answer "expired", then
# "unknown"); past these counts the oldest go first; a client goes with the last token or session that named it
# (a seeded client no token or session ever named stays)
EXPIRED_MEMORY_SECONDS = 24 * 3600.0
MAX_CLIENT_TOKENS = 10_000
MAX_SESSIONS = 10_000
MAX_CODES = 10_000
MAX_MESSAGES = 1_000
PRUNE_EVERY = 1_000
ANONYMOUS_CLIENT_PREFIX = "anonymous-"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class KeyValue(_Model):
    key: str
    value: Any = None


class Client(_Model):
    """The live-core client object (reference 5.1), per company."""

    clientID: str = Field(min_length=1)
    name: str = ""
    surname: str = ""
    email: str = ""
    phone: str = ""
    channelType: str = "mbWebChat"
    tags: list[str] = []
    keyValueProperties: list[KeyValue] = []

    def absorb(self, properties: dict[str, Any]) -> None:
        """Token `properties`: profile fields fill the object, other keys become key-value pairs. [I]"""
        pairs = {}
        for key, value in properties.items():
            if key in PROFILE_FIELDS and isinstance(value, str):
                setattr(self, key, value)
            else:
                pairs[key] = value
        self.upsert(pairs)

    def upsert(self, pairs: dict[str, Any]) -> None:
        """[?] merge or replace is not public: upsert by key, other keys kept."""
        existing = {pair.key: pair for pair in self.keyValueProperties}
        for key, value in pairs.items():
            if key in existing:
                existing[key].value = value
            else:
                self.keyValueProperties.append(KeyValue(key=key, value=value))

    def public(self, company_id: str) -> dict:
        return {**self.model_dump(mode="json"), "companyID": company_id}


class Channel(_Model):
    id: str = Field(min_length=1, max_length=128)
    type: Literal["mbWebChat", "mindbehind"] = "mbWebChat"
    management_token: str = Field(min_length=1)
    token_age: int = Field(default=24, ge=1, le=100_000)  # hours [C] default 24
    send_webhook: str | None = None  # generic channel: outgoing bot/agent messages
    handover_webhook: str | None = None  # generic channel: "Human action"

    @field_validator("send_webhook", "handover_webhook")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        parts = urlsplit(url) if url is not None else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("a webhook is an http(s) URL")
        return url

    otp_ttl: int = Field(default=300, ge=1, le=86_400)  # [I] seconds an SMS code stays valid
    otp_attempts: int = Field(default=5, ge=1, le=100)  # [I] wrong codes before the code is burnt


class ClientToken(_Model):
    token: str
    clientID: str
    channelID: str
    properties: dict[str, Any] = {}
    issued_at: float
    expires_at: float


class WebChatSession(_Model):
    session_id: str
    channelID: str
    clientID: str
    auth: Literal["token", "anonymous", "otp"]
    opened_at: float


class OneTimeCode(_Model):
    phone: str
    channelID: str
    code: str
    expires_at: float
    attempts_left: int


class Company(_Model):
    id: str = Field(min_length=1, max_length=128)
    channels: list[Channel] = []
    clients: dict[str, Client] = {}
    tokens: dict[str, ClientToken] = {}
    sessions: dict[str, WebChatSession] = {}
    codes: dict[str, OneTimeCode] = {}  # by "channelID/phone"
    messages: list[dict] = []  # generic channel: what the brand sent in

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, channels: list[Channel]) -> list[Channel]:
        ids = [c.id for c in channels]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate channel id")
        return channels

    @field_validator("clients", mode="before")
    @classmethod
    def _clients_by_id(cls, clients: Any) -> Any:
        return keyed_by_id(clients, "clientID")

    @model_validator(mode="after")
    def _clients_filed_under_their_ids(self) -> Company:
        check_filed_by_id(self.clients, lambda client: client.clientID, "client")
        return self

    def client(self, client_id: str, channel_type: str) -> Client:
        """The company's client, created on first use. [I] clientID is unique per company."""
        if client_id not in self.clients:
            self.clients[client_id] = Client(clientID=client_id, channelType=channel_type)
        return self.clients[client_id]

    def added_record(self, now: float) -> None:
        """Call after adding a token, session, code or message: every PRUNE_EVERY of them, `forget_stale`."""
        if (len(self.tokens) + len(self.sessions) + len(self.codes) + len(self.messages)) % PRUNE_EVERY == 0:
            self.forget_stale(now)

    def forget_stale(self, now: float) -> None:
        """Bound the per-request records (the rules at EXPIRED_MEMORY_SECONDS)."""
        forgotten = now - EXPIRED_MEMORY_SECONDS
        tokens = _newest({k: t for k, t in self.tokens.items() if t.expires_at > forgotten}, MAX_CLIENT_TOKENS)
        sessions = _newest(self.sessions, MAX_SESSIONS)
        for client_id in _clients_named(self.tokens, self.sessions) - _clients_named(tokens, sessions):
            self.clients.pop(client_id, None)
        self.tokens, self.sessions = tokens, sessions
        self.codes = _newest({k: c for k, c in self.codes.items() if c.expires_at > forgotten}, MAX_CODES)
        del self.messages[:-MAX_MESSAGES]


def _clients_named(tokens: dict[str, ClientToken], sessions: dict[str, WebChatSession]) -> set[str]:
    return {token.clientID for token in tokens.values()} | {session.clientID for session in sessions.values()}


def _newest(records: dict[str, Any], most: int) -> dict[str, Any]:
    """The last `most` records, in the order they were added."""
    return records if len(records) <= most else dict(list(records.items())[-most:])


class MindbehindSeed(_Model):
    companies: list[Company] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> MindbehindSeed:
        ids = [key for company in self.companies for key in _company_keys(company)]
        tokens = [channel.management_token for company in self.companies for channel in company.channels]
        duplicates = {key for key in ids if ids.count(key) > 1} | {
            "<a management token>" for t in tokens if tokens.count(t) > 1
        }
        if duplicates:
            raise ValueError(f"company ids, channel ids and management tokens must be unique: {sorted(duplicates)}")
        return self

    def tenant_ids(self) -> list[str]:
        return [key for company in self.companies for key in _company_keys(company)]


def _company_keys(company: Company) -> list[str]:
    """The tenant ids a company answers to: its id and its channels' ids."""
    return [company.id, *(c.id for c in company.channels)]


def token_key(management_token: str) -> str:
    """Requests that name no company or channel (live-core) find their namespace by their apiToken."""
    return f"apiToken:{management_token}"


class MindbehindState(_Model):
    companies: dict[str, Company] = {}

    @model_validator(mode="after")
    def _filed_under_their_ids(self) -> MindbehindState:
        check_filed_by_id(self.companies, lambda company: company.id, "company")
        MindbehindSeed(companies=list(self.companies.values()))  # ids and tokens unique across companies
        return self

    def tenant_ids(self) -> Iterable[str]:
        return [key for company in self.companies.values() for key in _company_keys(company)]

    def lookup_keys(self) -> Iterable[str]:
        return [token_key(c.management_token) for company in self.companies.values() for c in company.channels]

    def apply_seed(self, part: MindbehindSeed) -> None:
        for company in part.companies:
            self.companies[company.id] = company.model_copy(deep=True)

    def update_settings(self, tenant_id: str, changes: dict) -> dict:
        """Channel settings at run time: `{"channel": id, "token_age": 1}` (not its id or its token)."""
        company, channel = self.find_channel(tenant_id)
        if company is None or channel is None:
            raise KeyError(tenant_id)
        fixed = sorted(set(changes) & {"id", "type", "management_token"})
        if fixed:
            raise ValueError(f"{fixed[0]} cannot change at run time (rotate a token with .../rotate-token)")
        updated = Channel.model_validate({**channel.model_dump(), **changes})
        company.channels[company.channels.index(channel)] = updated
        return updated.model_dump()

    def find_channel(self, channel_id: str) -> tuple[Company | None, Channel | None]:
        return self._find(lambda channel: channel.id == channel_id)

    def find_by_management_token(self, management_token: str) -> tuple[Company | None, Channel | None]:
        return self._find(lambda channel: channel.management_token == management_token)

    def _find(self, wanted: Callable[[Channel], bool]) -> tuple[Company | None, Channel | None]:
        for company in self.companies.values():
            channel = next((c for c in company.channels if wanted(c)), None)
            if channel is not None:
                return company, channel
        return None, None

    def live_credentials(self, now: float) -> list[dict]:
        """Client tokens, web chat sessions and SMS codes still good at `now`, for the dashboard."""
        rows: list[dict] = []
        for company in self.companies.values():
            rows += [
                {"kind": "client token", "subject": f"{t.channelID} / {t.clientID}", "expires_at": t.expires_at}
                for t in company.tokens.values()
                if t.expires_at > now
            ]
            rows += [
                {"kind": f"session ({s.auth})", "subject": f"{s.channelID} / {s.clientID}", "expires_at": None}
                for s in company.sessions.values()
            ]
            rows += [
                {"kind": "SMS code", "subject": f"{c.channelID} / {c.phone}", "expires_at": c.expires_at}
                for c in company.codes.values()
                if c.expires_at > now
            ]
        return rows

    def export(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def restore(cls, data: dict) -> MindbehindState:
        return cls.model_validate(data)
