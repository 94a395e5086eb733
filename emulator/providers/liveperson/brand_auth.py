"""Authenticated consumers: the IDP verifies a brand's JWT (implicit flow) or gets one from the brand's
token endpoint (code flow), and signs the consumer in. Reference: liveperson.md sections 5.2 to 5.6.

An exchange runs in three steps so that no outgoing HTTP call and no signature holds the store lock: `plan`
(under the lock: what the connector says, a copy of a seeded brand), `fetch` (outside it: the step-up JWT
verified, the brand's token endpoint or the seeded brand's code flow on the copy, the JWKS URL, the brand JWT
verified), `complete` (under the lock again: step-up check, the code spent, sign-in, step-up); the route
signs the LP JWT after it (`ConsumerIdentity.authenticated_jwt`).
"""

from __future__ import annotations

import base64
import binascii
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ...core.keys import ALGORITHM, TokenError, check_time_claims, decode_rs256, is_time, unverified_header
from ...core.store import Namespace
from . import stepup
from .brand_idp import DEFAULT_REDIRECT_URI, INVALID_CODE, BrandError, BrandServer
from .conversations import Change, Conversations, unstorable
from .errors import InvalidCustomerJwt, LivePersonError
from .identity import ConsumerIdentity
from .models import Account, Brand, Connector, LivePersonState, brand_signing_key

AUTH_SERVICE_FAILED = "Failed to validate user with customer authentication service"  # [C] reference 5.4
ENCRYPTED_JWT = "9012"  # [C] reference 5.4: an encrypted JWT
PROVIDER = "liveperson"
JWKS_TTL = 600.0  # [I] a fetched JWKS is used for 10 minutes of the namespace's clock
HTTP_TIMEOUT = 5.0  # [I] wall-clock seconds for a call to a brand's JWKS URL or token endpoint
WRONG_ALGORITHM = "wrong_algorithm"
ENCRYPTED = "encrypted_jwt"
JWKS_UNAVAILABLE = "jwks_unavailable"
BAD_CONNECTOR_KEY = "bad_connector_key"
UNKNOWN_BRAND = "unknown_brand"
BRAND_CLAIMS = ("iss", "iat", "exp", "sub")  # [C] iss, iat, exp mandatory; [I] sub too: it is the consumer


class EncryptedJwtRefused(InvalidCustomerJwt):
    """A JWE (five segments): `{"internalErrorCode": "9012"}`; the emulator decrypts nothing. [C]"""

    def body(self) -> dict:
        return {"internalErrorCode": ENCRYPTED_JWT}


def auth_service_failed(reason: str) -> LivePersonError:
    """The code flow's failure: 401 in LivePerson's envelope (internalCode 10). [C]"""
    return LivePersonError(401, AUTH_SERVICE_FAILED, reason)


# --- keys ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySet:
    """Public keys by kid; `any_kid` (a connector's `jwt_public_key`) verifies whatever the kid. [I]"""

    by_kid: dict[str, Any] = field(default_factory=dict)
    any_kid: Any = None

    def key_for(self, kid: object) -> Any:
        return self.by_kid.get(kid) if isinstance(kid, str) and kid in self.by_kid else self.any_kid


def public_key_set(spki_base64: str) -> KeySet:
    """[C] a "JWT Public Key": base64 SubjectPublicKeyInfo without PEM header; [I] a PEM is taken too."""
    try:
        if "-----BEGIN" in spki_base64:
            key = serialization.load_pem_public_key(spki_base64.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(spki_base64.split()), validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise TokenError(BAD_CONNECTOR_KEY, f"jwt_public_key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise TokenError(BAD_CONNECTOR_KEY, "jwt_public_key is not an RSA key")
    return KeySet(any_kid=key)


def jwks_key_set(document: object) -> KeySet:
    """The RSA keys of a JWKS document, by kid (keys without a kid are never chosen [I])."""
    try:
        keys = jwt.PyJWKSet.from_dict(document).keys  # type: ignore[arg-type]
    except (jwt.PyJWTError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise TokenError(JWKS_UNAVAILABLE, f"not a JWKS: {exc}") from None
    return KeySet(
        by_kid={k.key_id: k.key for k in keys if isinstance(k.key_id, str) and k.key_id and k.key_type == "RSA"}
    )


def brand_key_set(brand: Brand) -> KeySet:
    return KeySet(by_kid={brand.kid or "": brand_signing_key(brand.private_key_pem or "").public_key()})


@dataclass
class _CachedJwks:
    fetched_at: float
    keys: KeySet


class JwksCache:
    """Fetched JWKS by URL, per namespace (dropped with it), fresh for JWKS_TTL on the namespace's clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_namespace: weakref.WeakKeyDictionary[Namespace, dict[str, _CachedJwks]] = weakref.WeakKeyDictionary()

    def keys(self, namespace: Namespace, url: str, kid: object) -> KeySet:
        """The cached set while fresh and holding `kid`; else fetched once more (outside the store lock)."""
        now = namespace.clock.now()
        with self._lock:
            cached = self._by_namespace.get(namespace, {}).get(url)
        if (
            cached is not None
            and cached.fetched_at <= now < cached.fetched_at + JWKS_TTL
            and cached.keys.key_for(kid) is not None
        ):
            return cached.keys
        keys = fetch_jwks(url)
        with self._lock:
            self._by_namespace.setdefault(namespace, {})[url] = _CachedJwks(now, keys)
        return keys


JWKS_CACHE = JwksCache()


def fetch_jwks(url: str) -> KeySet:
    import requests  # on the first brand call: start-up does not pay for it

    try:
        reply = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        document = reply.json() if reply.status_code == 200 else None
    except (requests.RequestException, ValueError, RecursionError) as exc:
        raise TokenError(JWKS_UNAVAILABLE, f"{url}: {exc}") from None
    if document is None:
        raise TokenError(JWKS_UNAVAILABLE, f"{url} answered {reply.status_code}")
    return jwks_key_set(document)


# --- the brand JWT ------------------------------------------------------------------------------------


def unverified_kid(token: object) -> object:
    """The `kid` of a JWS header, None when there is none or the token does not parse (verify says why)."""
    try:
        return unverified_header(token).get("kid")
    except TokenError:
        return None


def verify_brand_jwt(token: object, keys: KeySet, issuer: str, now: float) -> dict:
    """The claims of a brand JWT (TokenError otherwise): RS256 only, a key of the connector's key source,
    `iss` the connector's issuer, `iat`, `exp` and `sub` present, `exp`/`nbf`/`iat` right on `now`."""
    if isinstance(token, str) and token.count(".") == 4:
        raise TokenError(ENCRYPTED, "a JWE: the emulator decrypts nothing")
    header = unverified_header(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError(WRONG_ALGORITHM, f"alg {header.get('alg')!r}: only RS256")
    key = keys.key_for(header.get("kid"))
    if key is None:
        raise TokenError(TokenError.UNKNOWN_KEY, f"kid {header.get('kid')!r}")
    claims = decode_rs256(
        cast(str, token), key, BRAND_CLAIMS
    )  # `aud` is not checked [I]; a string: the header was read
    if claims["iss"] != issuer:
        raise TokenError(TokenError.WRONG_ISSUER, f"iss {claims['iss']!r}")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise TokenError(TokenError.MISSING_CLAIM, "sub is a non-empty string")
    iat = claims["iat"]
    if not is_time(iat):
        raise TokenError(TokenError.MALFORMED, "iat is not a number")
    if iat > now:
        raise TokenError(TokenError.NOT_YET_VALID, f"issued at {iat}, in the future")  # [I] no leeway
    check_time_claims(claims, now)
    problem = unstorable(claims)  # the profile keeps `lp_sdes`: it must stay exportable
    if problem:
        raise TokenError(TokenError.MALFORMED, problem)
    return claims


# --- the exchange -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """What the consumer presents: a brand JWT (implicit flow) or a code (code flow)."""

    id_token: object = None
    code: str | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI


@dataclass(frozen=True)
class Plan:
    """What the connector says, read under the lock."""

    invalid_status: int  # the account's `idp_error_status`
    connector: Connector
    issuer: str  # the brand's issuer of a `brand` connector
    keys: KeySet | None  # None: fetched from `connector.jwks_url`
    brand: Brand | None = None  # a copy of the seeded brand of a `brand` connector: its code flow runs outside the lock


@dataclass(frozen=True)
class Fetched:
    """What was done outside the lock: the brand JWT's verified claims, the step-up's consumer (if any)."""

    claims: dict
    unauth_id: str | None


def plan(namespace: Namespace, account: Account, connector: Connector) -> Plan:
    """Under the lock: the connector's issuer and keys (a JWKS URL is fetched later)."""
    invalid = account.settings.idp_error_status
    if connector.brand is not None:
        brand = _brand(namespace, account, connector.brand)
        issuer = connector.issuer or brand.issuer or ""
        return Plan(invalid, connector.model_copy(deep=True), issuer, brand_key_set(brand), brand.model_copy(deep=True))
    try:
        keys = public_key_set(connector.jwt_public_key) if connector.jwt_public_key else None
        keys = jwks_key_set(connector.jwks) if connector.jwks is not None else keys
    except TokenError as error:
        raise InvalidCustomerJwt(invalid, error.reason) from None
    return Plan(invalid, connector.model_copy(deep=True), connector.issuer or "", keys)


def fetch(
    namespace: Namespace, account: Account, plan: Plan, credential: Credential, unauth_jwt: str | None
) -> Fetched:
    """Outside the lock: the step-up JWT verified; the code at the connector's token endpoint (or the seeded
    brand's, on the plan's copy); the JWKS of the token's kid; the brand JWT verified. Nothing changes."""
    invalid = plan.invalid_status
    unauth_id = None
    if unauth_jwt is not None:
        try:
            unauth_id = stepup.verified_unauth_consumer(namespace, account, unauth_jwt)
        except stepup.StepUpRefused as refused:
            raise InvalidCustomerJwt(invalid, refused.reason) from None
    connector = plan.connector
    id_token = credential.id_token
    if credential.code is not None and plan.brand is not None:
        id_token = _exchange_in_process(namespace, plan.brand, connector, credential)
    elif credential.code is not None:
        if not connector.token_endpoint:
            raise auth_service_failed("code_flow_not_configured")  # [I]
        id_token = exchange_code_over_http(connector, credential)
    keys = plan.keys
    if keys is None and connector.jwks_url is not None:
        try:
            keys = JWKS_CACHE.keys(namespace, connector.jwks_url, unverified_kid(id_token))
        except TokenError as error:
            raise InvalidCustomerJwt(invalid, error.reason) from None
    if keys is None:
        raise InvalidCustomerJwt(invalid, JWKS_UNAVAILABLE)
    try:
        claims = verify_brand_jwt(id_token, keys, plan.issuer, namespace.clock.now())
    except TokenError as error:
        refusal = EncryptedJwtRefused if error.reason == ENCRYPTED else InvalidCustomerJwt
        raise refusal(invalid, error.reason) from None
    return Fetched(claims, unauth_id)


def exchange_code_over_http(connector: Connector, credential: Credential) -> str:
    """[C] POST form `code`, `grant_type`, `redirect_uri` with Basic client auth; the 200 JSON's `id_token`."""
    basic = base64.b64encode(
        f"{connector.client_id}:{connector.client_secret}".encode("utf-8", "surrogatepass")
    ).decode()
    form = {"code": credential.code, "grant_type": "authorization_code", "redirect_uri": credential.redirect_uri}
    import requests  # on the first brand call: start-up does not pay for it

    try:
        reply = requests.post(
            connector.token_endpoint or "", data=form, headers={"Authorization": f"Basic {basic}"}, timeout=HTTP_TIMEOUT
        )
    except requests.RequestException:
        raise auth_service_failed("token_endpoint_unreachable") from None
    try:
        body = reply.json()
    except (ValueError, RecursionError):
        body = None
    if reply.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        raise auth_service_failed(f"token_endpoint_{reply.status_code}" + (f": {error}" if error else ""))
    if not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
        raise auth_service_failed("token_endpoint_no_id_token")
    return body["id_token"]


def complete(
    namespace: Namespace, account: Account, plan: Plan, credential: Credential, fetched: Fetched
) -> tuple[str, dict, list[Change]]:
    """Under the lock: (the consumer signed in, its `lp.ext`, the conversation changes of a step-up), for
    `ConsumerIdentity.authenticated_jwt` to sign outside the lock. Nothing changes when refused."""
    if fetched.unauth_id is not None:
        try:
            stepup.check_unauthenticated(account, fetched.unauth_id)
        except stepup.StepUpRefused as refused:
            raise InvalidCustomerJwt(account.settings.idp_error_status, refused.reason) from None
    if credential.code is not None and plan.brand is not None:  # spent only now: a refused exchange leaves it
        brand = _brand(namespace, account, plan.brand.id)
        if credential.code not in brand.codes:  # spent meanwhile by another exchange
            raise auth_service_failed(f"brand_{INVALID_CODE}: unknown_code")
        BrandServer(namespace, brand).spend(credential.code)
    consumer_id, ext = ConsumerIdentity(namespace, account).remember_authenticated(fetched.claims)
    conversations = Conversations(namespace, account)
    if fetched.unauth_id is not None:
        stepup.step_up(conversations, account, fetched.unauth_id, consumer_id)
    return consumer_id, ext, conversations.changes


def _exchange_in_process(namespace: Namespace, brand: Brand, connector: Connector, credential: Credential) -> object:
    """A `brand` connector's code flow: the seeded brand's token endpoint (on the plan's copy), without HTTP."""
    client = brand.client(connector.client_id) if connector.client_id else next(iter(brand.clients), None)
    if client is None:
        raise auth_service_failed("brand_unauthorized_client")
    secret = connector.client_secret or client.client_secret
    try:
        answer = BrandServer(namespace, brand).exchange(
            "authorization_code", credential.code, credential.redirect_uri, client.client_id, secret, spend=False
        )
    except BrandError as error:
        raise auth_service_failed(f"brand_{error.message}: {error.reason}") from None
    return answer["id_token"]


def _brand(namespace: Namespace, account: Account, brand_id: str) -> Brand:
    """The connector's brand; one not seeded in the namespace refuses the brand's JWTs. [I]"""
    state: LivePersonState = namespace.state(PROVIDER)
    brand = state.brands.get(brand_id)
    if brand is None:
        raise InvalidCustomerJwt(account.settings.idp_error_status, f"{UNKNOWN_BRAND}: {brand_id}")
    return brand
