"""Sunshine Conversations fixtures: a seeded app with its keys, a user, a conversation, an expired app JWT."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ..client import EmulatorClient, Reply
from .core import EmulatorHandle
from .lazy import LazyName
from .replies import created_body

sign_jwt = LazyName("emulator.providers.sunshine.auth", "sign_jwt")  # imported when a fixture first runs


@dataclass(frozen=True)
class SunshineApp:
    """A seeded Sunshine app with fresh ids: its app key, an account key, and helpers to call it."""

    id: str
    key_id: str
    secret: str
    account_key_id: str
    account_secret: str
    handle: EmulatorHandle

    def path(self, tail: str = "") -> str:
        """`/v2/apps/{id}/...` for `tail` such as `"users"`."""
        return f"/v2/apps/{self.id}/{tail}".rstrip("/")

    def basic_headers(self, account: bool = False) -> dict[str, str]:
        """`Authorization: Basic keyId:secret` of the app key (or of the account key)."""
        key_id, secret = (self.account_key_id, self.account_secret) if account else (self.key_id, self.secret)
        return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}

    def jwt(self, scope: str = "app", **claims: Any) -> str:
        """An HS256 JWT signed with the app key (`kid` = key id), `scope` and any claims (e.g. `exp`)."""
        key_id, secret = (
            (self.account_key_id, self.account_secret) if scope == "account" else (self.key_id, self.secret)
        )
        return sign_jwt({"scope": scope, **claims}, key_id, secret)

    def request(self, method: str, tail: str, **kwargs: Any) -> Reply:
        """Call `/v2/apps/{id}/{tail}` with the app key's Basic auth (pass `headers` to use other credentials)."""
        kwargs["headers"] = {**self.basic_headers(), **(kwargs.get("headers") or {})}
        return self.handle.request(method, self.path(tail), **kwargs)

    def client_configuration(self, jwt: str | None = None) -> Any:
        """A `sunshine_conversations_client.Configuration` for this app on the emulator's HTTP server: Basic
        with the app key, or Bearer `jwt`. Needs `emulator_server` as `emulator_backend`."""
        import sunshine_conversations_client

        if self.handle.base_url is None:
            raise RuntimeError("the official client needs a server: override emulator_backend with emulator_server")
        if jwt is not None:
            return sunshine_conversations_client.Configuration(host=self.handle.base_url, access_token=jwt)
        return sunshine_conversations_client.Configuration(
            host=self.handle.base_url, username=self.key_id, password=self.secret
        )


@dataclass(frozen=True)
class SunshineUser:
    id: str
    external_id: str
    app: SunshineApp


@dataclass(frozen=True)
class SunshineConversation:
    id: str
    user: SunshineUser


@pytest.fixture
def sunshine_app(emulator_backend: EmulatorHandle) -> SunshineApp:
    """A Sunshine app with fresh ids, an app key and an account key, in this test's namespace."""
    app_id, key_id, account_key_id = (
        secrets.token_hex(12),
        f"app_{secrets.token_hex(12)}",
        f"act_{secrets.token_hex(12)}",
    )
    secret, account_secret = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    emulator_backend.control.seed(
        {
            "sunshine": {
                "apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}]}],
                "account_keys": [{"id": account_key_id, "secret": account_secret}],
            }
        }
    )
    return SunshineApp(app_id, key_id, secret, account_key_id, account_secret, emulator_backend)


@pytest.fixture
def sunshine_user(sunshine_app: SunshineApp) -> SunshineUser:
    """A user created through the API, with a fresh externalId."""
    external_id = f"user-{secrets.token_hex(6)}"
    user = created_body(sunshine_app.request("POST", "users", json={"externalId": external_id}), "user")
    return SunshineUser(user["id"], external_id, sunshine_app)


@pytest.fixture
def sunshine_conversation(sunshine_user: SunshineUser) -> SunshineConversation:
    """The user's default (first personal) conversation."""
    body = {"type": "personal", "participants": [{"userId": sunshine_user.id}]}
    conversation = created_body(sunshine_user.app.request("POST", "conversations", json=body), "conversation")
    return SunshineConversation(conversation["id"], sunshine_user)


@pytest.fixture
def expired_sunshine_jwt(sunshine_app: SunshineApp, emulator_clock: EmulatorClient) -> str:
    """An app-scope JWT with a one-minute `exp`, the test's clock then moved 61 seconds on."""
    now = int(emulator_clock.now().timestamp())
    token = sunshine_app.jwt(iat=now, exp=now + 60)
    emulator_clock.advance("61s")
    return token
