"""A security matrix: every token the emulator verifies, against one table of attacks.

Verifiers (each refuses in its provider's own shape):
- `lp-refresh`: LivePerson's external unauth JWT at `anonymous/authorize` (refresh) -> 401 `{"internalErrorCode": "9007"}`
- `lp-exchange`: the same token at `app/{connector}/authenticate?v=3.0` -> 401 `{"internalErrorCode": "9007"}`
- `sunshine-v2`: Sunshine's server JWT on a v2 route -> 401 `{"errors": [{"code": "invalid_auth", "title"}]}`
- `sunshine-sdk`: Sunshine's user JWT at SDK `POST /sdk/v2/apps/{app}/login` -> 401 `{"error": {"code": "invalid_auth", "description"}}`

Every attack is a builder `(verifier) -> token`; the table `MATRIX` says what each verifier answers, and each
case asserts the exact status, body and the emulator's `X-Emulator-Reason`. Tokens are signed with the
verifier's genuine key unless the attack is about the key, so a refusal is the attack's doing. The clock of
every test is frozen at T0: time claims are counted to the second, and time passes only by moving it.

Cells that are not a 401: LivePerson's refresh takes an expired external JWT (inside its refresh window, as
documented); a genuine token of another Sunshine app is 403 `forbidden` (valid credentials, another app:
reference 1.4); `iat` is not checked anywhere ([I]); LivePerson requires `exp` and `iat`, Sunshine neither.
A token longer than MAX_TOKEN_LENGTH is refused before it is parsed ([I]); over a socket, a megabyte in the
Authorization header never reaches Sunshine's verifier: the HTTP server answers 431 itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.client import Reply
from emulator.core.keys import MAX_TOKEN_LENGTH
from emulator.providers.liveperson.identity import CONSUMER_JWT_SLOT, EXTERNAL_JWT_SLOT, IDP_ISSUER
from emulator.providers.sunshine.auth import sign_jwt
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, SunshineApp
from emulator.web import UNHANDLED_HEADER

T0 = "2026-03-01T00:00:00Z"
NOW = 1_772_323_200  # T0 in epoch seconds
MB = 1024 * 1024

pytestmark = pytest.mark.emulator_time(T0)


@pytest.fixture
def emulator_backend(request: pytest.FixtureRequest) -> EmulatorHandle:
    """In-process by default; `indirect` parametrization picks `emulator_server` for the HTTP cases."""
    return request.getfixturevalue(getattr(request, "param", "emulator"))


def b64url(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(header: dict, claims: Any, secret: bytes) -> str:
    """A JWT built by hand, so that any header and any secret (a PEM included) can be used."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def segments(token: str) -> list[str]:
    return token.split(".")


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


_FOREIGN_RSA: list[rsa.RSAPrivateKey] = []


def foreign_rsa_key() -> rsa.RSAPrivateKey:
    """An RSA key the emulator has never seen (one per process: generating one takes a while)."""
    if not _FOREIGN_RSA:
        _FOREIGN_RSA.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _FOREIGN_RSA[0]


# --- outcomes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    pass


@dataclass(frozen=True)
class Refused:
    """401 in the provider's shape: `lp` is LivePerson's reason; `title` and `reason` are Sunshine's."""

    lp: str
    title: str
    reason: str


@dataclass(frozen=True)
class Forbidden:
    """403 `forbidden` "Forbidden": valid credentials of another tenant (Sunshine only)."""

    reason: str


Outcome = Accepted | Refused | Forbidden
ACCEPTED = Accepted()
INVALID_JWT = {"internalErrorCode": "9007"}


# --- the verifiers --------------------------------------------------------------------------------------------


class Verifier:
    """One place the emulator verifies a token: how to sign a token for it, send it, and read its answer."""

    name: str
    kid: str
    handle: EmulatorHandle

    def claims(self, **changes: Any) -> dict:
        """The claims a genuine token carries, with `changes` (None drops a claim)."""
        raise NotImplementedError

    def sign(self, claims: Any, **header: Any) -> str:
        """`claims` signed with this verifier's genuine key; `header` adds fields (`kid=None` leaves it out)."""
        raise NotImplementedError

    def genuine(self) -> str:
        return self.sign(self.claims())

    def other_tenant(self) -> str:
        """A genuine token of another tenant (LivePerson account, Sunshine app) of the same namespace."""
        raise NotImplementedError

    def other_key(self) -> str:
        """This verifier's `kid`, signed with a key the emulator holds for something else."""
        raise NotImplementedError

    def kid_of_another_key(self) -> str:
        raise NotImplementedError

    def confusion(self) -> str:
        """The RS256/HS256 confusion as it applies here."""
        raise NotImplementedError

    def tamper(self, claims: dict) -> dict:
        raise NotImplementedError

    def revoke_tenant(self) -> None:
        """Revoke every token of this verifier's tenant issued (or, for Sunshine, seen) so far."""
        raise NotImplementedError

    def send(self, token: str) -> Reply:
        raise NotImplementedError

    def check(self, reply: Reply, token: str, outcome: Outcome) -> None:
        raise NotImplementedError


class LivePersonVerifier(Verifier):
    """The external unauth JWT: RS256 by the IDP's key (kid `idp-ext-00001`), at refresh or at the exchange."""

    kid = EXTERNAL_JWT_SLOT.kid

    def __init__(self, route: str, account: LivePersonAccount, other: LivePersonAccount) -> None:
        self.name = f"lp-{route}"
        self.route = route
        self.account = account
        self.other = other
        self.handle = account.handle
        self.consumer = str(uuid.uuid4())

    def claims(self, **changes: Any) -> dict:
        base = {
            "iss": IDP_ISSUER,
            "aud": f"acc:{self.account.id}",
            "sub": self.consumer,
            "iat": NOW,
            "exp": NOW + 600,
            "auth_time": NOW,
            "jti": str(uuid.uuid4()),
        }
        return {k: v for k, v in {**base, **changes}.items() if v is not None}

    def sign(self, claims: Any, **header: Any) -> str:
        fields = {"kid": self.kid, **header}
        payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
        key = EXTERNAL_JWT_SLOT.fixed_key().private_key
        return pyjwt.PyJWS().encode(
            payload, key, algorithm="RS256", headers={k: v for k, v in fields.items() if v is not None}
        )

    def genuine(self) -> str:
        return self.account.issue_ext_jwt()  # issued by the emulator itself

    def other_tenant(self) -> str:
        return self.other.issue_ext_jwt()

    def other_key(self) -> str:
        # the key of the LP consumer JWT (kid 00001), under the external JWT's kid
        return pyjwt.encode(
            self.claims(), CONSUMER_JWT_SLOT.fixed_key().private_key, algorithm="RS256", headers={"kid": self.kid}
        )

    def kid_of_another_key(self) -> str:
        return self.sign(self.claims(), kid=CONSUMER_JWT_SLOT.kid)

    def confusion(self) -> str:
        """HS256 whose HMAC secret is the PEM of the IDP's own public key (a verifier trusting `alg` would pass it)."""
        secret = public_pem(EXTERNAL_JWT_SLOT.fixed_key().private_key)
        return hs256({"alg": "HS256", "typ": "JWT", "kid": self.kid}, self.claims(), secret)

    def tamper(self, claims: dict) -> dict:
        return {**claims, "sub": str(uuid.uuid4())}  # someone else's consumer

    def revoke_tenant(self) -> None:
        self.handle.control.revoke(account=self.account.id)

    def send(self, token: str) -> Reply:
        if self.route == "refresh":
            return self.handle.post(self.account.idp_path("anonymous/authorize"), json={"id_token": token})
        path = self.account.idp_path(f"app/{self.account.unauth_connector_id}/authenticate")
        return self.handle.post(path, params={"v": "3.0"}, json={"id_token": token})

    def check(self, reply: Reply, token: str, outcome: Outcome) -> None:
        assert UNHANDLED_HEADER not in reply.headers, reply.text
        if isinstance(outcome, Accepted):
            assert (reply.status, set(reply.json())) == (200, {"token"}), reply.text
            issued = reply.json()["token"]
            kid = self.kid if self.route == "refresh" else CONSUMER_JWT_SLOT.kid
            assert pyjwt.get_unverified_header(issued)["kid"] == kid
            assert claims_of(issued)["sub"] == claims_of(token)["sub"]
            assert claims_of(issued)["aud"] == f"acc:{self.account.id}"
            return
        assert isinstance(outcome, Refused), outcome
        assert (reply.status, reply.json()) == (401, INVALID_JWT), reply.text
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.headers["X-Emulator-Reason"] == outcome.lp


class SunshineVerifier(Verifier):
    """Sunshine's HS256 JWTs (`kid` = an app key): the server JWT on v2, the user JWT at SDK login."""

    def __init__(self, route: str, app: SunshineApp, other: SunshineApp) -> None:
        self.name = f"sunshine-{route}"
        self.route = route
        self.app = app
        self.other = other
        self.handle = app.handle
        self.kid = app.key_id
        self.external_id = f"sdk-{secrets.token_hex(6)}"
        self.client_id = secrets.token_hex(16)

    def claims(self, **changes: Any) -> dict:
        base = {"scope": "app"} if self.route == "v2" else {"scope": "user", "external_id": self.external_id}
        return {k: v for k, v in {**base, **changes}.items() if v is not None}

    def sign(self, claims: Any, **header: Any) -> str:
        return self._signed(claims, self.app.secret.encode(), **header)

    def _signed(self, claims: Any, secret: bytes, **header: Any) -> str:
        fields = {"alg": "HS256", "typ": "JWT", "kid": self.kid, **header}
        return hs256({k: v for k, v in fields.items() if v is not None}, claims, secret)

    def genuine(self) -> str:
        return self.sign(self.claims(jti=str(uuid.uuid4())))

    def other_tenant(self) -> str:
        return sign_jwt(self.claims(), self.other.key_id, self.other.secret)

    def other_key(self) -> str:
        return self._signed(self.claims(), self.other.secret.encode())  # our kid, the other app's secret

    def kid_of_another_key(self) -> str:
        return self.sign(self.claims(), kid=self.app.account_key_id)  # a key that exists, not the signer

    def confusion(self) -> str:
        """RS256 by an RSA key: the provider takes HS256 only."""
        return pyjwt.encode(self.claims(), foreign_rsa_key(), algorithm="RS256", headers={"kid": self.kid})

    def tamper(self, claims: dict) -> dict:
        if self.route == "v2":
            return {**claims, "scope": "account"}  # an app key's JWT raised to the account's reach
        return {**claims, "external_id": "someone-else"}

    def revoke_tenant(self) -> None:
        self.handle.control.revoke(provider="sunshine", app=self.app.id)

    def send(self, token: str) -> Reply:
        headers = {"Authorization": f"Bearer {token}"}
        if self.route == "v2":
            return self.handle.get(self.app.path(), headers=headers)
        body = {"userId": self.external_id, "client": {"id": self.client_id, "platform": "web"}}
        return self.handle.post(f"/sdk/v2/apps/{self.app.id}/login", json=body, headers=headers)

    def check(self, reply: Reply, token: str, outcome: Outcome) -> None:
        assert UNHANDLED_HEADER not in reply.headers, reply.text
        if isinstance(outcome, Accepted):
            if self.route == "v2":
                expected = self.handle.get(self.app.path(), headers=self.app.basic_headers())
                assert (reply.status, reply.json()) == (200, expected.json()), reply.text
            else:
                assert reply.status == 200, reply.text
                assert reply.json()["appUser"]["userId"] == self.external_id and "sessionToken" not in reply.json()
            return
        if isinstance(outcome, Forbidden):
            status, code, text, reason = 403, "forbidden", "Forbidden", outcome.reason
        else:
            assert isinstance(outcome, Refused), outcome
            status, code, text, reason = 401, "invalid_auth", outcome.title, outcome.reason
        body = (
            {"errors": [{"code": code, "title": text}]}
            if self.route == "v2"
            else {"error": {"code": code, "description": text}}
        )
        assert (reply.status, reply.json()) == (status, body), reply.text
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.headers["X-Emulator-Reason"] == reason


VERIFIERS = ["lp-refresh", "lp-exchange", "sunshine-v2", "sunshine-sdk"]


def _lp_account(handle: EmulatorHandle) -> LivePersonAccount:
    account_id, connector_id = str(secrets.randbelow(9 * 10**7) + 10**7), str(secrets.randbelow(9 * 10**9) + 10**9)
    handle.control.seed(
        {
            "liveperson": {
                "accounts": [{"id": account_id, "connectors": [{"id": connector_id, "type": "unauthenticated"}]}]
            }
        }
    )
    return LivePersonAccount(account_id, connector_id, 600, handle)


def _sunshine_app(handle: EmulatorHandle) -> SunshineApp:
    app_id, key_id, secret = secrets.token_hex(12), f"app_{secrets.token_hex(12)}", secrets.token_urlsafe(18)
    handle.control.seed({"sunshine": {"apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}]}]}})
    return SunshineApp(app_id, key_id, secret, "", "", handle)


def make_verifier(name: str, request: pytest.FixtureRequest) -> Verifier:
    provider, route = name.split("-")
    if provider == "lp":
        account = request.getfixturevalue("lp_account")
        return LivePersonVerifier(route, account, _lp_account(account.handle))
    app = request.getfixturevalue("sunshine_app")
    return SunshineVerifier(route, app, _sunshine_app(app.handle))


@pytest.fixture(params=VERIFIERS)
def verifier(request: pytest.FixtureRequest) -> Verifier:
    return make_verifier(request.param, request)


# --- the attacks ----------------------------------------------------------------------------------------------


def _unsigned(v: Verifier) -> str:
    return f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': v.kid})}.{b64url(v.claims())}."


def _none_keeping_the_signature(v: Verifier) -> str:
    _, payload, signature = segments(v.genuine())
    return f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': v.kid})}.{payload}.{signature}"


def _tampered(v: Verifier) -> str:
    head, payload, signature = segments(v.genuine())
    return f"{head}.{b64url(v.tamper(claims_of(f'{head}.{payload}.{signature}')))}.{signature}"


def _stripped(v: Verifier) -> str:
    head, payload, _ = segments(v.genuine())
    return f"{head}.{payload}."


def _replace(part: int, garbage: str) -> Callable[[Verifier], str]:
    def build(v: Verifier) -> str:
        parts = segments(v.genuine())
        parts[part] = garbage
        return ".".join(parts)

    return build


def _foreign_rs256(v: Verifier) -> str:
    return pyjwt.encode(v.claims(), foreign_rsa_key(), algorithm="RS256", headers={"kid": v.kid})


def _revoked(v: Verifier) -> str:
    """A genuine token, used once (accepted), then revoked through the control API."""
    token = v.genuine()
    v.check(v.send(token), token, ACCEPTED)
    v.handle.control.revoke(token=token)
    return token


def _revoked_with_its_tenant(v: Verifier) -> str:
    token = v.genuine()
    v.check(v.send(token), token, ACCEPTED)
    v.revoke_tenant()
    return token


Attack = Callable[[Verifier], str]


def everywhere(lp: str, title: str, reason: str, **others: Outcome) -> dict[str, Outcome]:
    """The same refusal at every verifier, but for the ones named (`lp_refresh=ACCEPTED`)."""
    cells: dict[str, Outcome] = {name: Refused(lp, title, reason) for name in VERIFIERS}
    cells.update({name.replace("_", "-"): outcome for name, outcome in others.items()})
    return cells


def accepted(**others: Outcome) -> dict[str, Outcome]:
    cells: dict[str, Outcome] = {name: ACCEPTED for name in VERIFIERS}
    cells.update({name.replace("_", "-"): outcome for name, outcome in others.items()})
    return cells


SIGNATURE = ("bad_signature", "Invalid JWT signature", "bad_signature")
MALFORMED = ("malformed", "Invalid JWT", "malformed_jwt")
UNSUPPORTED_ALG = "Invalid JWT header. Unsupported algorithm", "unsupported_alg"
EXPIRED = ("expired", "Invalid JWT. Token expired", "expired")
NOT_YET_VALID = ("not_yet_valid", "Invalid JWT. Token not yet valid", "not_yet_valid")
TOO_LARGE = ("token_too_large", "Invalid JWT", "token_too_large")

# attack -> (builder, {verifier: outcome}). LivePerson's external JWT verifies with a pinned RS256 and the
# IDP's key; its refusals all look alike (9007), the reason header says which check refused.
MATRIX: dict[str, tuple[Attack, dict[str, Outcome]]] = {
    # the algorithm
    "alg none, unsigned": (_unsigned, everywhere("malformed", *UNSUPPORTED_ALG)),
    "alg none, signature kept": (_none_keeping_the_signature, everywhere("malformed", *UNSUPPORTED_ALG)),
    "RS256/HS256 confusion": (lambda v: v.confusion(), everywhere("malformed", *UNSUPPORTED_ALG)),
    "RS256 by a foreign RSA key": (_foreign_rs256, everywhere("bad_signature", *UNSUPPORTED_ALG)),
    # the key
    "another tenant's token": (
        lambda v: v.other_tenant(),
        everywhere(
            "wrong_audience",
            "",
            "",
            sunshine_v2=Forbidden("key_of_another_app"),
            sunshine_sdk=Forbidden("key_of_another_app"),
        ),
    ),
    "our kid, another key's signature": (lambda v: v.other_key(), everywhere(*SIGNATURE)),
    "missing kid": (
        lambda v: v.sign(v.claims(), kid=None),
        everywhere("unknown_key", "Invalid JWT header. Missing key id (kid)", "missing_kid"),
    ),
    "unknown kid": (
        lambda v: v.sign(v.claims(), kid=f"app_{secrets.token_hex(12)}"),
        everywhere("unknown_key", "Invalid JWT header. Unknown key id (kid)", "unknown_kid"),
    ),
    "kid of another key": (lambda v: v.kid_of_another_key(), everywhere("unknown_key", *SIGNATURE[1:])),
    # the signature
    "tampered payload": (_tampered, everywhere(*SIGNATURE)),
    "stripped signature": (_stripped, everywhere(*SIGNATURE)),
    # time, on the emulator's clock (frozen at NOW)
    "exp now": (lambda v: v.sign(v.claims(exp=NOW)), everywhere(*EXPIRED, lp_refresh=ACCEPTED)),
    "exp a second ago": (lambda v: v.sign(v.claims(exp=NOW - 1)), everywhere(*EXPIRED, lp_refresh=ACCEPTED)),
    "exp in a second": (lambda v: v.sign(v.claims(exp=NOW + 1)), accepted()),
    "exp a string": (
        lambda v: v.sign(v.claims(exp=str(NOW + 60))),
        everywhere("malformed", "Invalid JWT body", "malformed"),
    ),
    "nbf in a second": (lambda v: v.sign(v.claims(nbf=NOW + 1)), everywhere(*NOT_YET_VALID)),
    "nbf now": (lambda v: v.sign(v.claims(nbf=NOW)), accepted()),
    "iat in an hour": (lambda v: v.sign(v.claims(iat=NOW + 3600)), accepted()),  # [I] iat is not checked
    "no iat": (
        lambda v: v.sign(v.claims(iat=None)),
        accepted(lp_refresh=Refused("missing_claim", "", ""), lp_exchange=Refused("missing_claim", "", "")),
    ),
    "no exp": (
        lambda v: v.sign(v.claims(exp=None)),
        accepted(lp_refresh=Refused("missing_claim", "", ""), lp_exchange=Refused("missing_claim", "", "")),
    ),
    # size
    "1 MB header value": (lambda v: v.sign(v.claims(), x="A" * MB), everywhere(*TOO_LARGE)),
    "100 kB payload": (lambda v: v.sign(v.claims(pad="A" * 100_000)), everywhere(*TOO_LARGE)),
    # garbage
    "garbage header": (_replace(0, "%%%garbage%%%"), everywhere(*MALFORMED)),
    "garbage payload": (_replace(1, "%%%garbage%%%"), everywhere(*MALFORMED)),
    "garbage signature": (_replace(2, "%%%garbage%%%"), everywhere(*MALFORMED)),
    "header not JSON": (_replace(0, b64url(b"{oops")), everywhere(*MALFORMED)),
    "payload not JSON": (lambda v: v.sign(b"hello"), everywhere(*MALFORMED)),
    "not a JWT": (lambda v: "not-a-jwt", everywhere(*MALFORMED)),
    "two segments": (lambda v: ".".join(segments(v.genuine())[:2]), everywhere(*MALFORMED)),
    "four segments": (lambda v: v.genuine() + ".extra", everywhere(*MALFORMED)),
    # lifecycle
    "revoked": (_revoked, everywhere("revoked", "Invalid JWT. Token revoked", "revoked")),
    "revoked with its tenant": (
        _revoked_with_its_tenant,
        everywhere("revoked", "Invalid JWT. Token revoked", "revoked"),
    ),
}


@pytest.mark.parametrize("attack", list(MATRIX))
@pytest.mark.parametrize("verifier", VERIFIERS, indirect=True)
def test_matrix(verifier: Verifier, attack: str) -> None:
    build, outcomes = MATRIX[attack]
    token = build(verifier)
    verifier.check(verifier.send(token), token, outcomes[verifier.name])


def test_every_cell_is_filled() -> None:
    assert all(set(outcomes) == set(VERIFIERS) for _, outcomes in MATRIX.values())


# --- beyond the table -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("verifier", VERIFIERS, indirect=True)
def test_exp_counts_to_the_second_on_the_emulator_clock(verifier: Verifier) -> None:
    """The same token, a second before its `exp` and at it: only the clock moved."""
    token = verifier.sign(verifier.claims(exp=NOW + 1))
    verifier.check(verifier.send(token), token, ACCEPTED)
    verifier.handle.control.advance("1s")
    at_exp = MATRIX["exp now"][1][verifier.name]  # LivePerson's refresh takes an expired token
    verifier.check(verifier.send(token), token, at_exp)


@pytest.mark.parametrize("verifier", VERIFIERS, indirect=True)
def test_nbf_counts_to_the_second_on_the_emulator_clock(verifier: Verifier) -> None:
    token = verifier.sign(verifier.claims(nbf=NOW + 1))
    verifier.check(verifier.send(token), token, Refused(*NOT_YET_VALID))
    verifier.handle.control.advance("1s")
    verifier.check(verifier.send(token), token, ACCEPTED)


def _padded_to(verifier: Verifier, low: int, high: int) -> str:
    """A genuinely signed token whose length lies in [low, high] (a `pad` claim grows it)."""
    for pad in range(max(0, (low - 1200) * 3 // 4), high):
        token = verifier.sign(verifier.claims(pad="A" * pad))
        if low <= len(token) <= high:
            return token
    raise AssertionError(f"no pad gives a token of {low}..{high} characters")


@pytest.mark.parametrize("verifier", VERIFIERS, indirect=True)
def test_the_longest_token_read_is_max_token_length(verifier: Verifier) -> None:
    longest = _padded_to(verifier, MAX_TOKEN_LENGTH - 3, MAX_TOKEN_LENGTH)
    verifier.check(verifier.send(longest), longest, ACCEPTED)
    too_long = _padded_to(verifier, MAX_TOKEN_LENGTH + 1, MAX_TOKEN_LENGTH + 4)
    verifier.check(verifier.send(too_long), too_long, Refused(*TOO_LARGE))


@pytest.mark.parametrize("emulator_backend", ["emulator_server"], indirect=True)
@pytest.mark.parametrize("attack", ["1 MB header value", "100 kB payload", "garbage header"])
@pytest.mark.parametrize("verifier", VERIFIERS, indirect=True)
def test_over_http_a_refused_token_leaves_the_server_serving(
    emulator_backend: EmulatorHandle, verifier: Verifier, attack: str
) -> None:
    assert emulator_backend.base_url is not None and verifier.handle is emulator_backend  # a real socket
    build, outcomes = MATRIX[attack]
    token = build(verifier)
    reply = verifier.send(token)
    if verifier.name.startswith("sunshine") and len(token) > 256 * 1024:
        # an Authorization header of a megabyte never reaches the verifier: the HTTP server refuses
        # headers past 256 KiB (waitress' max_request_header_size), as a provider's front end would
        assert (reply.status, reply.headers["Content-Type"]) == (431, "text/plain; charset=utf-8")
        assert reply.text.startswith("Request Header Fields Too Large")
    else:
        verifier.check(reply, token, outcomes[verifier.name])
    good = verifier.genuine()
    verifier.check(verifier.send(good), good, ACCEPTED)
    assert verifier.handle.control.calls(status=500) == []


@pytest.mark.parametrize("id_token", [0, 1.5, True, [], ["a.b.c"], {"token": "a.b.c"}, ""], ids=repr)
@pytest.mark.parametrize("verifier", ["lp-refresh", "lp-exchange"], indirect=True)
def test_livepersons_id_token_that_is_not_a_string(verifier: Verifier, id_token: Any) -> None:
    """The external JWT travels in a JSON body, so it can be any JSON value: each is the 9007 answer."""
    assert isinstance(verifier, LivePersonVerifier)
    path = (
        "anonymous/authorize"
        if verifier.route == "refresh"
        else f"app/{verifier.account.unauth_connector_id}/authenticate"
    )
    reply = verifier.handle.post(verifier.account.idp_path(path), params={"v": "3.0"}, json={"id_token": id_token})
    verifier.check(reply, "", Refused("malformed", "", ""))
