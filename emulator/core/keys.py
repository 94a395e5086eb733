"""Signing key rings: fixed RSA test keys with stable kids, rotation, and JWT sign/verify via PyJWT."""

from __future__ import annotations

import functools
import hmac
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import HMACAlgorithm

if TYPE_CHECKING:
    from jwt.types import Options

ALGORITHM = "RS256"
HMAC_ALGORITHM = "HS256"
# [I] longest token read: past any real one (Node's HTTP server refuses 16 KiB of headers); none is parsed past it
MAX_TOKEN_LENGTH = 16 * 1024


class _ShortSecretHMAC(HMACAlgorithm):
    """HS256 without PyJWT's key-length warning: providers hand out shorter secrets (Sunshine's are 24
    characters), and integrators sign with them as they are."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


HMAC_JWS = jwt.PyJWS(algorithms=[])  # HS256 only: what verifies with it never trusts a token's `alg`
HMAC_JWS.register_algorithm(HMAC_ALGORITHM, _ShortSecretHMAC(HMACAlgorithm.SHA256))


def sign_hs256(claims: dict, secret: str, headers: dict | None = None) -> str:
    """An HS256 JWT signed with a shared secret, as a provider's client would sign it."""
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return HMAC_JWS.encode(
        payload, secret.encode(), algorithm=HMAC_ALGORITHM, headers={"typ": "JWT", **(headers or {})}
    )


class TokenError(Exception):
    """A token failed verification; `reason` is one of the short codes below."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    MISSING_CLAIM = "missing_claim"
    REVOKED = "revoked"
    TOO_LARGE = "token_too_large"
    INJECTED = "injected_failure"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @functools.cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @classmethod
    def from_pem(cls, kid: str, pem: str | bytes, trusted: bool = False) -> SigningKey:
        """`trusted`: a key shipped with the emulator, loaded without the RSA consistency check (most of
        the start-up time otherwise)."""
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=trusted)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("signing keys are RSA")
        return cls(kid, key)

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass(frozen=True)
class KeySlot:
    """A named signing purpose (e.g. LivePerson's consumer JWT) and the fixed key it starts with."""

    name: str
    kid: str
    pem_path: Path

    def fixed_key(self) -> SigningKey:
        return _load_fixed_key(self.kid, self.pem_path)


@functools.cache
def _load_fixed_key(kid: str, pem_path: Path) -> SigningKey:
    """Each fixed key is parsed once per process: parsing a PEM per signature costs ~50x."""
    return SigningKey.from_pem(kid, pem_path.read_bytes(), trusted=True)


def _next_kid(kid: str, generation: int) -> str:
    if kid.isdigit():
        return str(int(kid) + generation).zfill(len(kid))
    return f"{kid}-{generation + 1}"


class KeyRing:
    """Per-namespace keys by slot; the newest key of a slot signs, every key still held verifies."""

    def __init__(self, slots: Iterable[KeySlot]) -> None:
        self._slots = {slot.name: slot for slot in slots}
        self._keys: dict[str, list[SigningKey]] = {name: [slot.fixed_key()] for name, slot in self._slots.items()}
        self._generations: dict[str, int] = {name: 0 for name in self._slots}
        self._retire_at: dict[str, float] = {}  # kid -> when a rotated-out key stops verifying

    def current(self, slot: str) -> SigningKey:
        return self._keys[slot][-1]

    def sign(self, slot: str, claims: dict, headers: dict | None = None) -> str:
        key = self.current(slot)
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, **(headers or {})})

    def verify(
        self,
        slot: str,
        token: object,
        now: float,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        required: Iterable[str] = ("exp", "iat"),
        check_expiry: bool = True,
    ) -> dict:
        """Claims of a token signed by a key of `slot`, checked against `now` (never the wall clock)."""
        header = unverified_header(token)
        key = next((k for k in self._keys[slot] if k.kid == header.get("kid")), None)
        if key is None or now >= self._retire_at.get(key.kid, now + 1):
            raise TokenError(TokenError.UNKNOWN_KEY, f"kid {header.get('kid')!r}")
        # unverified_header refused every token that is not a string
        claims = decode_rs256(cast(str, token), key.public_key, required, audience=audience, issuer=issuer)
        # [I] `nbf` is checked even where an expired token is welcome (LivePerson's refresh)
        check_time_claims(claims, now, expiry=check_expiry)
        return claims

    def slots(self) -> list[str]:
        return list(self._slots)

    def rotate(self, slot: str, retire_at: float | None = None) -> SigningKey:
        """Start signing `slot` with a new key; older keys keep verifying until `retire_at` (None: always)."""
        self._generations[slot] += 1
        key = SigningKey.generate(_next_kid(self._slots[slot].kid, self._generations[slot]))
        if retire_at is not None:
            for old in self._keys[slot]:
                self._retire_at[old.kid] = min(retire_at, self._retire_at.get(old.kid, retire_at))
        self._keys[slot] = [*self._keys[slot], key]
        return key

    def export(self) -> dict:
        """Fixed keys by kid only; rotated keys with their PEM, so they verify after a restart."""
        out = {}
        for name, keys in self._keys.items():
            fixed = self._slots[name].fixed_key()
            out[name] = {
                "generation": self._generations[name],
                "keys": [self._export_key(k, fixed) for k in keys],
            }
        return out

    def _export_key(self, key: SigningKey, fixed: SigningKey) -> dict:
        out: dict = {"kid": key.kid} if key is fixed else {"kid": key.kid, "pem": key.private_pem()}
        if key.kid in self._retire_at:
            out["retire_at"] = self._retire_at[key.kid]
        return out

    def restore(self, data: dict) -> None:
        for name, entry in data.items():
            if name not in self._slots:
                raise ValueError(f"unknown key slot {name!r}")
            fixed = self._slots[name].fixed_key()
            keys = [SigningKey.from_pem(k["kid"], k["pem"]) if "pem" in k else fixed for k in entry["keys"]]
            if not keys:
                raise ValueError(f"key slot {name!r} holds no key")
            generation = entry.get("generation", 0)
            if not isinstance(generation, int) or isinstance(generation, bool) or not 0 <= generation < 10**6:
                raise ValueError(f"key slot {name!r}: generation is a whole number")
            self._keys[name] = keys
            self._generations[name] = generation
            for k in entry["keys"]:
                if k.get("retire_at") is not None:
                    retire_at = k["retire_at"]
                    if (
                        not isinstance(retire_at, (int, float))
                        or isinstance(retire_at, bool)
                        or not math.isfinite(retire_at)
                    ):
                        raise ValueError(f"key {k['kid']!r}: retire_at is a time in seconds")
                    self._retire_at[k["kid"]] = float(retire_at)


def same_secret(given: str, expected: str) -> bool:
    """A constant-time comparison of two secrets (any text, lone surrogates included)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def unverified_header(token: object) -> dict:
    """The JOSE header of a compact JWT, before any verification (TokenError when it is not one): a
    non-empty ASCII string of at most MAX_TOKEN_LENGTH characters whose header PyJWT can read."""
    if not isinstance(token, str) or not token:
        raise TokenError(TokenError.MALFORMED, "not a token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(TokenError.TOO_LARGE, f"{len(token)} characters")
    if not token.isascii():  # a compact JWT is base64url and dots; PyJWT fails on lone surrogates
        raise TokenError(TokenError.MALFORMED, "a compact JWT is ASCII")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError(TokenError.MALFORMED, str(exc)) from None


def decode_rs256(
    token: str,
    public_key: rsa.RSAPublicKey,
    required: Iterable[str],
    *,
    audience: str | None = None,
    issuer: str | None = None,
) -> dict:
    """The claims of an RS256 token signed by `public_key` (TokenError otherwise). Time claims are not checked
    here: callers check them against the emulator's clock (`check_time_claims`)."""
    options: Options = {
        "verify_exp": False,
        "verify_iat": False,
        "verify_nbf": False,
        "verify_aud": audience is not None,
        "require": list(required),
    }
    try:
        return jwt.decode(token, public_key, algorithms=[ALGORITHM], audience=audience, issuer=issuer, options=options)
    except jwt.InvalidAudienceError as exc:
        raise TokenError(TokenError.WRONG_AUDIENCE, str(exc)) from None
    except jwt.InvalidIssuerError as exc:
        raise TokenError(TokenError.WRONG_ISSUER, str(exc)) from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(TokenError.MISSING_CLAIM, str(exc)) from None
    except jwt.InvalidSignatureError as exc:
        raise TokenError(TokenError.BAD_SIGNATURE, str(exc)) from None
    except jwt.PyJWTError as exc:
        raise TokenError(TokenError.MALFORMED, str(exc)) from None


def check_time_claims(claims: dict, now: float, *, expiry: bool = True) -> None:
    """Reject a token whose numeric `exp` has passed (unless `expiry` is off) or whose `nbf` lies ahead of `now`."""
    exp = claims.get("exp")
    if exp is not None:
        if not is_time(exp):
            raise TokenError(TokenError.MALFORMED, "exp is not a number")
        if expiry and now >= exp:
            raise TokenError(TokenError.EXPIRED, f"expired at {exp}")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not is_time(nbf):
            raise TokenError(TokenError.MALFORMED, "nbf is not a number")
        if now < nbf:
            raise TokenError(TokenError.NOT_YET_VALID, f"not before {nbf}")


def is_time(value: object) -> bool:
    """A NumericDate: a finite number (an `exp` of NaN or Infinity would never expire)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))  # a huge int is finite
