"""LivePerson Login Service (agentVep) fixtures: agent and bot sessions of users added to `lp_account`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ..client import EmulatorClient, Reply
from .liveperson import LivePersonAccount


@dataclass(frozen=True)
class LivePersonAgentSession:
    """A Login Service session of a user seeded on `lp_account`: the login's 200 body and what a client
    sends back (the `session_id` cookie and the csrf)."""

    account: LivePersonAccount
    username: str
    credentials: dict  # the login body that opened it
    body: dict  # the login's 200 body

    @property
    def bearer(self) -> str:
        return self.body["bearer"]

    @property
    def csrf(self) -> str:
        return self.body["csrf"]

    @property
    def session_id(self) -> str:
        return self.body["sessionId"]

    @property
    def user_id(self) -> str:
        return self.body["config"]["userId"]

    @property
    def user_pid(self) -> str:
        return self.body["config"]["userPid"]

    @property
    def session_ttl(self) -> float:
        """Seconds (the body's `sessionTTl` is a string of milliseconds)."""
        return int(self.body["sessionTTl"]) / 1000

    @property
    def cookies(self) -> dict[str, str]:
        return {"session_id": self.session_id}

    def headers(self) -> dict[str, str]:
        """The `Cookie` header refresh and logout need."""
        return {"Cookie": f"session_id={self.session_id}"}

    def refresh(self, csrf: str | None = None, **kwargs: Any) -> Reply:
        """`POST /api/account/{a}/refresh?v=1.3` with the cookie and `{"csrf"}` (this session's unless given)."""
        return self._call("refresh", csrf, **kwargs)

    def logout(self, csrf: str | None = None, **kwargs: Any) -> Reply:
        """`POST /api/account/{a}/logout` with the cookie and `{"csrf"}`."""
        return self._call("logout", csrf, **kwargs)

    def _call(self, action: str, csrf: str | None, **kwargs: Any) -> Reply:
        kwargs["headers"] = {**self.headers(), **(kwargs.get("headers") or {})}
        kwargs.setdefault("params", {"v": "1.3"})
        kwargs.setdefault("json", {"csrf": self.csrf if csrf is None else csrf})
        return self.account.handle.post(self.account.idp_path(action), **kwargs)


def add_lp_user(account: LivePersonAccount, **user: Any) -> dict:
    """Add a user (the seed's fields: `username`, `password` or the API keys, `state`, ...) to a seeded account,
    keeping its state (consumers, sessions): the account's own export, seeded again with the user added."""
    control = account.handle.control
    state = control.export_state()["namespaces"][account.handle.namespace]
    document = state["providers"]["liveperson"]["accounts"][account.id]
    document["users"] = [*document.get("users", []), user]
    control.seed({"liveperson": {"accounts": [document]}})
    return user


def lp_login(account: LivePersonAccount, credentials: dict, version: str = "1.3") -> LivePersonAgentSession:
    """Log in (`POST /api/account/{a}/login?v=1.3`) with a body such as `{"username", "password"}`."""
    reply = account.handle.post(account.idp_path("login"), params={"v": version}, json=credentials)
    if reply.status != 200:
        raise AssertionError(f"the emulator refused the login: {reply.status} {reply.text}")
    return LivePersonAgentSession(account, credentials["username"], dict(credentials), reply.json())


@pytest.fixture
def lp_agent_session(lp_account: LivePersonAccount) -> LivePersonAgentSession:
    """An agent user (fresh username and password) added to `lp_account` and logged in: `.bearer`, `.csrf`,
    `.session_id`, `.user_id`, `.cookies`, `.headers()`, `.refresh()`, `.logout()`, `.body`."""
    user = add_lp_user(lp_account, username=f"agent-{secrets.token_hex(4)}", password=secrets.token_urlsafe(12))
    return lp_login(lp_account, {"username": user["username"], "password": user["password"]})


@pytest.fixture
def lp_bot_session(lp_account: LivePersonAccount) -> LivePersonAgentSession:
    """A bot user with API keys added to `lp_account` and logged in with them (the account needs the Bot
    user type: every feature is on unless the `lp_account` marker lists `features`)."""
    keys = {name: secrets.token_hex(16) for name in ("app_key", "secret", "access_token", "access_token_secret")}
    user = add_lp_user(lp_account, username=f"bot-{secrets.token_hex(4)}", **keys)
    body = {"username": user["username"], "appKey": keys["app_key"], "secret": keys["secret"]}
    body |= {"accessToken": keys["access_token"], "accessTokenSecret": keys["access_token_secret"]}
    return lp_login(lp_account, body)


@pytest.fixture
def expired_lp_agent_session(
    lp_agent_session: LivePersonAgentSession, emulator_clock: EmulatorClient
) -> LivePersonAgentSession:
    """`lp_agent_session` left idle past its lifetime: the test's clock moved by `session_ttl` plus one second."""
    emulator_clock.advance(lp_agent_session.session_ttl + 1)
    return lp_agent_session
