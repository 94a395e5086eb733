"""pytest fixtures for LivePerson authenticated consumers: a brand the emulator plays (`lp_brand_idp`) and a
consumer authenticated through it (`lp_authenticated_consumer`). Registered by emulator.pytest_plugin."""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ..client import EmulatorClient
from .lazy import LazyName
from .liveperson import LivePersonAccount, fresh_numeric_id
from .replies import expect_token

# imported when a fixture first uses them: a test run that uses none pays nothing for them
jwt = LazyName("jwt")
serialization = LazyName("cryptography.hazmat.primitives.serialization")
rsa = LazyName("cryptography.hazmat.primitives.asymmetric.rsa")
brand_signing_key = LazyName("emulator.providers.liveperson.models", "brand_signing_key")
public_key_der = LazyName("emulator.providers.liveperson.models", "public_key_der")
if TYPE_CHECKING:
    from ..providers.liveperson.models import Brand
else:
    Brand = LazyName("emulator.providers.liveperson.models", "Brand")

BRAND_CLIENT_ID = "liveperson"
DEFAULT_REDIRECT_URI = "https://liveperson.net"


@functools.lru_cache(maxsize=1)
def fixture_brand_pem() -> str:
    """One RSA 2048 key for every `lp_brand_idp` of a session (each brand id is fresh, so no two collide)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def seed_brand(control: EmulatorClient, **fields: Any) -> Brand:
    """Seed a brand (fresh id unless given) in the control client's namespace; its validated model."""
    brand = Brand.model_validate({"id": f"brand-{secrets.token_hex(6)}", **fields})
    control.seed({"liveperson": {"brands": [brand.model_dump(mode="json")]}})
    return brand


def add_lp_connector(account: LivePersonAccount, **connector: Any) -> str:
    """Add a connector (fresh id unless given) to a seeded account by seeding the account again; its id."""
    control = account.handle.control
    document = _liveperson_state(account)["accounts"][account.id]
    connector = {"id": fresh_numeric_id(10), **connector}
    document["connectors"] = [*document["connectors"], connector]
    control.seed({"liveperson": {"accounts": [document]}})
    return str(connector["id"])


def _liveperson_state(account: LivePersonAccount) -> dict:
    handle = account.handle
    return handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]


@dataclass
class BrandIdp:
    """A brand seeded in the test's namespace, and an authenticated connector of `account` that names it."""

    account: LivePersonAccount
    brand: Brand
    connector_id: str
    client_secret: str
    users: set[str] = field(default_factory=set)

    @property
    def brand_id(self) -> str:
        return self.brand.id

    @property
    def issuer(self) -> str:
        return self.brand.issuer or ""

    @property
    def kid(self) -> str:
        return self.brand.kid or ""

    def public_key_base64(self) -> str:
        """The brand's key as a connector's `jwt_public_key` (base64 SubjectPublicKeyInfo)."""
        return base64.b64encode(public_key_der(brand_signing_key(self.brand.private_key_pem or ""))).decode()

    def jwks_url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/brand/{self.brand_id}/.well-known/jwks.json"

    def token_url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/brand/{self.brand_id}/token"

    def id_token(
        self, sub: str, now: float | None = None, ttl: float = 3600, headers: dict | None = None, **claims: Any
    ) -> str:
        """A brand JWT signed in Python with the brand's key: `iss`, `sub`, `iat`, `exp` (1 h on the emulator's
        clock unless `ttl` says otherwise) and `claims` (which may override any of them, or drop one with None)."""
        iat = int(self.account.handle.control.now().timestamp() if now is None else now)
        payload = {"iss": self.issuer, "sub": sub, "aud": BRAND_CLIENT_ID, "iat": iat, "exp": iat + int(ttl), **claims}
        payload = {name: value for name, value in payload.items() if value is not None}
        key = brand_signing_key(self.brand.private_key_pem or "")
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})})

    def add_user(self, sub: str, password: str | None = None, **claims: Any) -> None:
        """A user who can log in at the brand's authorize endpoint (the brand is seeded again, codes kept)."""
        control = self.account.handle.control
        document = _liveperson_state(self.account)["brands"][self.brand_id]
        users = [u for u in document["users"] if u["sub"] != sub]
        document["users"] = [*users, {"sub": sub, "password": password, "claims": claims}]
        control.seed({"liveperson": {"brands": [document]}})
        self.users.add(sub)

    def code(
        self, sub: str, password: str | None = None, redirect_uri: str = DEFAULT_REDIRECT_URI, **claims: Any
    ) -> str:
        """An authorization code from the brand's authorize endpoint (an unknown `sub` is added as a user first)."""
        if sub not in self.users:
            self.add_user(sub, password, **claims)
        form = {
            "sub": sub,
            "client_id": BRAND_CLIENT_ID,
            "redirect_uri": redirect_uri,
            **({"password": password} if password else {}),
        }
        return expect_token(
            self.account.handle.post(f"/brand/{self.brand_id}/authorize", data=form, headers=_FORM), "code"
        )

    def authenticate(
        self,
        id_token: str | None = None,
        code: str | None = None,
        unauth_jwt: str | None = None,
        connector_id: str | None = None,
    ) -> str:
        """The LP JWT of `authenticate?v=3.0` (with `Authorization: jwt <unauth_jwt>` for a step-up)."""
        reply = self.authenticate_reply(id_token, code, unauth_jwt, connector_id)
        return expect_token(reply, "token")

    def authenticate_reply(
        self,
        id_token: str | None = None,
        code: str | None = None,
        unauth_jwt: str | None = None,
        connector_id: str | None = None,
        redirect_uri: str | None = None,
    ) -> Any:
        body: dict = {"id_token": id_token} if id_token is not None else {"code": code}
        if redirect_uri is not None:
            body["redirect_uri"] = redirect_uri
        headers = {"Authorization": f"jwt {unauth_jwt}"} if unauth_jwt else None
        path = self.account.idp_path(f"app/{connector_id or self.connector_id}/authenticate")
        return self.account.handle.post(path, params={"v": "3.0"}, json=body, headers=headers)


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class AuthenticatedConsumer:
    """A consumer authenticated through `lp_brand_idp`: its LP JWT and 64-hex consumer id, the brand `sub` and claims."""

    lp_jwt: str
    consumer_id: str
    sub: str
    claims: dict


@pytest.fixture
def lp_brand_idp(lp_account: LivePersonAccount) -> BrandIdp:
    """A brand the emulator plays, seeded in the test's namespace (client `liveperson`), and an authenticated
    connector of `lp_account` that names it: `.id_token(sub, **claims)`, `.code(sub)`, `.authenticate(...)`."""
    client_secret = secrets.token_urlsafe(16)
    brand = seed_brand(
        lp_account.handle.control,
        private_key_pem=fixture_brand_pem(),
        clients=[{"client_id": BRAND_CLIENT_ID, "client_secret": client_secret}],
    )
    connector_id = add_lp_connector(lp_account, type="authenticated", brand=brand.id)
    return BrandIdp(lp_account, brand, connector_id, client_secret)


@pytest.fixture
def lp_authenticated_consumer(lp_brand_idp: BrandIdp) -> AuthenticatedConsumer:
    """A consumer authenticated through `lp_brand_idp` (implicit flow) with a fresh `sub` and a name and SDEs."""
    sub = f"user-{secrets.token_hex(6)}"
    claims: dict[str, Any] = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "lp_sdes": [{"type": "ctmrinfo", "info": {"ctype": "vip"}}],
    }
    lp_jwt = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token(sub, **claims))
    consumer_id = jwt.decode(lp_jwt, options={"verify_signature": False})["sub"]
    return AuthenticatedConsumer(lp_jwt, consumer_id, sub, claims)
