"""LivePerson Connector API credentials: an AppJWT of an app installation (`lp_app_jwt`) and a ConsumerJWS
obtained with it (`lp_consumer_jws`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest

from .liveperson import LivePersonAccount
from .replies import expect_token


@dataclass(frozen=True)
class LivePersonAppJwt:
    """An AppJWT (Sentinel, client_credentials) of an app installation on `account`."""

    token: str
    client_id: str
    client_secret: str
    account: LivePersonAccount

    def headers(self) -> dict[str, str]:
        """`Authorization: <AppJWT>`, raw as the Connector API and the IDP's `/consumer` take it."""
        return {"Authorization": self.token}

    def issue_consumer_jws(self, ext_consumer_id: str | None = None) -> LivePersonConsumerJws:
        """A ConsumerJWS (`POST /api/account/{a}/consumer?v=1.0`) for `ext_consumer_id` (fresh if omitted)."""
        ext_consumer_id = ext_consumer_id or f"ext-{secrets.token_hex(6)}"
        reply = self.account.handle.post(
            self.account.idp_path("consumer"),
            params={"v": "1.0"},
            json={"ext_consumer_id": ext_consumer_id},
            headers=self.headers(),
        )
        if reply.status != 201:
            raise AssertionError(f"the emulator refused to issue a ConsumerJWS: {reply.status} {reply.text}")
        token = reply.json()["token"]
        import jwt

        lp_consumer_id = jwt.decode(token, options={"verify_signature": False})["lp_consumer_id"]
        return LivePersonConsumerJws(token, ext_consumer_id, lp_consumer_id, self)


@dataclass(frozen=True)
class LivePersonConsumerJws:
    """A ConsumerJWS of the IDP for one external consumer, and the AppJWT it was obtained with."""

    token: str
    ext_consumer_id: str
    lp_consumer_id: str
    app_jwt: LivePersonAppJwt

    def headers(self) -> dict[str, str]:
        """The Connector API's two credentials: `Authorization: <AppJWT>` and `X-LP-ON-BEHALF: <ConsumerJWS>`."""
        return {**self.app_jwt.headers(), "X-LP-ON-BEHALF": self.token}


def lp_app_installation(account: LivePersonAccount) -> tuple[str, str]:
    """`(client_id, client_secret)` of an app installed on the account: the first one seeded (e.g. by
    `@pytest.mark.lp_account(apps=[...])`), else a fresh one added to it (the account is seeded again with
    everything it holds, plus the app)."""
    state = account.handle.control.export_state()["namespaces"][account.handle.namespace]
    seeded = dict(state["providers"]["liveperson"]["accounts"][account.id])
    if seeded.get("apps"):
        return seeded["apps"][0]["client_id"], seeded["apps"][0]["client_secret"]
    client_id, client_secret = f"app-{secrets.token_hex(8)}", secrets.token_urlsafe(18)
    seeded["apps"] = [{"client_id": client_id, "client_secret": client_secret}]
    account.handle.control.seed({"liveperson": {"accounts": [seeded]}})
    return client_id, client_secret


def issue_lp_app_jwt(account: LivePersonAccount, client_id: str, client_secret: str) -> LivePersonAppJwt:
    """An AppJWT from `POST /sentinel/api/account/{a}/app/token?v=1.0&grant_type=client_credentials` (form body)."""
    from urllib.parse import urlencode

    reply = account.handle.post(
        f"/sentinel/api/account/{account.id}/app/token",
        params={"v": "1.0", "grant_type": "client_credentials"},
        data=urlencode({"client_id": client_id, "client_secret": client_secret}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return LivePersonAppJwt(expect_token(reply, "access_token"), client_id, client_secret, account)


@pytest.fixture
def lp_app_jwt(lp_account: LivePersonAccount) -> LivePersonAppJwt:
    """An AppJWT (kid `appjwt-13-05-17`, 1 h) of an app installation of `lp_account` (the marker's first app,
    else a fresh one): `.token`, `.client_id`, `.client_secret`, `.account`, `.headers()`, `.issue_consumer_jws(ext)`."""
    return issue_lp_app_jwt(lp_account, *lp_app_installation(lp_account))


@pytest.fixture
def lp_consumer_jws(lp_app_jwt: LivePersonAppJwt) -> LivePersonConsumerJws:
    """A ConsumerJWS for a fresh `ext_consumer_id`, obtained with `lp_app_jwt`: `.token`, `.ext_consumer_id`,
    `.lp_consumer_id`, `.app_jwt`, `.headers()` (Authorization + X-LP-ON-BEHALF for the Connector API)."""
    return lp_app_jwt.issue_consumer_jws()
