"""Sentinel's AppJWT (client_credentials) and the IDP's ConsumerJWS, the two credentials of the Connector API.

Reference: liveperson.md sections 4.1 (AppJWT), 5.3 (`POST {idp}/api/account/{a}/consumer`), 6.1 (which
credential goes where) and 9. Both tokens are RS256 with kid `appjwt-13-05-17`, signed by one key slot; the
claims tell them apart (an AppJWT has `aud`/`azp`/`scope`/`iss`, a ConsumerJWS `account_id`/`lp_consumer_id`).
"""

from __future__ import annotations

import hashlib
import uuid

from ...core.keys import TokenError, same_secret
from ...core.store import Namespace
from .errors import LivePersonError
from .identity import APP_JWT_SLOT, app_subject, token_subjects
from .models import Account, App

SENTINEL_ISSUER = "Sentinel"  # [C] the AppJWT example's `iss`
# [I] the Send API's error table asks for `iss` "sentinel": both spellings are accepted
ACCEPTED_ISSUERS = frozenset({"Sentinel", "sentinel"})
APP_SCOPE = "msg.consumer"  # [C]
API_VERSION = "1.0"  # [C] `v=1.0` on the token URL; the ConsumerJWS URL also takes it (or nothing)
CLIENT_CREDENTIALS = "client_credentials"
EXT_CONSUMER_ID_MAX = 512  # [I] longest ext_consumer_id taken: its ConsumerJWS stays far below MAX_TOKEN_LENGTH
WRONG_SCOPE = "wrong_scope"
UNKNOWN_APP = "unknown_app"
WRONG_ACCOUNT = "wrong_account"


def lp_consumer_id(account_id: str, ext_consumer_id: str) -> str:
    """[I] the 64-hex consumer id of an external consumer: a digest of account and ext_consumer_id, so it is
    the same for every ConsumerJWS of that consumer in the account (and across restarts) and differs by account."""
    return hashlib.sha256(
        f"liveperson-consumer:{account_id}:{ext_consumer_id}".encode("utf-8", "surrogatepass")
    ).hexdigest()


class SentinelError(LivePersonError):
    """A refusal of the token endpoint or of the ConsumerJWS call, in LivePerson's envelope ([I]: the
    bodies are not public; the statuses follow OAuth 2.0, RFC 6749 section 5.2, which Sentinel says it follows)."""


class AppCredentials:
    """Sentinel's and the IDP's rules for one account, on the namespace's clock and keys."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._namespace = namespace
        self._now = namespace.clock.now()
        self._account = account

    def issue_app_jwt(
        self, grant_type: str | None, client_id: str | None, client_secret: str | None
    ) -> tuple[str, int]:
        """`app/token?grant_type=client_credentials`: the AppJWT of an app installation and its lifetime in seconds."""
        if not grant_type:
            raise SentinelError(400, "invalid_request: grant_type is required", "missing_grant_type")
        if grant_type != CLIENT_CREDENTIALS:
            raise SentinelError(400, f"unsupported_grant_type: use {CLIENT_CREDENTIALS}", "unsupported_grant_type")
        if not client_id or not client_secret:
            # [I] RFC 6749: "no client authentication included" is invalid_client, 401
            raise SentinelError(
                401, "invalid_client: client_id and client_secret are required", "missing_client_credentials"
            )
        app = _app(self._account, client_id)
        if app is None or not same_secret(client_secret, app.client_secret):
            raise SentinelError(
                401,
                "invalid_client: client authentication failed",
                "unknown_client" if app is None else "wrong_client_secret",
            )
        iat = int(self._now)
        ttl = int(self._account.settings.app_jwt_ttl)
        claims = {
            "aud": self._account.id,
            "azp": app.client_id,
            "scope": APP_SCOPE,
            "iss": SENTINEL_ISSUER,
            "exp": iat + ttl,
            "iat": iat,
            "jti": str(uuid.uuid4()),  # [I] not in the example: every AppJWT distinct, so expiring one spares the next
        }
        token = self._namespace.keys.sign(APP_JWT_SLOT.name, claims)
        subjects = [*token_subjects(self._account.id), app_subject(self._account.id, app.client_id)]
        self._namespace.tokens.issued(token, subjects, iat + ttl)
        return token, ttl

    def authorize_app(self, app_jwt: str | None) -> dict:
        """The AppJWT of `Authorization`, checked before anything else of the ConsumerJWS call; its claims.
        [I] 401 with the Connector API's titles (reference 6.4) as messages, in LivePerson's envelope."""
        if not app_jwt:
            raise SentinelError(401, "AppJWT is missing: AUTHORIZATION header is not present", "missing_app_jwt")
        try:
            return verify_app_jwt(self._namespace, self._account, app_jwt)
        except TokenError as exc:
            raise SentinelError(401, "Invalid AppJWT: AppJWT has expired or is invalid", exc.reason) from None

    def issue_consumer_jws(self, ext_consumer_id: object) -> str:
        """`POST {idp}/api/account/{a}/consumer` (after `authorize_app`): a ConsumerJWS for the external consumer."""
        if not isinstance(ext_consumer_id, str) or not ext_consumer_id.strip():
            raise SentinelError(400, "ext_consumer_id is required (a non-empty string)", "missing_ext_consumer_id")
        if len(ext_consumer_id) > EXT_CONSUMER_ID_MAX:
            raise SentinelError(
                400, f"ext_consumer_id is longer than {EXT_CONSUMER_ID_MAX} characters", "ext_consumer_id_too_long"
            )
        iat = int(self._now)
        expires_at = iat + int(self._account.settings.consumer_jws_ttl)
        consumer = lp_consumer_id(self._account.id, ext_consumer_id)
        claims = {
            "account_id": self._account.id,
            "ext_consumer_id": ext_consumer_id,
            "lp_consumer_id": consumer,
            "iat": iat,
            "exp": expires_at,
            "jti": str(uuid.uuid4()),  # [I] as on the AppJWT
        }
        token = self._namespace.keys.sign(APP_JWT_SLOT.name, claims)
        self._namespace.tokens.issued(token, token_subjects(self._account.id, consumer), expires_at)
        return token


def _app(account: Account, client_id: str) -> App | None:
    return next((app for app in account.apps if same_secret(client_id, app.client_id)), None)


def verify_app_jwt(namespace: Namespace, account: Account, token: object) -> dict:
    """The claims of an AppJWT for `account` (TokenError otherwise): our key, unexpired on the namespace's
    clock, `aud` the account, `iss` Sentinel or sentinel, scope `msg.consumer`, an app still installed on
    the account, and no lifecycle override (expire / revoke / injected failure) against it."""
    now = namespace.clock.now()
    claims = namespace.keys.verify(
        APP_JWT_SLOT.name, token, now, audience=account.id, required=("exp", "iat", "aud", "azp", "scope", "iss")
    )
    if not isinstance(claims["iss"], str) or claims["iss"] not in ACCEPTED_ISSUERS:
        raise TokenError(TokenError.WRONG_ISSUER, f"iss {claims['iss']!r}")
    scope = claims["scope"]
    if not isinstance(scope, str) or APP_SCOPE not in scope.split():
        raise TokenError(WRONG_SCOPE, f"scope {scope!r}")
    if not isinstance(claims["azp"], str) or _app(account, claims["azp"]) is None:
        raise TokenError(UNKNOWN_APP, "the app is not installed on the account")
    namespace.tokens.check(token, now)  # type: ignore[arg-type]  # verify() accepted only a string
    return claims


def verify_consumer_jws(namespace: Namespace, account: Account, token: object) -> dict:
    """The claims of a ConsumerJWS of `account` (TokenError otherwise): our key, unexpired, `account_id`
    the account, string `ext_consumer_id` and `lp_consumer_id`, and no lifecycle override against it."""
    now = namespace.clock.now()
    claims = namespace.keys.verify(
        APP_JWT_SLOT.name, token, now, required=("exp", "iat", "account_id", "ext_consumer_id", "lp_consumer_id")
    )
    if claims["account_id"] != account.id:
        raise TokenError(WRONG_ACCOUNT, f"account_id {claims['account_id']!r}")
    if not all(isinstance(claims[name], str) and claims[name] for name in ("ext_consumer_id", "lp_consumer_id")):
        raise TokenError(TokenError.MISSING_CLAIM, "ext_consumer_id and lp_consumer_id are strings")
    namespace.tokens.check(token, now)  # type: ignore[arg-type]
    return claims
