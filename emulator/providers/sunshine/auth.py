"""Server authentication of the v2 API: Basic `keyId:secret`, or a Bearer HS256 JWT signed with a key's
secret and naming it in `kid`; then the route's scopes and the app the key belongs to (reference 1.1-1.4)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jwt.exceptions import InvalidSignatureError, PyJWTError
from jwt.utils import base64url_decode

from ...core.keys import HMAC_ALGORITHM as ALGORITHM
from ...core.keys import HMAC_JWS as _JWS
from ...core.keys import MAX_TOKEN_LENGTH, TokenError, check_time_claims, same_secret, sign_hs256
from ...core.lifecycle import TokenLifecycle
from .errors import SunshineError, forbidden, invalid_auth, not_found
from .models import PROVIDER, App, Integration, SunshineState, key_scope

# [C] HS256 (ALGORITHM) is the only algorithm the provider accepts
ACCOUNT, APP, INTEGRATION, END_USER = "account", "app", "integration", "user"
END_USER_SCOPES = frozenset({"user", "appUser"})  # [C] SDK login only; never on the REST API


def sign_jwt(claims: dict, key_id: str, secret: str) -> str:
    """An HS256 JWT as integrators sign them (header `kid`), for fixtures and tests."""
    return sign_hs256(claims, secret, {"kid": key_id})


def token_subjects(key_id: str, app_id: str | None) -> list[str]:
    """The lifecycle subjects of a JWT: its key, and its app when the key has one."""
    subjects = [f"{PROVIDER}:key:{key_id}"]
    return subjects + [f"{PROVIDER}:app:{app_id}"] if app_id else subjects


def selector_subjects(selector: dict) -> list[str]:
    """A control call's `{"key"}` or `{"app"}` as the narrowest subject it names."""
    if "key" in selector:
        return [f"{PROVIDER}:key:{selector['key']}"]
    if "app" in selector:
        return [f"{PROVIDER}:app:{selector['app']}"]
    raise ValueError("name an app or a key")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the scope of its key, and the app and integration the key belongs to."""

    scope: str  # account, app, integration; or user for an end user's JWT (`user` and v1 `appUser` alike)
    key_id: str
    app_id: str | None = None
    integration_id: str | None = None
    external_id: str | None = None  # the end user a user JWT speaks for (`external_id`, v1 `userId`)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is past the range of a JSON number")
    return value


def _strict_json(raw: bytes) -> Any:
    """JSON as the provider reads it: Python's NaN and Infinity (and 1e999) are not JSON."""
    return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)


def key_id_of(header: str | None) -> str | None:
    """The key id a request's Authorization names (Basic user or JWT `kid`), to find its namespace."""
    scheme, _, credentials = (header or "").partition(" ")
    try:
        if scheme.lower() == "basic":
            return base64.b64decode(credentials, validate=True).decode().partition(":")[0] or None
        if scheme.lower() == "bearer" and len(credentials) <= MAX_TOKEN_LENGTH:
            kid = _JWS.get_unverified_header(credentials.strip()).get("kid")
            return kid if isinstance(kid, str) else None
    except (binascii.Error, UnicodeDecodeError, PyJWTError, ValueError):
        return None
    return None


def authenticate(
    state: SunshineState, header: str | None, now: float, lifecycle: TokenLifecycle, *, end_users: bool = False
) -> Principal:
    """The key behind Basic or Bearer credentials; with `end_users`, also an end user's JWT (SDK login, v1.1)."""
    if not header or not header.strip():
        raise SunshineError(401, "unauthorized", "Authorization is required", "missing_authorization")  # [C]
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() == "basic":
        return _basic(state, credentials.strip())
    if scheme.lower() == "bearer":
        return _oauth(state, credentials.strip(), now, lifecycle) or _bearer(
            state, credentials.strip(), now, lifecycle, end_users
        )
    raise invalid_auth("Unsupported authorization scheme", "unsupported_scheme")


def token_digest(token: str) -> str:
    """How bearer secrets the emulator issues (OAuth tokens, auth codes) are kept: their sha256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _oauth(state: SunshineState, token: str, now: float, lifecycle: TokenLifecycle) -> Principal | None:
    """A marketplace integration's OAuth access token (oauth.py): `integration` scope in its app."""
    if len(token) > MAX_TOKEN_LENGTH or "." in token:  # a JWT is never an OAuth token here
        return None
    grant = state.oauth_grant(token_digest(token))
    if grant is None:
        return None
    try:
        lifecycle.check(token, now)
    except TokenError as exc:
        raise invalid_auth(_TOKEN_TITLES.get(exc.reason, "Invalid token"), exc.reason) from None
    app, integration_id = grant
    return Principal(INTEGRATION, "oauth", app.id, integration_id)


def _principal(state: SunshineState, key_id: str) -> tuple[Principal, str] | None:
    found = state.find_key(key_id)
    if found is None:
        return None
    key, app, integration = found
    principal = Principal(key_scope(key.id), key.id, app.id if app else None, integration.id if integration else None)
    return principal, key.secret


def _basic(state: SunshineState, credentials: str) -> Principal:
    try:
        key_id, separator, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_auth("Invalid Basic authorization", "malformed_basic") from None
    found = _principal(state, key_id) if separator else None
    if found is None or not same_secret(secret, found[1]):
        raise invalid_auth("Invalid key id or secret", "bad_credentials")
    return found[0]


def _bearer(state: SunshineState, token: str, now: float, lifecycle: TokenLifecycle, end_users: bool) -> Principal:
    if len(token) > MAX_TOKEN_LENGTH:
        raise invalid_auth("Invalid JWT", TokenError.TOO_LARGE)  # [I] refused before it is parsed
    try:
        header = _JWS.get_unverified_header(token)
        _strict_json(base64url_decode(token.split(".", 1)[0]))
    except (PyJWTError, binascii.Error, ValueError, RecursionError):
        raise invalid_auth("Invalid JWT", "malformed_jwt") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise invalid_auth("Invalid JWT header. Missing key id (kid)", "missing_kid")  # [C] v1 wording
    if header.get("alg") != ALGORITHM:
        raise invalid_auth("Invalid JWT header. Unsupported algorithm", "unsupported_alg")
    found = _principal(state, kid)
    if found is None:
        raise invalid_auth("Invalid JWT header. Unknown key id (kid)", "unknown_kid")
    principal, secret = found
    try:
        decoded = _JWS.decode_complete(token, secret.encode(), algorithms=[ALGORITHM])
        claims = _strict_json(decoded["payload"])
    except InvalidSignatureError:
        raise invalid_auth("Invalid JWT signature", "bad_signature") from None
    except (PyJWTError, ValueError, RecursionError):
        raise invalid_auth("Invalid JWT", "malformed_jwt") from None
    if not isinstance(claims, dict):
        raise invalid_auth("Invalid JWT body", "malformed_jwt")
    scope = claims.get("scope")
    if not isinstance(scope, str):
        # [I] title; a list or object scope is no scope at all
        raise invalid_auth(
            "Invalid JWT body. Missing scope" if scope is None else "Invalid JWT body. Invalid scope", "bad_scope"
        )
    if scope in END_USER_SCOPES:
        if not end_users:
            raise forbidden("user_scope_on_rest_api")  # [I] valid credentials, a scope the REST API does not serve
        principal = _end_user(principal, scope, claims)
    elif scope != principal.scope:
        # [C] v1 wording: "Invalid JWT body. Cannot use account scope with app secret key"
        raise invalid_auth(
            f"Invalid JWT body. Cannot use {scope} scope with {principal.scope} secret key", "scope_mismatch"
        )
    try:
        check_time_claims(claims, now)
        if not lifecycle.knows(token):  # a JWT the integrator signed: remembered from its first use
            lifecycle.issued(
                token,
                token_subjects(kid, principal.app_id),
                claims.get("exp") if isinstance(claims.get("exp"), (int, float)) else None,
            )
        lifecycle.check(token, now)
    except TokenError as exc:
        raise invalid_auth(_TOKEN_TITLES.get(exc.reason, "Invalid JWT"), exc.reason) from None
    return principal


def _end_user(principal: Principal, scope: str, claims: dict) -> Principal:
    """A user JWT: signed with an app key, naming its user as a string (`external_id`; v1 `userId`)."""
    if principal.scope != APP:
        raise invalid_auth(
            f"Invalid JWT body. Cannot use {scope} scope with {principal.scope} secret key", "scope_mismatch"
        )
    claim = "external_id" if scope == "user" else "userId"
    external_id = claims.get(claim)
    if not isinstance(external_id, str) or not external_id:
        # [C] a numeric id "will result in an invalid auth error"
        raise invalid_auth(f"Invalid JWT body. {claim} must be a non-empty string", "bad_external_id")
    return Principal(END_USER, principal.key_id, principal.app_id, None, external_id)


_TOKEN_TITLES = {
    TokenError.EXPIRED: "Invalid JWT. Token expired",
    TokenError.NOT_YET_VALID: "Invalid JWT. Token not yet valid",
    TokenError.REVOKED: "Invalid JWT. Token revoked",
    TokenError.INJECTED: "Invalid JWT",
    TokenError.MALFORMED: "Invalid JWT body",
}


def authorize(principal: Principal, scopes: Iterable[str], state: SunshineState, app_id: str | None) -> App | None:
    """The app a call acts on, once the key may act there: 403 for a scope the route does not allow or
    another app's key, 404 `app_not_found` for an app that does not exist."""
    if principal.scope not in scopes:
        raise forbidden("scope_not_allowed")
    if app_id is None:
        return None
    if principal.app_id is not None and principal.app_id != app_id:
        raise forbidden("key_of_another_app")
    app = state.apps.get(app_id)
    if app is None:
        raise not_found("app_not_found", "App not found")
    return app


def integration_for(principal: Principal, app: App, integration_id: str) -> Integration:
    """`{integrationId}` of a webhook route: `me` is the calling integration (integration scope only)."""
    if principal.scope == INTEGRATION:
        if integration_id not in ("me", principal.integration_id):
            raise forbidden("integration_of_another")
        integration_id = principal.integration_id or ""
    integration = app.integration(integration_id)
    if integration is None:
        raise not_found("integration_not_found", "Integration not found")
    return integration
