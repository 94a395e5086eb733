"""LivePerson's IDP: unauthenticated consumers (external JWTs, their refresh), brand-authenticated
consumers, and the LP consumer JWT."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from ...core.keys import KeySlot, TokenError
from ...core.store import Namespace
from .errors import InvalidCustomerJwt, LivePersonError
from .models import UNAUTH_MESSAGING, Account, Connector

IDP_ISSUER = "https://idp.liveperson.net"  # [C] iss of LP consumer JWTs
_KEYDATA = Path(__file__).parent / "keydata"
CONSUMER_JWT_SLOT = KeySlot("liveperson.consumer", "00001", _KEYDATA / "lp-consumer.pem")  # [C] kid 00001
# [?] kid, issuer and claims of the external unauth JWT are not public: an IDP-signed RS256 JWT is chosen
EXTERNAL_JWT_SLOT = KeySlot("liveperson.external", "idp-ext-00001", _KEYDATA / "lp-external.pem")
# [C] Sentinel's AppJWT and the IDP's ConsumerJWS both carry kid appjwt-13-05-17: one key signs both
APP_JWT_SLOT = KeySlot("liveperson.appjwt", "appjwt-13-05-17", _KEYDATA / "lp-appjwt.pem")
KEY_SLOTS = (CONSUMER_JWT_SLOT, EXTERNAL_JWT_SLOT, APP_JWT_SLOT)


# `client_id` (with `account`) selects an app installation's AppJWTs; not `app`, which is Sunshine's key
SELECTOR_KEYS = frozenset({"account", "consumer", "client_id", "user"})  # `user` (with `account`): a login user


def audience(account_id: str) -> str:
    return f"acc:{account_id}"


def token_subjects(account_id: str, consumer_id: str | None = None) -> list[str]:
    """The lifecycle subjects of a token: its account, and its consumer when it has one."""
    subjects = [f"liveperson:account:{account_id}"]
    return subjects + [f"liveperson:consumer:{consumer_id}"] if consumer_id else subjects


def user_token_subjects(account_id: str, username: str) -> list[str]:
    """The lifecycle subjects of a Login Service bearer: its account, and its user (usernames are unique per account only)."""
    return [f"liveperson:account:{account_id}", f"liveperson:user:{account_id}:{username}"]


def app_subject(account_id: str, client_id: str) -> str:
    """The lifecycle subject of an app installation's tokens (client ids are unique per account only)."""
    return f"liveperson:app:{account_id}:{client_id}"


def selector_subjects(selector: Mapping[str, str]) -> list[str]:
    """A control call's `{"account"[, "consumer"]}`, `{"consumer"}`, `{"account", "client_id"}` or
    `{"account", "user"}` as the narrowest subject it names."""
    if "consumer" in selector:
        return [f"liveperson:consumer:{selector['consumer']}"]
    if "client_id" in selector:
        if "account" not in selector:
            raise ValueError("name the account of the client_id")
        return [app_subject(selector["account"], selector["client_id"])]
    if "user" in selector:
        if "account" not in selector:
            raise ValueError("name the account of the user")
        return [user_token_subjects(selector["account"], selector["user"])[1]]
    if "account" in selector:
        return [f"liveperson:account:{selector['account']}"]
    raise ValueError("name an account or a consumer")


# [C] reference 5.5: the standard claims an agent is shown
PROFILE_CLAIMS = ("given_name", "family_name", "email", "gender", "preferred_username", "phone_number")


def authenticated_consumer_id(account_id: str, issuer: str, sub: str) -> str:
    """[I] the 64-hex consumer id of a brand's user: a digest of account, issuer and the brand's `sub`, the
    same at every login (and across restarts), different per account and per brand."""
    text = f"liveperson-authenticated:{account_id}:{issuer}:{sub}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def opaque_sdes(sdes: object) -> str:
    """[C] `lp.ext.lp_sdes` is an encrypted hex string; [I] the emulator's is a digest of the SDEs."""
    return hashlib.sha256(json.dumps(sdes, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def verify_lp_consumer_jwt(namespace: Namespace, account: Account, token: object) -> dict:
    """The claims of an LP consumer JWT of `account` (TokenError otherwise): our key (kid 00001), `aud`
    `acc:{account}`, `iss` the IDP, a string `sub`, unexpired on the namespace's clock, no lifecycle override."""
    now = namespace.clock.now()
    claims = namespace.keys.verify(
        CONSUMER_JWT_SLOT.name,
        token,
        now,
        audience=audience(account.id),
        issuer=IDP_ISSUER,
        required=("exp", "iat", "sub"),
    )
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise TokenError(TokenError.MISSING_CLAIM, "sub")
    namespace.tokens.check(token, now)  # type: ignore[arg-type]  # verify() accepted only a string
    return claims


class ConsumerIdentity:
    """The IDP's rules for one account, on the namespace's clock and keys. It holds the namespace's lock
    only while it changes the account: it signs and verifies outside it, so requests sign in parallel."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._lock = namespace.lock
        self._keys = namespace.keys
        self._tokens = namespace.tokens
        self._now = namespace.clock.now()
        self._account = account

    def issue_external_token(self) -> str:
        """`anonymous/authorize` without a body: a new anonymous consumer and its first external JWT."""
        self._require_unauth_messaging()
        consumer_id = str(uuid.uuid4())
        with self._lock:
            self._account.remember_consumer(consumer_id, "anonymous", self._now)
        return self._sign_external(consumer_id, first_issued=int(self._now))

    def refresh_external_token(self, id_token: object) -> str:
        """`anonymous/authorize` with `{"id_token"}`: a fresh external JWT for the same consumer.

        The token may have expired; it must be ours, for this account, and inside its refresh window,
        counted from the first token of the chain (carried as `auth_time`).
        """
        self._require_unauth_messaging()
        claims = self._verify_external(id_token, check_expiry=False)
        first_issued = claims.get("auth_time")
        if not isinstance(first_issued, int) or isinstance(first_issued, bool) or not 0 <= first_issued <= self._now:
            raise self._invalid("missing_claim: auth_time")
        if self._now >= first_issued + self._account.settings.ext_jwt_refresh_window:
            raise self._invalid("refresh_window_ended")
        with self._lock:
            self._account.remember_consumer(claims["sub"], "anonymous", self._now)
        return self._sign_external(claims["sub"], first_issued=first_issued)

    def exchange(self, connector_id: str, id_token: object) -> str:
        """`app/{connectorId}/authenticate?v=3.0`: an unexpired external JWT for the LP consumer JWT."""
        connector = self.connector(connector_id)
        self._require_unauth_messaging()
        if connector.type != "unauthenticated":
            # [I] an IDP-issued unauth token never verifies against a brand's key: the invalid-JWT answer
            raise self._invalid("authenticated_connector")
        claims = self._verify_external(id_token, check_expiry=True)
        return self._sign_consumer_jwt(claims["sub"], self._account.settings.consumer_jwt_ttl)

    def connector(self, connector_id: str) -> Connector:
        connector = self._account.connector(connector_id)
        if connector is None:
            raise LivePersonError(404, f"connector {connector_id} not found", "unknown_connector")
        return connector

    def legacy_connector(self) -> Connector:
        """Legacy `authenticate` names no connector: the account's first authenticated one. [I]"""
        connector = next((c for c in self._account.connectors if c.type == "authenticated"), None)
        if connector is None:
            raise LivePersonError(
                404, "the account has no authenticated connector", "no_authenticated_connector"
            )  # [I]
        return connector

    def remember_authenticated(self, brand_claims: dict) -> tuple[str, dict]:
        """A verified brand JWT (string `iss` and `sub`): its consumer, remembered with `ext` and `profile`
        (call it under the lock); (consumer id, `lp.ext` for `authenticated_jwt`)."""
        issuer, sub = brand_claims["iss"], brand_claims["sub"]
        consumer_id = authenticated_consumer_id(self._account.id, issuer, sub)
        ext = {"sub": sub, "iss": issuer}
        profile = {name: brand_claims[name] for name in PROFILE_CLAIMS if isinstance(brand_claims.get(name), str)}
        if brand_claims.get("lp_sdes") is not None:
            ext["lp_sdes"] = opaque_sdes(brand_claims["lp_sdes"])
            profile["lp_sdes"] = brand_claims["lp_sdes"]
        consumer = self._account.remember_consumer(consumer_id, "authenticated", self._now)
        consumer.ext = ext
        consumer.profile = profile  # [I] each login's claims replace the profile
        return consumer_id, ext

    def authenticated_jwt(self, consumer_id: str, ext: dict) -> str:
        """The LP JWT, with `lp.ext`, of a consumer `remember_authenticated` signed in (signed outside the lock)."""
        return self._sign_consumer_jwt(consumer_id, self._account.settings.consumer_jwt_ttl, ext)

    def signup(self) -> str:
        """Legacy `signup`: a new unauthenticated consumer and its LP JWT at once."""
        self._require_unauth_messaging()  # [?] chosen: signup is the unauthenticated flow's older form
        consumer_id = str(uuid.uuid4())
        with self._lock:
            self._account.remember_consumer(consumer_id, "signup", self._now)
        return self._sign_consumer_jwt(consumer_id, self._account.settings.signup_jwt_ttl)

    def _require_unauth_messaging(self) -> None:
        if not self._account.has_feature(UNAUTH_MESSAGING):
            # [?] status and message not public: 403 chosen
            raise LivePersonError(403, f"feature {UNAUTH_MESSAGING} is not enabled", "feature_disabled")

    def _sign_external(self, consumer_id: str, first_issued: int) -> str:
        iat = int(self._now)
        exp = iat + int(self._account.settings.ext_jwt_ttl)
        claims = {
            "iss": IDP_ISSUER,
            "aud": audience(self._account.id),
            "sub": consumer_id,
            "iat": iat,
            "exp": exp,
            "auth_time": first_issued,
            "jti": str(uuid.uuid4()),  # every token distinct, so expiring one never touches its successor
        }
        refresh_until = first_issued + self._account.settings.ext_jwt_refresh_window
        return self._issued(self._keys.sign(EXTERNAL_JWT_SLOT.name, claims), consumer_id, exp, refresh_until)

    def _sign_consumer_jwt(self, consumer_id: str, ttl: float, ext: dict | None = None) -> str:
        iat = int(self._now)
        exp = iat + int(ttl)
        claims: dict[str, object] = {
            "sub": consumer_id,
            "aud": audience(self._account.id),
            "iss": IDP_ISSUER,
            "exp": exp,
            "iat": iat,
        }
        if ext is not None:
            claims["lp.ext"] = ext  # [C] authenticated consumers
        return self._issued(self._keys.sign(CONSUMER_JWT_SLOT.name, claims), consumer_id, exp)

    def _issued(self, token: str, consumer_id: str, expires_at: int, refresh_until: float | None = None) -> str:
        self._tokens.issued(token, token_subjects(self._account.id, consumer_id), expires_at, refresh_until)
        return token

    def _verify_external(self, id_token: object, check_expiry: bool) -> dict:
        try:
            claims = self._keys.verify(
                EXTERNAL_JWT_SLOT.name,
                id_token,
                self._now,
                audience=audience(self._account.id),
                issuer=IDP_ISSUER,
                required=("exp", "iat", "sub"),
                check_expiry=check_expiry,
            )
            self._tokens.check(
                cast(str, id_token), self._now, allow_expired=not check_expiry
            )  # verify() accepted only a string
        except TokenError as exc:
            raise self._invalid(exc.reason) from None
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise self._invalid("missing_claim: sub")
        return claims

    def _invalid(self, reason: str) -> InvalidCustomerJwt:
        return InvalidCustomerJwt(self._account.settings.idp_error_status, reason)
