"""LivePerson fixtures: a seeded account (`lp_account`, `@pytest.mark.lp_account(...)`) and the unauthenticated
consumer's tokens (`lp_ext_jwt`, `expired_ext_jwt`, `lp_jwt`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest

from ..client import EmulatorClient, EmulatorError
from .core import EmulatorHandle
from .lazy import LazyName
from .replies import expect_token

Account = LazyName("emulator.providers.liveperson.models", "Account")  # imported when a fixture first runs

ACCOUNT_MARKER = "lp_account"


@dataclass(frozen=True)
class LivePersonAccount:
    """A seeded LivePerson account with fresh ids, and the settings it was seeded with."""

    id: str
    unauth_connector_id: str
    ext_jwt_ttl: float
    handle: EmulatorHandle

    def idp_path(self, tail: str) -> str:
        return f"/api/account/{self.id}/{tail}"

    def issue_ext_jwt(self) -> str:
        """A new anonymous consumer's external JWT (`anonymous/authorize` without a body)."""
        return expect_token(self.handle.post(self.idp_path("anonymous/authorize")), "token")

    def exchange(self, lp_ext_jwt: str) -> str:
        """The LP consumer JWT for an external JWT (`app/{connector}/authenticate?v=3.0`)."""
        path = self.idp_path(f"app/{self.unauth_connector_id}/authenticate")
        return expect_token(self.handle.post(path, params={"v": "3.0"}, json={"id_token": lp_ext_jwt}), "token")


def fresh_numeric_id(digits: int = 8) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


@pytest.fixture
def lp_account(emulator_backend: EmulatorHandle, request: pytest.FixtureRequest) -> LivePersonAccount:
    """A LivePerson account with fresh ids and an unauthenticated connector; `@pytest.mark.lp_account(...)`
    adds seed fields such as `settings={"ext_jwt_ttl": "2m"}` or `features=[]`."""
    marker = request.node.get_closest_marker(ACCOUNT_MARKER)
    fields = dict(marker.kwargs) if marker else {}
    connector_id = fresh_numeric_id(10)
    for _ in range(5):
        account_id = fresh_numeric_id()
        account = {"connectors": [{"id": connector_id, "type": "unauthenticated"}], **fields, "id": account_id}
        try:
            emulator_backend.control.seed({"liveperson": {"accounts": [account]}})
        except EmulatorError as exc:
            if exc.code == "tenant_conflict":
                continue
            raise
        ttl = Account.model_validate(account).settings.ext_jwt_ttl
        return LivePersonAccount(account_id, connector_id, ttl, emulator_backend)
    raise RuntimeError("could not find a free account id in 5 tries")


@pytest.fixture
def lp_ext_jwt(lp_account: LivePersonAccount) -> str:
    """A fresh external (unauthenticated) JWT from `anonymous/authorize`."""
    return lp_account.issue_ext_jwt()


@pytest.fixture
def expired_ext_jwt(lp_account: LivePersonAccount, emulator_clock: EmulatorClient) -> str:
    """An external JWT past its lifetime yet inside its refresh window: the test's clock is moved
    forward by the token's lifetime plus one second."""
    token = lp_account.issue_ext_jwt()
    emulator_clock.advance(lp_account.ext_jwt_ttl + 1)
    return token


@pytest.fixture
def lp_jwt(lp_account: LivePersonAccount) -> str:
    """A LivePerson consumer JWT (kid 00001) for a new unauthenticated consumer."""
    return lp_account.exchange(lp_account.issue_ext_jwt())
