"""Sunshine SDK API fixtures: end users as an SDK makes them (anonymous or logged in with a user JWT)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ..client import EmulatorClient, Reply
from .sunshine import SunshineApp, sign_jwt


@dataclass(frozen=True)
class SunshineSdkUser:
    """An end user as an SDK sees it: `app_user_id` (the SDK's `appUser._id`, the v2 user id), the install's
    `client_id`, and either a `session_token` (anonymous) or an `external_id` with its user `jwt`."""

    app: SunshineApp
    app_user_id: str
    client_id: str
    session_token: str | None = None
    external_id: str | None = None
    jwt: str | None = None

    def path(self, tail: str = "") -> str:
        """`/sdk/v2/apps/{appId}/...` for `tail` such as `f"appusers/{user.app_user_id}"`."""
        return f"/sdk/v2/apps/{self.app.id}/{tail}".rstrip("/")

    def basic_headers(self) -> dict[str, str]:
        """`Authorization: Basic appUserId:sessionToken` (anonymous users only)."""
        if self.session_token is None:
            raise ValueError("an identified SDK user has no session token: use headers()")
        return {
            "Authorization": "Basic " + base64.b64encode(f"{self.app_user_id}:{self.session_token}".encode()).decode()
        }

    def headers(self) -> dict[str, str]:
        """What the SDK sends: its credentials (Bearer JWT or Basic session token) and `x-smooch-clientid`."""
        auth = {"Authorization": f"Bearer {self.jwt}"} if self.jwt is not None else self.basic_headers()
        return {**auth, "x-smooch-clientid": self.client_id, "x-smooch-appid": self.app.id}

    def request(self, method: str, tail: str, **kwargs: Any) -> Reply:
        """Call `/sdk/v2/apps/{appId}/{tail}` as this SDK user (pass `headers` to override any)."""
        kwargs["headers"] = {**self.headers(), **(kwargs.get("headers") or {})}
        return self.app.handle.request(method, self.path(tail), **kwargs)


def _sdk_answer(reply: Reply, status: int) -> dict:
    if reply.status != status:
        raise AssertionError(f"the emulator refused the SDK call: {reply.status} {reply.text}")
    return reply.json()


@pytest.fixture
def sunshine_user_jwt(sunshine_app: SunshineApp) -> Any:
    """A maker of end-user JWTs for the SDK: `sunshine_user_jwt(external_id, exp=None)` -> an HS256 JWT signed
    with the app key (`kid` = its id), claims `{"scope": "user", "external_id": ..., "exp"?: epoch seconds}`."""

    def make(external_id: str, exp: int | None = None) -> str:
        claims: dict[str, Any] = {"scope": "user", "external_id": external_id}
        if exp is not None:
            claims["exp"] = exp
        return sign_jwt(claims, sunshine_app.key_id, sunshine_app.secret)

    return make


@pytest.fixture
def expired_sunshine_user_jwt(sunshine_app: SunshineApp, emulator_clock: EmulatorClient) -> str:
    """A user JWT (a fresh external_id) with a one-minute `exp`, the test's clock then moved 61 seconds on."""
    now = int(emulator_clock.now().timestamp())
    token = sign_jwt(
        {"scope": "user", "external_id": f"sdk-{secrets.token_hex(6)}", "exp": now + 60},
        sunshine_app.key_id,
        sunshine_app.secret,
    )
    emulator_clock.advance("61s")
    return token


@pytest.fixture
def sunshine_anonymous_sdk_user(sunshine_app: SunshineApp) -> SunshineSdkUser:
    """An anonymous user created as an SDK does (`POST /sdk/v2/apps/{appId}/appusers`, a fresh client id):
    `.app_user_id`, `.session_token`, `.client_id`, `.basic_headers()`, `.headers()`, `.request(...)`."""
    client_id = secrets.token_hex(16)
    reply = sunshine_app.handle.post(
        f"/sdk/v2/apps/{sunshine_app.id}/appusers", json={"client": {"id": client_id, "platform": "web"}}
    )
    body = _sdk_answer(reply, 201)
    return SunshineSdkUser(sunshine_app, body["appUser"]["_id"], client_id, session_token=body["sessionToken"])


@pytest.fixture
def sunshine_logged_in_sdk_user(sunshine_app: SunshineApp, sunshine_user_jwt: Any) -> SunshineSdkUser:
    """An identified user logged in as an SDK does (`POST /sdk/v2/apps/{appId}/login` with a user JWT, a fresh
    externalId and client id; the user is created by the login): `.app_user_id`, `.external_id`, `.jwt`,
    `.client_id`, `.headers()`, `.request(...)`."""
    external_id, client_id = f"sdk-{secrets.token_hex(6)}", secrets.token_hex(16)
    token = sunshine_user_jwt(external_id)
    reply = sunshine_app.handle.post(
        f"/sdk/v2/apps/{sunshine_app.id}/login",
        json={"userId": external_id, "client": {"id": client_id, "platform": "web"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = _sdk_answer(reply, 200)
    return SunshineSdkUser(sunshine_app, body["appUser"]["_id"], client_id, external_id=external_id, jwt=token)
