"""The emulator as a brand's OpenID Connect server, so that an authenticated-consumer test needs no brand
server: users log in at `authorize` for a code, the code is exchanged at `token` for an id_token signed with
the brand's RSA key, and `jwks` publishes that key. Reference: liveperson.md section 5.5 (the token call
LivePerson makes and the brand's answers); everything the reference does not show is the emulator's [I].
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets

import jwt
from jwt.algorithms import RSAAlgorithm

from ...core.keys import same_secret
from ...core.store import Namespace
from ...web import ProviderError
from .models import MAX_BRAND_CODES, Brand, BrandClient, BrandCode, brand_signing_key

DEFAULT_REDIRECT_URI = "https://liveperson.net"  # [C] LivePerson's default redirect_uri for the code flow
CODE_TTL = 60.0  # [I] an authorization code lives 60 s on the namespace's clock
AUTHORIZATION_CODE = "authorization_code"
# [C] the brand's token-endpoint errors LivePerson documents
INVALID_CODE = "invalid_code"
UNAUTHORIZED_CLIENT = "unauthorized_client"
JSON_PARSE_ERROR = "json_parse_error"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"  # [I] RFC 6749's name; not in LivePerson's list
ACCESS_DENIED = "access_denied"  # [I] authorize: unknown user or wrong password
INVALID_REQUEST = "invalid_request"  # [I] authorize: a missing field or a redirect_uri the client does not have


class BrandError(ProviderError):
    """A brand's OAuth refusal: `{"error": <code>}` (400 unless told otherwise)."""

    def __init__(self, error: str, reason: str | None = None, status: int = 400) -> None:
        super().__init__(status, error, reason or error)

    def body(self) -> dict:
        return {"error": self.message}


def sign_brand_jwt(brand: Brand, claims: dict) -> str:
    """An RS256 JWT signed with the brand's key, its kid in the header."""
    key = brand_signing_key(brand.private_key_pem or "")
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": brand.kid, "typ": "JWT"})


def jwks(brand: Brand) -> dict:
    """The brand's JWKS: its one public key."""
    jwk = RSAAlgorithm.to_jwk(brand_signing_key(brand.private_key_pem or "").public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": brand.kid, "use": "sig", "alg": "RS256"}]}


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """`Authorization: Basic base64(client_id:client_secret)` as (client_id, client_secret)."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: not ASCII, or not UTF-8 once decoded
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


class BrandServer:
    """One brand's authorization server, on the namespace's clock. Call it under the store lock."""

    def __init__(self, namespace: Namespace, brand: Brand) -> None:
        self._brand = brand
        self._now = namespace.clock.now()

    def authorize(self, form: dict) -> dict:
        """A user logs in (`sub`, `password` when the user has one) for `client_id`: `{"code", "redirect_uri"}`."""
        fields = {name: form.get(name) for name in ("sub", "password", "client_id", "redirect_uri")}
        if not all(isinstance(fields[name], str) and fields[name] for name in ("sub", "client_id")):
            raise BrandError(INVALID_REQUEST, "missing_field: sub and client_id are required")
        client = self._brand.client(fields["client_id"])
        if client is None:
            raise BrandError(UNAUTHORIZED_CLIENT, "unknown_client")
        redirect_uri = fields["redirect_uri"] or DEFAULT_REDIRECT_URI
        if not isinstance(redirect_uri, str) or (
            client.redirect_uris is not None and redirect_uri not in client.redirect_uris
        ):
            raise BrandError(INVALID_REQUEST, "redirect_uri_not_allowed")
        user = self._brand.user(fields["sub"])
        password = fields["password"]
        if user is None or (
            user.password is not None and not (isinstance(password, str) and same_secret(password, user.password))
        ):
            raise BrandError(ACCESS_DENIED, "unknown_user" if user is None else "wrong_password")
        code = BrandCode(
            code=secrets.token_urlsafe(24),
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            sub=user.sub,
            expires_at=self._now + CODE_TTL,
        )
        self._keep(code)
        return {"code": code.code, "redirect_uri": redirect_uri}

    def exchange(
        self,
        grant_type: object,
        code: object,
        redirect_uri: object,
        client_id: str,
        client_secret: str,
        spend: bool = True,
    ) -> dict:
        """The token endpoint: a code of this client, once, before it expires, for the user's id_token. With
        `spend` off the code stays until `spend(code)`: a caller that may still refuse spends it last."""
        client = self._client(client_id, client_secret)
        if grant_type != AUTHORIZATION_CODE:
            raise BrandError(UNSUPPORTED_GRANT_TYPE, f"grant_type {grant_type!r}")
        issued = self._brand.codes.get(code) if isinstance(code, str) else None
        if issued is None:
            raise BrandError(INVALID_CODE, "unknown_code")  # never issued, or already exchanged
        if self._now >= issued.expires_at:
            raise BrandError(INVALID_CODE, "code_expired")  # a refusal changes nothing: `_keep` prunes it later
        if issued.client_id != client.client_id:
            raise BrandError(INVALID_CODE, "code_of_another_client")
        if (redirect_uri or DEFAULT_REDIRECT_URI) != issued.redirect_uri:
            raise BrandError(INVALID_CODE, "redirect_uri_mismatch")  # [I] RFC 6749 4.1.3: must match
        if spend:
            self.spend(issued.code)
        return {
            "access_token": secrets.token_hex(32),
            "token_type": "Bearer",
            "id_token": self.id_token(issued.sub, client.client_id),
            "expires_in": int(self._brand.id_token_ttl),
        }

    def id_token(self, sub: str, audience: str) -> str:
        """The user's id_token for a client: `iss`, `sub`, `aud`, `iat`, `exp` and the user's claims."""
        user = self._brand.user(sub)
        iat = int(self._now)
        claims = {
            **(user.claims if user else {}),
            "iss": self._brand.issuer,
            "sub": sub,
            "aud": audience,
            "iat": iat,
            "exp": iat + int(self._brand.id_token_ttl),
        }
        return sign_brand_jwt(self._brand, claims)

    def _client(self, client_id: str, client_secret: str) -> BrandClient:
        client = self._brand.client(client_id)
        if client is None or not same_secret(client_secret, client.client_secret):
            raise BrandError(UNAUTHORIZED_CLIENT, "unknown_client" if client is None else "wrong_client_secret")
        return client

    def spend(self, code: str) -> None:
        """A code is single use."""
        self._brand.codes.pop(code, None)

    def _keep(self, code: BrandCode) -> None:
        codes = self._brand.codes
        for stale in [c.code for c in codes.values() if self._now >= c.expires_at]:
            del codes[stale]
        while len(codes) >= MAX_BRAND_CODES:
            del codes[next(iter(codes))]  # the oldest
        codes[code.code] = code


def parse_token_form(content_type: str, raw: bytes, form: dict) -> dict:
    """The token request's fields: a form, or a JSON object [I]; a JSON body that does not parse is the
    documented `json_parse_error`."""
    if content_type != "application/json":
        return form
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BrandError(JSON_PARSE_ERROR) from None
    if not isinstance(body, dict):
        raise BrandError(JSON_PARSE_ERROR, "body_not_object")
    return body
